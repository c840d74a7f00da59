package protocol

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaJSON is schema.json: the JSON Schema of every message. The server
// serves it at /protocol/schema.json.
//
//go:embed schema.json
var SchemaJSON []byte

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// Validate checks one message against the schema.
func Validate(msg []byte) error {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("senim.v1.schema.json", doc); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = c.Compile("senim.v1.schema.json")
	})
	if schemaErr != nil {
		return fmt.Errorf("protocol: schema: %w", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return fmt.Errorf("protocol: not JSON: %w", err)
	}
	if err := schema.Validate(inst); err != nil {
		return fmt.Errorf("protocol: %s does not fit the schema: %w", typeOf(msg), err)
	}
	return nil
}

func typeOf(msg []byte) string {
	var e struct{ Type string }
	_ = json.Unmarshal(msg, &e)
	return fmt.Sprintf("%q message", e.Type)
}
