// Package evidence is an act's evidence package: a ZIP that lets anyone
// check the act offline. It holds the printable PDF, the canonical document
// the notary signed, every CMS signature of the act (application, consent,
// approval, notary), the act's hash-chained event log as JSON lines, a
// manifest with the SHA-256 of each file, and a README on checking each
// piece with openssl and with `senim verify`.
//
// Verify checks every part against the others and against a trust store,
// and reports pass or fail per item, so that any tampering is named.
package evidence

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/hashfile"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// Manifest describes the package.
type Manifest struct {
	Format    string            `json:"format"`
	ActID     string            `json:"act_id"`
	Code      string            `json:"document_code"`
	Place     string            `json:"place"`
	PublicURL string            `json:"public_url"`
	Files     map[string]string `json:"files"` // name -> sha256
	// DocumentFormat is the template version of the document. It, Place and
	// PublicURL are what the act recorded with its code to render it (for
	// an act coded before that, read back from the text the notary signed).
	DocumentFormat int `json:"document_format,omitempty"`
	// Recordings are the act's call recordings as its log names them: each
	// file with its SHA-256, size and duration (the files stay with the
	// server; check one with sha256sum).
	Recordings []act.Recording `json:"recordings,omitempty"`
}

// Files in the package.
const (
	FileManifest    = "manifest.json"
	FileReadme      = "README.txt"
	FileDocument    = "document.txt"
	FilePDF         = "document.pdf"
	FileEvents      = "events.jsonl"
	FileApplication = "signatures/application.cms"
	FileConsent     = "signatures/consent.cms"
	FileApproval    = "signatures/approval.cms"
	FileNotary      = "signatures/notary.cms"
)

// Build makes the package of a signed act from its stored records. Its
// document.txt is the text inside the notary's CMS, the exact bytes signed;
// the PDF renders with the inputs the act recorded. place and publicURL
// (today's configuration) serve only an act coded before inputs were
// recorded whose CMS does not carry the text. more are files added as they
// are (CheckpointFiles).
func Build(recs []eventlog.Record, place, publicURL string, more ...File) ([]byte, error) {
	st, err := replay(recs)
	if err != nil {
		return nil, err
	}
	if st.Phase != act.PhaseSigned && st.Phase != act.PhaseRevoked {
		return nil, fmt.Errorf("evidence: act %s is %s, not signed", st.ID, st.Phase)
	}
	in := document.InputsOf(&st, act.DocumentInputs{Place: place, PublicURL: publicURL})
	f := document.FactsOf(&st, in)
	text, err := pki.EncapsulatedContent(st.NotarySig.CMS)
	if err != nil { // a detached signature: the text as the log renders it
		if text, err = document.Canonical(f); err != nil {
			return nil, err
		}
	}
	pdf, err := document.PDF(f, document.SignatureOf(&st))
	if err != nil {
		return nil, err
	}
	var events bytes.Buffer
	for _, r := range recs {
		b, _ := json.Marshal(r)
		events.Write(append(b, '\n'))
	}
	files := map[string][]byte{
		FileDocument: text, FilePDF: pdf, FileEvents: events.Bytes(),
		FileApplication: st.Application.CMS, FileConsent: st.Consent.CMS, FileApproval: st.ApprovalSig.CMS, FileNotary: st.NotarySig.CMS,
		FileReadme: []byte(strings.ReplaceAll(readme, "{CODE}", st.DocumentCode)),
	}
	for _, f := range more {
		files[f.Name] = f.Data
		if f.Name == FileCheckpointCMS {
			files[FileReadme] = append(files[FileReadme], checkpointReadme...)
		}
	}
	m := Manifest{Format: "senim.evidence.v1", ActID: st.ID, Code: st.DocumentCode, Place: in.Place, PublicURL: in.PublicURL,
		DocumentFormat: in.Format, Files: map[string]string{},
		Recordings: st.Recordings}
	for name, b := range files {
		m.Files[name] = act.SHA256Hex(b)
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	files[FileManifest] = mb
	return zipFiles(files, st.SignedAt)
}

func replay(recs []eventlog.Record) (act.State, error) {
	var st act.State
	for _, r := range recs {
		e, err := act.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return act.State{}, fmt.Errorf("evidence: seq %d: %w", r.Seq, err)
		}
		st = act.Apply(st, e)
	}
	return st, nil
}

// Item is one check and its outcome.
type Item struct {
	Name string
	OK   bool
	Note string
}

// Verify checks a package against the trust store: every part, and that the
// parts agree. It never stops at the first failure: each item says its own.
func Verify(zipBytes []byte, ts *pki.TrustStore) ([]Item, error) {
	files, err := unzip(zipBytes)
	if err != nil {
		return nil, err
	}
	var items []Item
	add := func(name string, err error, okNote string) {
		if err != nil {
			items = append(items, Item{Name: name, Note: err.Error()})
			return
		}
		items = append(items, Item{Name: name, OK: true, Note: okNote})
	}
	var m Manifest
	err = json.Unmarshal(files[FileManifest], &m)
	if err == nil && m.Format != "senim.evidence.v1" {
		err = fmt.Errorf("unknown format %q", m.Format)
	}
	add("manifest", err, m.Format)
	for _, name := range []string{FileDocument, FilePDF, FileEvents, FileApplication, FileConsent, FileApproval, FileNotary} {
		var err error
		switch b, ok := files[name]; {
		case !ok:
			err = fmt.Errorf("missing")
		case m.Files[name] != act.SHA256Hex(b):
			err = fmt.Errorf("SHA-256 differs from the manifest")
		}
		add("file "+name, err, "matches the manifest")
	}

	// The log: a hash chain, and the act it replays to.
	recs, chainErr := readChain(files[FileEvents])
	add("event log hash chain", chainErr, fmt.Sprintf("%d events, head %s", len(recs), headOf(recs)))
	items = append(items, verifyCheckpoint(files, m, recs, ts))
	st, err := replay(recs)
	if err == nil && st.Phase != act.PhaseSigned && st.Phase != act.PhaseRevoked {
		err = fmt.Errorf("the log ends with the act %s, not signed", st.Phase)
	}
	add("event log replays to a signed act", err, fmt.Sprintf("%s (%s)", st.ID, st.Phase))
	if err != nil {
		return items, nil
	}

	// The recordings the manifest names are those of the log.
	want, _ := json.Marshal(st.Recordings)
	got, _ := json.Marshal(m.Recordings)
	err = nil
	if !bytes.Equal(want, got) {
		err = fmt.Errorf("the manifest's recordings differ from the log's")
	}
	nfiles := 0
	for _, r := range st.Recordings {
		nfiles += len(r.Files)
	}
	add("recordings named in the log", err, fmt.Sprintf("%d calls recorded, %d files", len(st.Recordings), nfiles))

	// The document: exactly the text the notary's CMS carries.
	err = nil
	note := "byte for byte"
	switch signed, cerr := pki.EncapsulatedContent(files[FileNotary]); {
	case cerr != nil:
		note = "detached signature: checked against the signature below"
	case !bytes.Equal(signed, files[FileDocument]):
		err = fmt.Errorf("document.txt is not the text inside signatures/notary.cms")
	}
	add("document is the text the notary signed", err, note)

	// The document: the approved revision, rendered with the inputs the log
	// recorded (the manifest's stand in only for acts that recorded none and
	// whose CMS does not carry the text); names the approval.
	facts := document.FactsOf(&st, act.DocumentInputs{Place: m.Place, PublicURL: m.PublicURL})
	text, err := document.Canonical(facts)
	if err == nil && !bytes.Equal(text, files[FileDocument]) {
		err = fmt.Errorf("document.txt is not the document the log renders")
	}
	add("document is the act's approved revision", err, fmt.Sprintf("revision %d, code %s", st.Approved, st.DocumentCode))
	err = nil
	approval := ""
	for _, r := range recs {
		if r.Type == (act.DraftApproved{}).EventType() {
			approval = r.Hash
		}
	}
	if approval == "" || !bytes.Contains(files[FileDocument], []byte(approval)) {
		err = fmt.Errorf("the document does not name the approval event's hash")
	}
	add("document seals the history up to the approval", err, approval)
	err = nil
	if pdf, perr := document.PDF(facts, document.SignatureOf(&st)); perr != nil || !bytes.Equal(pdf, files[FilePDF]) {
		err = fmt.Errorf("document.pdf is not the document the log renders")
	}
	add("printable PDF is the signed document", err, "re-rendered byte for byte")

	// Each signature: valid, by the right person, over the right bytes.
	sig := func(name, file string, want act.Signature, purpose pki.Purpose, content []byte) {
		v, err := ts.Verify(files[file], pki.VerifyOptions{Purpose: purpose, Content: content})
		switch {
		case err != nil:
		case v.IIN.String() != want.SignerIIN:
			err = fmt.Errorf("signed by %s, the log says %s", v.IIN, want.SignerIIN)
		case act.SHA256Hex(v.Content) != want.ContentSHA256:
			err = fmt.Errorf("signed content differs from what the log recorded")
		}
		add(name, err, "signed by "+want.SignerIIN+" "+want.SignerName)
	}
	sig("notary's signature over the document", FileNotary, *st.NotarySig, pki.PurposeSign, files[FileDocument])
	sig("client's approval of the revision", FileApproval, *st.ApprovalSig, pki.PurposeSign, act.DraftBytes(&st, st.Approved))
	sig("client's application", FileApplication, st.Application, pki.PurposeSign, nil)
	sig("attorney's consent", FileConsent, *st.Consent, pki.PurposeSign, act.ConsentBytes(&st))
	if st.Revocation != nil {
		// The revocation's CMS is in the log itself (events.jsonl).
		v, err := ts.Verify(st.Revocation.CMS, pki.VerifyOptions{Purpose: pki.PurposeSign, Content: act.RevocationBytes(&st)})
		if err == nil && v.IIN.String() != st.Principal.IIN {
			err = fmt.Errorf("revoked by %s, not the principal", v.IIN)
		}
		add("principal's revocation", err, "revoked "+st.RevokedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return items, nil
}

// readChain reads a package's events.jsonl: its records, and whether they
// are a whole hash chain from the stream's first event (nil records if a
// line is not a record).
func readChain(b []byte) ([]eventlog.Record, error) {
	var recs []eventlog.Record
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r eventlog.Record
		if err := json.Unmarshal(line, &r); err != nil {
			recs = nil
			break
		}
		recs = append(recs, r)
	}
	err := eventlog.VerifyRecords(recs)
	if err == nil && (len(recs) == 0 || recs[0].Seq != 1) {
		err = fmt.Errorf("the log does not start at seq 1")
	}
	return recs, err
}

func headOf(recs []eventlog.Record) string {
	if len(recs) == 0 {
		return "-"
	}
	return recs[len(recs)-1].Hash
}

// Passed reports whether every item passed.
func Passed(items []Item) bool {
	for _, i := range items {
		if !i.OK {
			return false
		}
	}
	return len(items) > 0
}

const readme = `Evidence package of notarial document {CODE}, made by Senim.

Files
  document.txt                the power of attorney as the notary signed it (UTF-8),
                              byte for byte the content of signatures/notary.cms
  document.pdf                the printable document, with its QR code and code
  signatures/notary.cms       the notary's EDS over document.txt (CMS, DER, content attached)
  signatures/approval.cms     the client's approval of the revision
  signatures/application.cms  the client's application
  signatures/consent.cms      the attorney's consent to personal-data processing
  events.jsonl                the act's event log, one JSON record per line, hash-chained
  manifest.json               the SHA-256 of every file, and of every file of
                              the call's recordings (kept by the server)

Check everything at once (the trust store comes from config.toml: NUC's
certificates in production, the development CA otherwise):

  senim verify this.zip

Check the call recordings (the server keeps them in data/recordings/ACT):
each file's SHA-256 and size against the log, and that the call's WebM
(call.webm, every party's audio and video in one file that any browser
plays) opens whole:

  senim verify --recordings data/recordings/ACT this.zip

Check a signature with OpenSSL (trust.pem is the server's /pki/trust.pem):

  openssl cms -verify -binary -inform DER -in signatures/notary.cms \
      -content document.txt -CAfile trust.pem -purpose any -out /dev/null

Check the hash chain by hand: each record's "hash" is
  hex(SHA-256(raw bytes of prev_hash || canonical bytes))
where the canonical bytes are the netstrings (len ":" bytes ",") of
"senim.event.v1", stream, seq, type, actor, at (UTC, RFC 3339 with
nanoseconds), command_id and payload, in that order; the first record's
prev_hash is 64 zeros. The document names the hash of the draft_approved
record, so the history up to the approval cannot change without breaking
the notary's signature.
`

func unzip(zipBytes []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		return nil, fmt.Errorf("evidence: not a ZIP: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("evidence: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("evidence: %s: %w", f.Name, err)
		}
		files[f.Name] = b
	}
	return files, nil
}

// VerifyRecordings checks the call recordings a package's manifest names
// against the files under dir (the server's recordings directory of the
// act: dir/<recording>/<file>), by SHA-256 and size, and that the call's
// WebM parses whole (CheckWebM). Verify checks that the manifest names what
// the log names.
func VerifyRecordings(zipBytes []byte, dir string) ([]Item, error) {
	files, err := unzip(zipBytes)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(files[FileManifest], &m); err != nil {
		return nil, fmt.Errorf("evidence: manifest: %w", err)
	}
	var items []Item
	for _, r := range m.Recordings {
		for _, f := range r.Files {
			name := "recording " + r.ID + "/" + f.File
			// The manifest is untrusted input: its names must stay in dir.
			path, err := safepath.Join(dir, r.ID, f.File)
			var sum string
			var size int64
			if err == nil {
				sum, size, err = hashfile.SHA256(path)
			}
			// The call's WebM must also open: it parses whole.
			var webmNote string
			var webmErr error
			if err == nil && f.Codec == WebMCodec {
				var w WebMSummary
				if w, webmErr = CheckWebM(path); webmErr == nil {
					webmNote = fmt.Sprintf("WebM of %d video and %d audio tracks, %d frames, %d ms", w.Video, w.Audio, w.Frames, w.DurationMS)
					if f.Cut {
						webmNote += " (cut short: finished after the server stopped mid-call)"
					}
				}
			}
			switch {
			case err != nil:
				items = append(items, Item{Name: name, Note: err.Error()})
			case sum != f.SHA256 || size != f.Bytes:
				note := "SHA-256 or size differs from the log: the file was changed or damaged"
				if webmErr != nil {
					note += "; and it does not open: " + webmErr.Error()
				}
				items = append(items, Item{Name: name, Note: note})
			case webmErr != nil:
				items = append(items, Item{Name: name, Note: "the hash is as logged, but the WebM does not open: " + webmErr.Error()})
			case webmNote != "":
				items = append(items, Item{Name: name, OK: true, Note: fmt.Sprintf("%s, sha256 %s…", webmNote, sum[:16])})
			default:
				items = append(items, Item{Name: name, OK: true, Note: fmt.Sprintf("%s %s, %d ms, sha256 %s…", f.Participant, f.Kind, f.DurationMS, sum[:16])})
			}
		}
	}
	return items, nil
}

// zipFiles writes a package: every file, in name order, stamped with
// modified, so the same contents always make the same bytes.
func zipFiles(files map[string][]byte, modified time.Time) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
