package pki

// EncapsulatedContent is the content an attached CMS SignedData carries,
// without judging the signature (Verify does that). A detached CMS, or
// bytes that are no CMS, give a malformed error.
func EncapsulatedContent(der []byte) ([]byte, error) {
	p7, err := parseCMS(der)
	if err != nil {
		return nil, err
	}
	if len(p7.Content) == 0 {
		return nil, refuse(CodeMalformed, nil, "the CMS is detached: it carries no content")
	}
	return p7.Content, nil
}
