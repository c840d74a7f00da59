// Package iin parses and validates Kazakhstan's 12-digit identification
// numbers: the IIN (ИИН / ЖСН) of a person and the BIN (БИН / БСН) of a legal
// entity or joint business.
//
// In Senim, the remote-notarisation server, every party is named by these
// numbers. A signer's IIN is read from the subject of their NUC certificate
// (serialNumber=IIN…), a legal entity's BIN from OU=BIN…, and a power of
// attorney names its attorney by IIN. Every such number passes through
// [ParseIIN] or [ParseBIN] before it reaches an act, so the rest of the
// system only ever holds validated [IIN] and [BIN] values.
//
// # Layout
//
// An IIN is YYMMDD (birth date), a century-and-sex digit 1-6 (1/2 male/female
// born in the 1800s, 3/4 in the 1900s, 5/6 in the 2000s), four serial digits
// and a check digit. A BIN is YYMM (registration year and month), an entity
// type digit (4 resident legal entity, 5 non-resident legal entity, 6 joint
// business of individual entrepreneurs, ИП(С)), an attribute digit (0 head
// unit, 1 branch, 2 representative office, 3 peasant farm, 4 other), five
// serial digits and a check digit. Both use the check digit of [CheckDigit].
//
// # Refusals
//
// A refused number is reported as an [*Error] whose Code is the stable code
// shown to users, "bad_iin" ([CodeBadIIN]) or "bad_bin" ([CodeBadBIN]) —
// "bad_iin_checksum" ([CodeBadIINChecksum]) or "bad_bin_checksum"
// ([CodeBadBINChecksum]) when twelve digits fail the check digit —, and
// whose Reason is one of the sentinel errors ([ErrLength], [ErrNotDigits],
// [ErrCheckDigit], [ErrCenturySex], [ErrBirthDate], [ErrRegistrationDate],
// [ErrEntityType]), so that errors.Is tells why. Checks run in that order
// and the first failure is reported: the shape, then the check digit (which
// catches most typing mistakes), then the meaning of the fields.
//
// Input is never trimmed or normalised: exactly 12 ASCII digits are
// accepted, and other Unicode digits are refused.
//
// Numbers are personal data; show them publicly only through Masked.
package iin
