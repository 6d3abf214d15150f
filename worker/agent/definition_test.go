package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDefinition(t *testing.T) {
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
			_, err := ParseDefinition("a.yaml", []byte(tc.yaml))
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

func TestArguments(t *testing.T) {
	d, err := ParseDefinition("t.yaml", []byte(`name: t
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

func TestLoadDefinitions_Refusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string // name → content; names ending in ! are executable
		wantErr string
	}{
		{"missing executable", map[string]string{"a.yaml": "name: a\nversion: 1\nactions: {go: {}}\n"}, "a.yaml: executable"},
		{"not executable", map[string]string{"a.yaml": "name: a\nversion: 1\nactions: {go: {}}\n", "a": "#!/bin/sh\n"}, "is not an executable file"},
		{"name mismatch", map[string]string{"a.yaml": "name: b\nversion: 1\nactions: {go: {}}\n"}, `name "b" does not match the file name "a"`},
		{"rpcutil is built in", map[string]string{"rpcutil.yaml": "name: rpcutil\nversion: 1\nactions: {go: {}}\n", "rpcutil!": "#!/bin/sh\n"}, "defined twice (or is built in)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				mode := 0o644
				if strings.HasSuffix(name, "!") {
					name, mode = strings.TrimSuffix(name, "!"), 0o755
				}
				writeFile(t, filepath.Join(dir, name), content, os.FileMode(mode))
			}
			if _, err := LoadDefinitions(dir); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
