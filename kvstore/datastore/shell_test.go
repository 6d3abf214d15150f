package datastore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

// shellHelper is a shell data store program keeping one file per key in $STORE_DIR, after
// Choria's shell_data.rb (playbooks/testdata/compat/spec-shell_data.rb): it checks the argv and
// CHORIA_DATA_* agree.
const shellHelper = `#!/bin/sh
set -eu
action="${1#--}"; key="$2"
[ "$action" = "$CHORIA_DATA_ACTION" ] || { echo "argv/env action mismatch" >&2; exit 3; }
[ "$key" = "$CHORIA_DATA_KEY" ] || { echo "argv/env key mismatch" >&2; exit 3; }
[ "$key" = force_fail ] && { echo "forced failure simulation" >&2; exit 1; }
case "$action" in
read) [ -f "$STORE_DIR/$key" ] || { echo "no value" >&2; exit 1; }; cat "$STORE_DIR/$key" ;;
write) printf '%s\n' "$CHORIA_DATA_VALUE" > "$STORE_DIR/$key"; echo "$CHORIA_DATA_VALUE" ;;
delete) rm -f "$STORE_DIR/$key"; echo "$key" ;;
slow) ;;
esac
[ "$key" = sleepy ] && sleep 30
exit 0
`

func shellStoreFor(t *testing.T, props map[string]any) (Store, string) {
	t.Helper()
	dir := t.TempDir()
	cmd := filepath.Join(dir, "store.sh")
	if err := os.WriteFile(cmd, []byte(shellHelper), 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"command": cmd, "environment": map[string]any{"STORE_DIR": data}}
	for k, v := range props {
		p[k] = v
	}
	st, err := Open(t.Context(), nil, protocol.StoreSpec{Name: "pb_shell", Type: "shell", Properties: p}, "r")
	if err != nil {
		t.Fatal(err)
	}
	return st, data
}

func TestShellStoreProtocol(t *testing.T) {
	st, data := shellStoreFor(t, nil)
	ctx := t.Context()
	// The value reaches the program as data, never as shell code.
	value := `$(touch pwned); "quoted" 'x'`
	if err := st.Put(ctx, "db_password", value); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, "db_password"); err != nil || v != value {
		t.Fatalf("read %#v, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(data, "pwned")); err == nil {
		t.Fatal("the value was run as shell code")
	}
	if err := st.Delete(ctx, "db_password"); err != nil {
		t.Fatal(err)
	}
	_, err := st.Get(ctx, "db_password")
	if err == nil || !strings.Contains(err.Error(), "exited with exit status 1") || !strings.Contains(err.Error(), "no value") {
		t.Fatalf("read after delete: %v", err)
	}
	if err := st.Put(ctx, "force_fail", "x"); err == nil || !strings.Contains(err.Error(), "forced failure simulation") {
		t.Fatalf("failing program: %v", err)
	}
	if _, err := st.Get(ctx, "a;rm -rf /"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("key with shell characters: %v", err)
	}
}

func TestShellStoreTimeout(t *testing.T) {
	st, _ := shellStoreFor(t, map[string]any{"timeout": "300ms"})
	err := st.Delete(t.Context(), "sleepy")
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("got %v", err)
	}
}
