package pki

// ValidateKeyStorePassword applies NUC's rule for a new key-store password
// (seed 002): 6 to 32 characters, at least one latin letter a-z and one digit
// 0-9, and otherwise only A-Z and the characters @ # % & * ~ _ - .
// A password that breaks the rule is refused with CodeWeakPassword and a
// message that says which part failed.
func ValidateKeyStorePassword(p string) error {
	if n := len(p); n < 6 || n > 32 {
		return refuse(CodeWeakPassword, nil, "key-store password must be 6 to 32 characters long, got %d", len([]rune(p)))
	}
	var lower, digit bool
	for _, c := range p {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z':
		case c == '@', c == '#', c == '%', c == '&', c == '*', c == '~', c == '_', c == '-', c == '.':
		default:
			return refuse(CodeWeakPassword, nil, "key-store password may contain only a-z, 0-9, A-Z and @ # %% & * ~ _ - . (found %q)", c)
		}
	}
	if !lower {
		return refuse(CodeWeakPassword, nil, "key-store password must contain at least one latin letter a-z")
	}
	if !digit {
		return refuse(CodeWeakPassword, nil, "key-store password must contain at least one digit 0-9")
	}
	return nil
}
