package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
