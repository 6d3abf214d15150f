package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// consoleLogin runs `console login ARGS` in this process (the command is wired under `console`
// by console.go), with no nats context or NATS_* variable of the machine's in the way.
func consoleLogin(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, v := range []string{"NATS_CONTEXT", "NATS_URL", "NATS_CREDS", "NATS_NKEY", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN"} {
		t.Setenv(v, "")
	}
	cmd := consoleLoginCommand()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // as under the root command
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// `console login` prints the sign-in URL, its grant in the fragment, and the grant: signed by the
// caller's key (the operator credentials of --data-dir, or --nkey), valid for --lifetime.
func TestConsoleLoginPrintsASignInURL(t *testing.T) {
	dataDir := t.TempDir()
	setup, _, err := auth.Init(filepath.Join(dataDir, authDir))
	if err != nil {
		t.Fatal(err)
	}
	opKey, err := auth.UserKey(setup.CredsPath(auth.RoleOperator))
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := opKey.PublicKey()

	before := time.Now()
	stdout, stderr, err := consoleLogin(t, "--data-dir", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	grant, ok := strings.CutPrefix(lines[0], "http://127.0.0.1:8080/signin#grant=")
	if !ok || len(lines) != 3 || lines[2] != "grant: "+grant {
		t.Fatalf("output:\n%s", stdout)
	}
	g, err := coordinator.VerifySessionGrant(grant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if g.Key != opPub || g.ExpiresAt.Sub(g.IssuedAt) != 12*time.Hour || g.IssuedAt.Before(before.Add(-time.Second)) {
		t.Errorf("grant %+v, want the operator's key %s for 12h from now", g, opPub)
	}
	if !strings.Contains(stderr, opPub) || !strings.Contains(stderr, "acts as you") {
		t.Errorf("stderr does not say whose grant it is and what holding it means:\n%s", stderr)
	}

	// --nkey signs instead, --url and --lifetime are the caller's, --json prints one document.
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	seedFile := filepath.Join(t.TempDir(), "me.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = consoleLogin(t, "--data-dir", dataDir, "--nkey", seedFile, "--lifetime", "30m", "--url", "https://console.example.net/", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var doc signIn
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if doc.URL != "https://console.example.net/signin#grant="+doc.Grant || doc.Key != pub {
		t.Errorf("--json: %+v", doc)
	}
	if g, err := coordinator.VerifySessionGrant(doc.Grant, time.Now()); err != nil || g.Key != pub || !g.ExpiresAt.Equal(doc.ExpiresAt) || g.ExpiresAt.Sub(g.IssuedAt) != 30*time.Minute {
		t.Errorf("--json grant %+v (%v), want %s's for 30m until %s", g, err, pub, doc.ExpiresAt)
	}
}

// Bad flags are refused (exit 2) naming the flag, before any grant is made; so is a caller with no
// key to sign with.
func TestConsoleLoginRefusals(t *testing.T) {
	dataDir := t.TempDir()
	if _, _, err := auth.Init(filepath.Join(dataDir, authDir)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data-dir", dataDir, "--lifetime", "25h"}, "--lifetime"},
		{[]string{"--data-dir", dataDir, "--lifetime", "0s"}, "--lifetime"},
		{[]string{"--data-dir", dataDir, "--url", "ftp://console.example.net"}, "--url"},
		{[]string{"--data-dir", dataDir, "--url", "http://console.example.net/#x"}, "--url"},
		{[]string{"--data-dir", dataDir, "--url", "http:///signin"}, "--url"},
		{[]string{"--data-dir", t.TempDir()}, "no identity key"},
		{[]string{"--data-dir", dataDir, "--user", "me", "--password", "secret"}, "no identity key"},
	} {
		stdout, _, err := consoleLogin(t, tc.args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitRefused || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit 2 naming %s", tc.args, err, tc.want)
		}
		if stdout != "" {
			t.Errorf("%v: a refusal printed %q", tc.args, stdout)
		}
	}
}

// End to end against `fleetbook up` and its default policy: the console credential, carrying the
// grant `console login` made with the operator's key, acts as the operator; with the viewer's, as
// the viewer (it reads, it may not submit); without a grant it may do nothing.
func TestConsoleSignsInToUp(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	r := cli(t, dir, "run", writeFile(t, dir, "hello.yaml", okBook), "--embedded", "--data-dir", state, "--input", "who=signin", "--json")
	if r.code != exitOK {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	var first struct{ ID string }
	decodeOne(t, r.stdout, &first)
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	startUp(t, dir, state, listen)

	creds := func(role auth.Role) string { return filepath.Join(state, authDir, "creds", string(role)+".creds") }
	consoleKey, err := auth.UserKey(creds(auth.RoleConsole))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+listen, append([]nats.Option{nats.UserCredentials(creds(auth.RoleConsole))}, inboxOption(consoleKey)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	console, err := coordinator.NewClient(nc, coordinator.WithIdentityKey(consoleKey))
	if err != nil {
		t.Fatal(err)
	}
	grantOf := func(role auth.Role) string {
		t.Helper()
		stdout, _, err := consoleLogin(t, "--creds", creds(role), "--json")
		if err != nil {
			t.Fatal(err)
		}
		var doc signIn
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Grant
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	runs, err := console.ForSession(grantOf(auth.RoleOperator)).List(ctx, 10)
	if err != nil || len(runs) != 1 || runs[0].ID != first.ID {
		t.Fatalf("the console as the operator lists %+v (%v), want run %s", runs, err, first.ID)
	}
	asViewer := console.ForSession(grantOf(auth.RoleViewer))
	if _, err := asViewer.Get(ctx, first.ID); err != nil {
		t.Errorf("the console as the viewer cannot read: %v", err)
	}
	_, err = asViewer.Submit(ctx, protocol.SubmitRequest{Version: protocol.SubmitVersion, Playbook: okBook, IdempotencyKey: "as-viewer"})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeForbidden || !strings.Contains(apiErr.Message, "viewer") {
		t.Errorf("the console as the viewer submitted: %v", err)
	}
	if _, err := console.List(ctx, 10); !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeForbidden || !strings.Contains(apiErr.Message, "console") {
		t.Errorf("the console without a grant listed runs: %v", err)
	}
	// `fleetbook audit` names the viewer, and the console that carried the refused submit.
	r = cli(t, dir, "audit", "--server", "nats://"+listen, "--data-dir", state, "--action", "submit")
	if r.code != exitOK {
		t.Fatalf("audit: exit %d: %s", r.code, r.stderr)
	}
	var denied []string
	for line := range strings.Lines(r.stdout) {
		if strings.Contains(line, " deny ") {
			denied = append(denied, line)
		}
	}
	consolePub, _ := consoleKey.PublicKey()
	if len(denied) != 1 || !strings.Contains(denied[0], "viewer (") || !strings.Contains(denied[0], " via console ("+consolePub+")") {
		t.Errorf("audit lists the refused submits %q, want one by the viewer via console:\n%s", denied, r.stdout)
	}
}
