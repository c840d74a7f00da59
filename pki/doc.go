// Package pki is Senim's electronic digital signature (EDS, ЭЦП) layer, built
// the way Kazakhstan's national certification authority (НУЦ РК) issues
// certificates.
//
// It knows the NUC certificate profile (serialNumber=IIN…, OU=BIN…, role OIDs
// in the extended key usage), reads and writes PKCS#12 key stores under the
// NUC key-store password rule, makes CMS SignedData signatures and verifies
// them against a trust store of roots, intermediates and CRLs.
//
// Every refusal is an *Error carrying one of the stable codes in errors.go,
// so that the gateway, the CLI and auditors report the same words.
//
// The development CA that stands in for NUC lives in pki/devca, and the
// NCALayer-protocol signer that stands in for the user's NCALayer lives in
// pki/ncalayer.
package pki
