package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A job refers to a sensitive value; the worker gives the task the real value and scrubs it from
// the result it publishes.
func TestSecretsRevealedToTheTaskAndScrubbedFromTheResult(t *testing.T) {
	nc, js := setup(t)
	start(t, newWorker(t, nc, WithName("w1")))
	secrets, err := kvstore.OpenSecrets(t.Context(), js, nil)
	if err != nil {
		t.Fatal(err)
	}
	const value = `p@ss "w0rd" $(rm -rf /)`
	job := shellJob(1, `printf '%s' "$PASSWORD" > "$OUT"; echo "got $PASSWORD and $TOKEN"`)
	if err := secrets.Put(t.Context(), job.ID.RunID, map[string]any{"password": value, "token": 42}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "seen")
	job.Shell.Environment = map[string]string{
		"PASSWORD": protocol.SecretRef("password"), "TOKEN": "t-" + protocol.SecretRef("token"), "OUT": out,
	}
	publishJob(t, js, job)
	res := waitResult(t, js, job.ID)
	if !res.Success {
		t.Fatalf("job failed: %s", res.Msg)
	}
	seen, err := os.ReadFile(out)
	if err != nil || string(seen) != value {
		t.Fatalf("the task saw %q (%v), want the secret", seen, err)
	}
	data, _ := res.Data.(string)
	if strings.Contains(data, "w0rd") || strings.Contains(data, "42") || !strings.Contains(data, "got [redacted] and t-[redacted]") {
		t.Errorf("result data %q", data)
	}
}
