package evidence

import (
	"encoding/json"
	"fmt"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// The checkpoint files: the latest signed checkpoint that covers the act,
// and the act's inclusion proof in it (docs/evidence.md).
const (
	FileCheckpointCMS   = "checkpoint.cms"
	FileCheckpointProof = "checkpoint.json"
)

// File is a file Build adds to a package besides those it renders.
type File struct {
	Name string
	Data []byte
}

// CheckpointFiles are the files that carry a checkpoint and the act's
// inclusion proof.
func CheckpointFiles(p checkpoint.InclusionProof, cms []byte) []File {
	b, _ := json.MarshalIndent(p, "", "  ")
	return []File{{Name: FileCheckpointCMS, Data: cms}, {Name: FileCheckpointProof, Data: append(b, '\n')}}
}

// verifyCheckpoint checks the package's checkpoint: its files match the
// manifest, the proof leads from the act's record at the checkpointed seq
// to the root, and the CMS signs that root (an organisation's certificate
// the trust store accepts). A package made before any checkpoint covered
// the act has none, and says so.
func verifyCheckpoint(files map[string][]byte, m Manifest, recs []eventlog.Record, ts *pki.TrustStore) Item {
	const name = "checkpoint signed by the server covers the log"
	cms, hasCMS := files[FileCheckpointCMS]
	pj, hasProof := files[FileCheckpointProof]
	_, listed := m.Files[FileCheckpointCMS]
	switch {
	case !hasCMS && !hasProof && !listed:
		return Item{Name: name, OK: true, Note: "none: no checkpoint covered the act when the package was made"}
	case !hasCMS || !hasProof:
		return Item{Name: name, Note: "checkpoint.cms or checkpoint.json is missing"}
	case m.Files[FileCheckpointCMS] != act.SHA256Hex(cms) || m.Files[FileCheckpointProof] != act.SHA256Hex(pj):
		return Item{Name: name, Note: "checkpoint.cms or checkpoint.json differs from the manifest"}
	}
	var p checkpoint.InclusionProof
	if err := json.Unmarshal(pj, &p); err != nil {
		return Item{Name: name, Note: "checkpoint.json: " + err.Error()}
	}
	if len(recs) > 0 && p.Stream != recs[0].Stream {
		return Item{Name: name, Note: fmt.Sprintf("the checkpoint covers %s, not this act", p.Stream)}
	}
	st, v, err := checkpoint.VerifyProof(p, recs, cms, ts, checkpoint.VerifyOptions{})
	if err != nil {
		return Item{Name: name, Note: err.Error()}
	}
	return Item{Name: name, OK: true, Note: fmt.Sprintf("checkpoint %d of %s covers seq %d; signed by %s (BIN %s)",
		st.Number, st.At.UTC().Format("2006-01-02 15:04 UTC"), p.Seq, v.Organization, v.BIN)}
}

const checkpointReadme = `
Checkpoint (anchoring the log's history; see docs/evidence.md in Senim)
  checkpoint.cms    the server's signed checkpoint: a Merkle root over every
                    stream's head, signed by the organisation (CMS, DER, attached)
  checkpoint.json   the act's leaf (stream, seq, hash), its audit path and the root

  openssl cms -verify -binary -inform DER -in checkpoint.cms \
      -CAfile trust.pem -purpose any -out statement.json
  (statement.json's "root" must be checkpoint.json's "root"; senim verify
  recomputes the leaf from events.jsonl and the root from the path)
`
