package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// `fleetbook audit --json` lists the submits, cancels and refusals of a coordinator with a
// policy, naming each identity; a command the policy forbids exits 2 naming the identity and the
// action; `runs show` names the submitter and the canceller.
func TestAuditCommandListsDecisions(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	url := srv.ClientURL()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := kp.PublicKey()
	p, err := policy.Parse([]byte("identities:\n  alice: " + alice + "\nrules:\n" +
		"  - who: [alice]\n    allow: [submit, cancel, read]\n    playbooks: [\"hello*\"]\n" +
		"  - who: [unsigned]\n    allow: [read, audit]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cnc, _ := natstest.Connect(t, url)
	coord, err := coordinator.New(cnc, coordinator.WithName("policed"), coordinator.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = coord.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	nc, _ := natstest.Connect(t, url)
	client, err := coordinator.NewClient(nc, coordinator.WithIdentityKey(kp))
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	resp, err := client.Submit(sctx, protocol.SubmitRequest{Playbook: okBook, Inputs: map[string]any{"who": "audit"}, IdempotencyKey: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Submit(sctx, protocol.SubmitRequest{Playbook: failBook, IdempotencyKey: "a2"})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeForbidden {
		t.Fatalf("submit of a playbook alice may not run: want FORBIDDEN, got %v", err)
	}
	if _, err := client.Cancel(sctx, resp.RunID, "audit test"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := cli(t, dir, "runs", "prune", "--yes", "--older-than", "1h", "--server", url)
	if r.code != exitRefused || !strings.Contains(r.stderr, "unsigned may not prune") {
		t.Fatalf("prune by an unsigned caller: exit %d, want 2 naming it: %s", r.code, r.stderr)
	}

	r = cli(t, dir, "audit", "--json", "--server", url)
	if r.code != exitOK {
		t.Fatalf("audit --json: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Records []protocol.AuditRecord `json:"records"`
	}
	decodeOne(t, r.stdout, &out)
	var got []string
	for _, rec := range out.Records {
		got = append(got, rec.Action+" "+rec.Decision+" "+rec.Identity.Name+" "+rec.Playbook)
		if rec.Identity.Name == "alice" && rec.Identity.Key != alice {
			t.Errorf("record of alice with key %s", rec.Identity.Key)
		}
		if rec.Action == "submit" && rec.Decision == protocol.DecisionAllow && rec.RunID != resp.RunID {
			t.Errorf("submit record of run %s, want %s", rec.RunID, resp.RunID)
		}
		if rec.Time.IsZero() || rec.Coordinator != "policed" || rec.Reason == "" {
			t.Errorf("record %+v", rec)
		}
	}
	want := []string{"submit allow alice hello", "submit deny alice broken", "cancel allow alice hello", "prune deny unsigned "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit records\n got %q\nwant %q", got, want)
	}
	if r := cli(t, dir, "audit", "--action", "cancel", "--server", url); r.code != exitOK || !strings.Contains(r.stdout, "alice ("+alice+")") || strings.Contains(r.stdout, "prune") {
		t.Errorf("audit --action cancel: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = cli(t, dir, "runs", "show", resp.RunID, "--server", url)
	for _, w := range []string{"Submitted by: alice (" + alice + ")", "Cancelled by: alice"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("runs show lacks %q (exit %d):\n%s%s", w, r.code, r.stdout, r.stderr)
		}
	}
	r = cli(t, dir, "runs", "show", resp.RunID, "--json", "--server", url)
	var rep struct {
		SubmittedBy protocol.Identity `json:"submitted_by"`
	}
	decodeOne(t, r.stdout, &rep)
	if rep.SubmittedBy.Name != "alice" || rep.SubmittedBy.Key != alice {
		t.Errorf("runs show --json submitted_by %+v", rep.SubmittedBy)
	}
}
