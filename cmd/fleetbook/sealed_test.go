package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// TestSealedBucketRenderedAtRunTime: a data store whose bucket is rendered at run time (from an
// input read from a data store, so validation cannot know it) into fleetbook_secrets fails its
// step in the worker, naming the bucket, and nothing of the secrets bucket reaches the report or
// the events. The same bucket rendered from a given input is refused at submit.
func TestSealedBucketRenderedAtRunTime(t *testing.T) {
	s := newStack(t)
	_, js := natstest.Connect(t, s.url)
	ctx := context.Background()
	canary := fmt.Sprintf("canary-%d", time.Now().UnixNano())
	put := func(bucket, key, value string) error {
		kv, err := js.KeyValue(ctx, bucket) // provisioned by the services as they start
		if err == nil {
			_, err = kv.Put(ctx, key, []byte(value))
		}
		return err
	}
	natstest.Eventually(t, 60*time.Second, func() error { return put(protocol.SecretsBucket, "victim", `"`+canary+`"`) })
	natstest.Eventually(t, 60*time.Second, func() error { return put(protocol.DataBucket, "suffix", `"secrets"`) })
	doc := stackHeader + "data_stores:\n  plain: {type: kv}\n  s: {type: kv, bucket: \"fleetbook_{{ inputs.suffix }}\"}\n" +
		"inputs:\n  suffix: {type: String, data: plain/suffix}\n" +
		"tasks:\n  - data: {action: read, key: s/victim}\n  - log: {message: \"read {{{ previous_task.data }}}\"}\n"

	r := s.run(doc, nil)
	if r.Status != protocol.StatusFailed || len(r.Tasks) == 0 {
		t.Fatalf("run %s: %+v", r.Status, r.Tasks)
	}
	if msg := r.Tasks[0].Msg; !strings.Contains(msg, "reserved bucket") || !strings.Contains(msg, protocol.SecretsBucket) {
		t.Errorf("step message %q does not name the refused bucket", msg)
	}
	report, _ := json.Marshal(r)
	if strings.Contains(string(report), canary) {
		t.Errorf("the report holds the secret: %s", report)
	}
	var events strings.Builder
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := s.client.Follow(fctx, r.ID, time.Second, func(e protocol.Event) {
		b, _ := json.Marshal(e)
		events.Write(b)
	}); err != nil {
		t.Fatal(err)
	}
	if events.Len() == 0 || strings.Contains(events.String(), canary) {
		t.Errorf("events (%d bytes) hold the secret or are missing", events.Len())
	}

	given := stackHeader + "data_stores:\n  s: {type: kv, bucket: \"fleetbook_{{ inputs.suffix }}\"}\n" +
		"inputs:\n  suffix: {type: String}\ntasks:\n  - data: {action: read, key: s/victim}\n"
	_, err := s.client.Submit(fctx, protocol.SubmitRequest{Playbook: given, Inputs: map[string]any{"suffix": "secrets"}, IdempotencyKey: "given-" + canary})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || !apiErr.Refused() || !strings.Contains(apiErr.Error(), "data_stores.s.bucket") {
		t.Fatalf("submit with a given input rendering to %s: %v", protocol.SecretsBucket, err)
	}
}

// TestChildPlaybookFilesStayInside: `validate` and `run` refuse (exit 2, naming the task's field)
// a child playbook outside the playbook's directory, by "..", by an absolute path or through a
// symbolic link, and a child file that is no playbook; no output quotes the file's content. A
// child inside, even through a link, is fine.
func TestChildPlaybookFilesStayInside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := filepath.Join(dir, "book")
	if err := os.MkdirAll(filepath.Join(book, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	canary := "canary-password-1f0c"
	outside := writeFile(t, dir, "outside.yaml", stackHeader+"tasks:\n  - log: {message: "+canary+"}\n")
	writeFile(t, book, "notes.txt", "root:x:0:0:"+canary+":/root:/bin/bash\n")
	writeFile(t, filepath.Join(book, "sub"), "child.yaml", stackHeader+"tasks:\n  - log: {message: child}\n")
	writeFile(t, filepath.Join(book, "sub"), "nested.yaml", stackHeader+"tasks:\n  - playbook: {file: escape.yaml}\n")
	for link, target := range map[string]string{"escape.yaml": outside, "sub/escape.yaml": outside, "inside.yaml": filepath.Join(book, "sub", "child.yaml")} {
		if err := os.Symlink(target, filepath.Join(book, link)); err != nil {
			t.Fatal(err)
		}
	}
	parent := func(name, file string) string {
		return writeFile(t, book, name+".yaml", stackHeader+"tasks:\n  - playbook: {file: "+file+"}\n")
	}
	for _, tc := range []struct{ name, file, want string }{
		{"traversal", "../outside.yaml", "leaves the playbook's directory"},
		{"absolute", outside, "is absolute"},
		{"symlink", "escape.yaml", "resolves outside the playbook's directory"},
		{"nested-symlink", "sub/nested.yaml", `in child playbook "sub/nested.yaml"`},
		{"not-a-playbook", "notes.txt", `playbook "notes.txt" is not a valid playbook`},
	} {
		p := parent(tc.name, tc.file)
		for _, args := range [][]string{{"validate", p}, {"run", p, "--embedded", "--data-dir", filepath.Join(dir, "state")}} {
			r := cli(t, dir, args...)
			out := r.stdout + r.stderr
			if r.code != exitRefused || !strings.Contains(out, "tasks[0].playbook.file") || !strings.Contains(out, tc.want) {
				t.Errorf("%s: %s: exit %d, want 2 naming the field and %q:\n%s", tc.name, args[0], r.code, tc.want, out)
			}
			if strings.Contains(out, canary) {
				t.Errorf("%s: %s: the output quotes the file:\n%s", tc.name, args[0], out)
			}
		}
	}
	for _, file := range []string{"sub/child.yaml", "inside.yaml"} {
		if r := cli(t, dir, "validate", parent("ok", file)); r.code != exitOK {
			t.Errorf("child %s: exit %d: %s", file, r.code, r.stderr)
		}
	}
}

// TestOversizeInputRefused: a 3 MB input value is refused by validate and by run with exit 2,
// naming the input and the limit, before any server is reached (it used to end in exit 3,
// "maximum payload exceeded").
func TestOversizeInputRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeFile(t, dir, "book.yaml", stackHeader+"inputs:\n  blob: {type: String}\ntasks:\n  - log: {message: x}\n")
	inputs := writeFile(t, dir, "inputs.json", `{"blob": "`+strings.Repeat("x", 3<<20)+`"}`)
	for _, args := range [][]string{{"validate", book, "--inputs", inputs}, {"run", book, "--inputs", inputs, "--embedded", "--data-dir", filepath.Join(dir, "state")}} {
		r := cli(t, dir, args...)
		want := fmt.Sprintf("inputs.blob: the value is %d bytes, more than the limit of %d bytes", 3<<20+2, playbooks.MaxInputsBytes)
		if r.code != exitRefused || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "xxxx") {
			t.Errorf("%s: exit %d, want 2 and %q:\n%.2000s", args[0], r.code, want, r.stderr)
		}
	}
}

// TestNegativeRunTimeoutFlag: `run --timeout -5s` is refused (exit 2) naming the flag.
func TestNegativeRunTimeoutFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeFile(t, dir, "book.yaml", stackHeader+"tasks:\n  - log: {message: x}\n")
	r := cli(t, dir, "run", book, "--timeout", "-5s", "--embedded", "--data-dir", filepath.Join(dir, "state"))
	if r.code != exitRefused || !strings.Contains(r.stderr, "--timeout must not be negative") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}
