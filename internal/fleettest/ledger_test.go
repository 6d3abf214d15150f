package fleettest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fleetbook/fleetbook/playbooks"
)

func TestLedgerPlaybookIsValid(t *testing.T) {
	pb, err := playbooks.Parse([]byte(LedgerPlaybook(3, `echo "$FLEETBOOK_STEP" >> "$LEDGER"`, "tries: 2")))
	if err != nil {
		t.Fatal(err)
	}
	tasks := pb.List(playbooks.ListTasks)
	if pb.Name != "ledger" || len(tasks) != 3 {
		t.Fatalf("playbook %s with %d tasks, want ledger with 3", pb.Name, len(tasks))
	}
	for i, task := range tasks {
		if task.Type != "shell" || task.Tries != 2 {
			t.Errorf("task %d: type %s tries %d, want shell tried 2 times", i, task.Type, task.Tries)
		}
	}
}

func TestLedgerLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	if lines := LedgerLines(t, path); lines != nil {
		t.Errorf("no ledger yet: got %q", lines)
	}
	if err := os.WriteFile(path, []byte("a 1 start\na 1 done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if lines := LedgerLines(t, path); !slices.Equal(lines, []string{"a 1 start", "a 1 done"}) {
		t.Errorf("got %q", lines)
	}
}
