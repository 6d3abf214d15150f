package playbooks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseAgentDefinition(t *testing.T) {
	for _, tc := range []struct{ name, yaml, wantErr string }{
		{"ok", "name: a\nversion: 1.0.0\nactions:\n  go:\n    inputs:\n      n: {type: integer, default: '3'}\n", ""},
		{"bad name", "name: A-b\nversion: 1\nactions: {go: {}}\n", `name "A-b"`},
		{"no version", "name: a\nactions: {go: {}}\n", "version is required"},
		{"no actions", "name: a\nversion: 1\n", "at least one action"},
		{"bad type", "name: a\nversion: 1\nactions: {go: {inputs: {x: {type: blob}}}}\n", `actions.go.inputs.x: type "blob"`},
		{"bad regex", "name: a\nversion: 1\nactions: {go: {inputs: {x: {type: string, validation: '('}}}}\n", "actions.go.inputs.x: validation"},
		{"bad default", "name: a\nversion: 1\nactions: {go: {inputs: {x: {type: integer, default: many}}}}\n", "actions.go.inputs.x: default"},
		{"unknown key", "name: a\nversion: 1\nimplementation: x\nactions: {go: {}}\n", "field implementation not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAgentDefinition("a.yaml", []byte(tc.yaml))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "a.yaml") {
				t.Fatalf("err = %v, want one naming a.yaml and containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAgentArguments(t *testing.T) {
	d, err := ParseAgentDefinition("t.yaml", []byte(`name: t
version: 1.0.0
actions:
  act:
    inputs:
      name: {type: string, required: true, validation: '^[a-z]+$'}
      count: {type: integer, default: 1}
      ratio: {type: number}
      force: {type: boolean}
      cmd: {type: string, validation: shellsafe}
      tags: {type: list}
`))
	if err != nil {
		t.Fatal(err)
	}
	act := d.Actions["act"]
	for _, tc := range []struct {
		name    string
		in      map[string]any
		want    map[string]any
		wantErr string
	}{
		{"defaults", map[string]any{"name": "x"}, map[string]any{"name": "x", "count": int64(1)}, ""},
		{"coerced strings", map[string]any{"name": "x", "count": "7", "ratio": "0.5", "force": "true"},
			map[string]any{"name": "x", "count": int64(7), "ratio": 0.5, "force": true}, ""},
		{"json numbers", map[string]any{"name": "x", "count": float64(2)}, map[string]any{"name": "x", "count": int64(2)}, ""},
		{"symbol keys", map[string]any{":name": "x"}, map[string]any{"name": "x", "count": int64(1)}, ""},
		{"symbol and plain", map[string]any{":name": "x", "name": "y"}, nil, `input "name" is given twice`},
		{"missing required", map[string]any{}, nil, `input "name" is required`},
		{"fraction for integer", map[string]any{"name": "x", "count": 1.5}, nil, `input "count": 1.5 is not a valid integer`},
		{"validation", map[string]any{"name": "X1"}, nil, `input "name": "X1" does not match ^[a-z]+$`},
		{"shellsafe", map[string]any{"name": "x", "cmd": "a; b"}, nil, `input "cmd": "a; b" is not shellsafe`},
		{"list type", map[string]any{"name": "x", "tags": "a"}, nil, `input "tags": "a" is not a valid list`},
		{"unknown and missing together", map[string]any{"nmae": "x"}, nil, `unknown input "nmae"; input "name" is required`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := act.Arguments(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}

// A definition survives publication: the JSON a node puts in the agents bucket decodes into a
// definition that checks arguments the same way (validations compiled again, defaults coerced).
func TestDecodeAgentDefinition_RoundTrip(t *testing.T) {
	d, err := ParseAgentDefinition("t.yaml", []byte("name: t\nversion: 1.0.0\nexecutable: bin/t\nactions:\n  act:\n    inputs:\n      name: {type: String, required: true, validation: '^[a-z]+$'}\n      n: {type: integer, default: '2'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "bin/t") {
		t.Errorf("the executable path is published: %s", data)
	}
	back, err := DecodeAgentDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	act := back.Actions["act"]
	if _, err := act.Arguments(map[string]any{"name": "X"}); err == nil || !strings.Contains(err.Error(), `input "name": "X" does not match`) {
		t.Errorf("validation after decoding: err = %v", err)
	}
	got, err := act.Arguments(map[string]any{"name": "x"})
	if err != nil || got["n"] != int64(2) {
		t.Errorf("defaults after decoding: %v, %v", got, err)
	}
	if _, err := DecodeAgentDefinition([]byte(`{"name":"t","version":"1","actions":{"a":{"inputs":{"x":{"type":"blob"}}}}}`)); !errors.Is(err, ErrAgentDefinition) {
		t.Errorf("bad published definition: err = %v, want ErrAgentDefinition", err)
	}
}
