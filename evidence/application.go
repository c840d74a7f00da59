package evidence

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/hashfile"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// An application's evidence package (remote EDS issuance, stream
// issuance/<id>): beside the act's, in its own format. It holds the
// application's hash-chained log, the certificates the CA issued (also in
// the log), the latest signed checkpoint that covers it, and a manifest
// naming every stored file of the application (uploads, certificate
// requests, the registration call's recordings) with its SHA-256, as the
// log records them; those files stay with the server.

// FormatApplication is the format of an application's package.
const FormatApplication = "senim.application.v1"

// ApplicationManifest describes an application's package.
type ApplicationManifest struct {
	Format        string            `json:"format"`
	ApplicationID string            `json:"application_id"`
	Phase         string            `json:"phase"`
	Status        string            `json:"status"`
	Files         map[string]string `json:"files"` // name -> sha256
	// Uploads are the application's uploads as its log names them (every
	// one, a replaced one too); Requests its certificate requests (the
	// DER files csr-<purpose>.der); Recordings its registration calls'.
	Uploads    []issuance.Upload       `json:"uploads,omitempty"`
	Requests   []issuance.CSR          `json:"requests,omitempty"`
	Recordings []issuance.CallRecorded `json:"recordings,omitempty"`
}

// The certificates' files in an application's package.
const certDir = "certificates/"

// BuildApplication makes the package of an application from its stored
// records (any phase: an unfinished, rejected or expired application has
// evidence too). more are files added as they are (CheckpointFiles).
func BuildApplication(recs []eventlog.Record, more ...File) ([]byte, error) {
	st, uploads, err := replayApplication(recs)
	if err != nil {
		return nil, err
	}
	var events bytes.Buffer
	for _, r := range recs {
		b, _ := json.Marshal(r)
		events.Write(append(b, '\n'))
	}
	files := map[string][]byte{FileEvents: events.Bytes(), FileReadme: []byte(strings.ReplaceAll(applicationReadme, "{ID}", st.ID))}
	for _, c := range st.Certificates {
		files[certName(c)] = c.DER
	}
	for _, f := range more {
		files[f.Name] = f.Data
		if f.Name == FileCheckpointCMS {
			files[FileReadme] = append(files[FileReadme], checkpointReadme...)
		}
	}
	m := ApplicationManifest{Format: FormatApplication, ApplicationID: st.ID, Phase: string(st.Phase), Status: string(st.Status()),
		Files: map[string]string{}, Uploads: uploads, Requests: st.CSRs, Recordings: st.Recordings}
	for name, b := range files {
		m.Files[name] = act.SHA256Hex(b)
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	files[FileManifest] = mb
	return zipFiles(files, st.LastEventAt)
}

func certName(c issuance.Certificate) string {
	return certDir + string(c.Purpose) + "-" + safeSerial(c.Serial) + ".der"
}

// safeSerial keeps a serial's hex digits only: it names a file.
func safeSerial(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.Len() > 64 {
		return "x"
	}
	return b.String()
}

// replayApplication folds recs into the application, and collects every
// upload the log records.
func replayApplication(recs []eventlog.Record) (issuance.State, []issuance.Upload, error) {
	var st issuance.State
	var uploads []issuance.Upload
	for _, r := range recs {
		e, err := issuance.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return issuance.State{}, nil, fmt.Errorf("evidence: seq %d: %w", r.Seq, err)
		}
		if u, ok := e.(issuance.UploadRecorded); ok {
			uploads = append(uploads, u.Upload)
		}
		st = issuance.Apply(st, e)
	}
	if st.ID == "" {
		return st, nil, fmt.Errorf("evidence: the log does not start an application")
	}
	if len(recs) > 0 && recs[0].Stream != "issuance/"+st.ID {
		return st, nil, fmt.Errorf("evidence: stream %s holds application %s", recs[0].Stream, st.ID)
	}
	return st, uploads, nil
}

// FormatOf is the format a package's manifest names ("" if none).
func FormatOf(zipBytes []byte) string {
	files, err := unzip(zipBytes)
	if err != nil {
		return ""
	}
	var m struct {
		Format string `json:"format"`
	}
	_ = json.Unmarshal(files[FileManifest], &m)
	return m.Format
}

// VerifyAny checks a package of either kind, by its manifest's format.
func VerifyAny(zipBytes []byte, ts *pki.TrustStore) ([]Item, error) {
	if FormatOf(zipBytes) == FormatApplication {
		return VerifyApplication(zipBytes, ts)
	}
	return Verify(zipBytes, ts)
}

// VerifyApplication checks an application's package: the files against
// the manifest, the log's hash chain and the checkpoint, that the log
// replays to the application the manifest describes (its uploads,
// requests and recordings), and the certificates against the log and the
// trust store. Each item says its own outcome.
func VerifyApplication(zipBytes []byte, ts *pki.TrustStore) ([]Item, error) {
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
	var m ApplicationManifest
	err = json.Unmarshal(files[FileManifest], &m)
	if err == nil && m.Format != FormatApplication {
		err = fmt.Errorf("unknown format %q", m.Format)
	}
	add("manifest", err, m.Format)
	// Every file the package holds is in the manifest, and matches it.
	names := map[string]bool{FileEvents: true}
	for n := range m.Files {
		names[n] = true
	}
	for n := range files {
		if n != FileManifest {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		var err error
		switch b, ok := files[name]; {
		case !ok:
			err = fmt.Errorf("missing")
		case m.Files[name] == "":
			err = fmt.Errorf("not in the manifest")
		case m.Files[name] != act.SHA256Hex(b):
			err = fmt.Errorf("SHA-256 differs from the manifest")
		}
		add("file "+name, err, "matches the manifest")
	}

	recs, chainErr := readChain(files[FileEvents])
	add("event log hash chain", chainErr, fmt.Sprintf("%d events, head %s", len(recs), headOf(recs)))
	items = append(items, verifyCheckpoint(files, Manifest{Files: m.Files}, recs, ts))
	st, uploads, err := replayApplication(recs)
	if err == nil && (st.ID != m.ApplicationID || string(st.Phase) != m.Phase || string(st.Status()) != m.Status) {
		err = fmt.Errorf("the log replays to application %s (%s), the manifest says %s (%s)", st.ID, st.Phase, m.ApplicationID, m.Phase)
	}
	add("event log replays to the application", err, fmt.Sprintf("%s (%s, status %s)", st.ID, st.Phase, st.Status()))
	if err != nil {
		return items, nil
	}
	same := func(a, b any) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return bytes.Equal(x, y)
	}
	err = nil
	if !same(uploads, m.Uploads) || !same(st.CSRs, m.Requests) || !same(st.Recordings, m.Recordings) {
		err = fmt.Errorf("the manifest's uploads, requests or recordings differ from the log's")
	}
	nfiles := 0
	for _, r := range st.Recordings {
		nfiles += len(r.Files)
	}
	add("stored files named in the log", err, fmt.Sprintf("%d uploads, %d requests, %d calls recorded (%d files)",
		len(uploads), len(st.CSRs), len(st.Recordings), nfiles))

	// The certificates: each as the log recorded it, for a key the
	// applicant asked for, issued by a CA the trust store knows.
	for _, c := range st.Certificates {
		name := "certificate " + string(c.Purpose) + " " + c.Serial
		der, ok := files[certName(c)]
		var err error
		var note string
		switch {
		case !ok:
			err = fmt.Errorf("%s is missing", certName(c))
		case !bytes.Equal(der, c.DER):
			err = fmt.Errorf("%s is not the certificate the log recorded", certName(c))
		default:
			err = checkCertificate(ts, &st, c)
			note = "in the log, for the key requested, issued by a trusted CA"
		}
		add(name, err, note)
	}
	return items, nil
}

// checkCertificate checks an issued certificate: it parses, certifies the
// key of the application's request for its purpose, and chains to the
// trust store.
func checkCertificate(ts *pki.TrustStore, st *issuance.State, c issuance.Certificate) error {
	cert, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return err
	}
	fp, err := pki.PublicKeyFingerprint(cert.PublicKey)
	if err != nil {
		return err
	}
	var want string
	for _, q := range st.CSRs {
		if q.Purpose == c.Purpose {
			want = q.Fingerprint
		}
	}
	if fp != want || fp != c.Fingerprint {
		return fmt.Errorf("certifies key %s…, the request was for %s…", short(fp), short(want))
	}
	if ts == nil {
		return fmt.Errorf("no trust store to check the issuer")
	}
	// At its own start: the package is checked later than it was issued.
	return ts.CheckCertificate(cert, nil, cert.NotBefore.Add(time.Minute))
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// VerifyApplicationFiles checks the stored files a package's manifest
// names against dir (the server's data/issuance/<application>): uploads
// dir/<name>, certificate requests dir/csr-<purpose>.der, recordings
// dir/calls/<recording>/<file>, by SHA-256 (and size where logged).
func VerifyApplicationFiles(zipBytes []byte, dir string) ([]Item, error) {
	files, err := unzip(zipBytes)
	if err != nil {
		return nil, err
	}
	var m ApplicationManifest
	if err := json.Unmarshal(files[FileManifest], &m); err != nil {
		return nil, fmt.Errorf("evidence: manifest: %w", err)
	}
	var items []Item
	check := func(name string, parts []string, sha string, size int64) {
		// The manifest is untrusted input: its names must stay in dir.
		path, err := safepath.Join(dir, parts...)
		var sum string
		var n int64
		if err == nil {
			sum, n, err = hashfile.SHA256(path)
		}
		switch {
		case err != nil:
			items = append(items, Item{Name: name, Note: err.Error()})
		case sum != sha || (size >= 0 && n != size):
			items = append(items, Item{Name: name, Note: "SHA-256 or size differs from the log: the file was changed or damaged"})
		default:
			items = append(items, Item{Name: name, OK: true, Note: fmt.Sprintf("%d bytes, sha256 %s…", n, sum[:16])})
		}
	}
	for _, u := range m.Uploads {
		check("upload "+u.Name, []string{u.Name}, u.SHA256, u.Size)
	}
	for _, q := range m.Requests {
		check("request "+string(q.Purpose), []string{"csr-" + string(q.Purpose) + ".der"}, q.SHA256, -1)
	}
	for _, r := range m.Recordings {
		for _, f := range r.Files {
			check("recording "+r.Recording+"/"+f.File, []string{"calls", r.Recording, f.File}, f.SHA256, f.Bytes)
		}
	}
	return items, nil
}

const applicationReadme = `Evidence package of the EDS application {ID}, made by Senim.

Files
  events.jsonl               the application's event log, one JSON record per line,
                             hash-chained (stream issuance/{ID})
  certificates/*.der         the certificates the CA issued, as the log records them
  manifest.json              the SHA-256 of every file here, and of every stored file
                             of the application (uploads, certificate requests, the
                             registration call's recordings), which the server keeps
                             in data/issuance/{ID}

Check everything at once (the trust store comes from config.toml):

  senim verify this.zip

Check the stored files too:

  senim verify --files data/issuance/{ID} this.zip

The hash chain is the same as an act's: each record's "hash" is
hex(SHA-256(raw bytes of prev_hash || canonical bytes)), the canonical bytes
being the netstrings of "senim.event.v1", stream, seq, type, actor, at,
command_id and payload; the first record's prev_hash is 64 zeros.
`
