// Package iin parses and validates Kazakhstan's 12-digit identification
// numbers: the IIN (ИИН / ЖСН) of a person and the BIN (БИН / БСН) of a legal
// entity.
//
// In Senim every party is named by these numbers: a signer's IIN is read from
// the certificate subject (serialNumber=IIN…), a legal entity's BIN from
// OU=BIN…, and a power of attorney names its attorney by IIN. A number that
// fails its check digit is refused before it reaches an act, with the stable
// code "bad_iin" or "bad_bin".
package iin
