package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
)

func newSigner(t *testing.T) *trust.Signer {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	s, err := trust.NewSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// send publishes req to identity as any client with publish rights on node subjects would, and
// decodes the reply.
func send(t *testing.T, nc *nats.Conn, identity string, req protocol.RPCRequest) protocol.RPCReply {
	t.Helper()
	body, _ := json.Marshal(req)
	m, err := nc.Request(protocol.NodeRPCSubject(identity), body, wait)
	if err != nil {
		t.Fatalf("request to %s: %v", identity, err)
	}
	var rep protocol.RPCReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		t.Fatalf("decode reply %q: %v", m.Data, err)
	}
	return rep
}

// signed is the request a worker sends identity for grant g over targets.
func signed(g *protocol.Grant, targets []string, identity string, args map[string]any) protocol.RPCRequest {
	proof, _ := trust.NewTree(targets).Proof(identity)
	return protocol.RPCRequest{Version: protocol.RPCVersion, RequestID: trust.RequestID(g.JobID, identity),
		Agent: g.Agent, Action: g.Action, Data: args, Grant: g, Proof: proof}
}

// upgrades counts the appmgr upgrades identity performed: the effect an impostor must not cause.
func upgrades(t *testing.T, state, identity string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(state, identity, "appmgr", "upgrades")); errors.Is(err, os.ErrNotExist) {
		return "0"
	}
	return readState(t, state, identity, "appmgr/upgrades")
}

func TestTrust_ImpostorRequestsAreRefusedLoggedAndNeverAct(t *testing.T) {
	coordinator, impostor := newSigner(t), newSigner(t)
	logs := &natstest.LogBuffer{}
	nodes := []Node{{Identity: "web1.test"}, {Identity: "web2.test"}}
	nc, state, _ := serve(t, nodes, WithoutRegistration(), WithTrustedSigners(coordinator.PublicKey()),
		WithLogger(slog.New(slog.NewTextHandler(logs, nil))))

	args := map[string]any{"revision": "2.0.0"}
	job := protocol.JobID{RunID: "run1", Step: 3, Attempt: 1}
	targets := []string{"web1.test", "web9.test"} // web2 is not a target
	now := time.Now()
	g, err := coordinator.RPCGrant(job, "appmgr", "upgrade", args, targets, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	real := signed(g, targets, "web1.test", args)
	if rep := send(t, nc, "web1.test", real); !rep.Success {
		t.Fatalf("the coordinator's request was refused: %s", rep.Msg)
	}
	if got := upgrades(t, state, "web1.test"); got != "1" {
		t.Fatalf("upgrades after the real request = %s, want 1", got)
	}

	forged, _ := impostor.RPCGrant(protocol.JobID{RunID: "evil", Step: 1, Attempt: 1}, "appmgr", "upgrade", args,
		targets, now, time.Hour)
	expired, _ := coordinator.RPCGrant(protocol.JobID{RunID: "run0", Step: 1, Attempt: 1}, "appmgr", "upgrade", args,
		targets, now.Add(-2*time.Hour), time.Hour)
	toWeb2 := signed(g, targets, "web1.test", args)
	toWeb2.RequestID = trust.RequestID(g.JobID, "web2.test")
	// The real grant, under another attempt's request id with other arguments: both forged.
	otherArgs := signed(g, targets, "web1.test", map[string]any{"revision": "6.6.6"})
	otherArgs.RequestID = "run1/3/2/0/web1.test"
	freshID := signed(g, targets, "web1.test", args)
	freshID.RequestID = "run1/3/1/0/web1.test/again"

	cases := []struct {
		name, identity string
		req            protocol.RPCRequest
		reason         string
	}{
		{"unsigned", "web1.test", protocol.RPCRequest{Version: protocol.RPCVersion, RequestID: "evil/1/1/0/web1.test",
			Agent: "appmgr", Action: "upgrade", Data: args}, trust.ErrUnsigned.Error()},
		{"untrusted signer", "web1.test", signed(forged, targets, "web1.test", args), trust.ErrUntrustedSigner.Error()},
		{"not targeted", "web2.test", toWeb2, trust.ErrNotTargeted.Error()},
		{"expired", "web1.test", signed(expired, targets, "web1.test", args), trust.ErrExpired.Error()},
		{"forged arguments", "web1.test", otherArgs, trust.ErrMismatch.Error()},
		{"fresh request id", "web1.test", freshID, trust.ErrMismatch.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := send(t, nc, tc.identity, tc.req)
			if rep.Success || !strings.Contains(rep.Msg, "refused: "+tc.reason) {
				t.Fatalf("reply %+v, want a refusal saying %q", rep, tc.reason)
			}
			if got := logs.Lines("refused request", "identity="+tc.identity, tc.req.RequestID, tc.reason); len(got) != 1 {
				t.Fatalf("log lines naming the refusal: %q\nlog:\n%s", got, logs.String())
			}
		})
	}

	// The real request, replayed after the node acted: answered with the first reply, logged,
	// and not acted on again.
	rep := send(t, nc, "web1.test", real)
	if !rep.Success || rep.RequestID != real.RequestID {
		t.Fatalf("replay reply %+v, want the first reply", rep)
	}
	if got := logs.Lines("request repeated", "identity=web1.test", real.RequestID, coordinator.PublicKey()); len(got) != 1 {
		t.Fatalf("log lines naming the replay: %q", got)
	}

	if got := upgrades(t, state, "web1.test"); got != "1" {
		t.Fatalf("web1 upgrades = %s, want 1: an impostor's request acted", got)
	}
	if got := upgrades(t, state, "web2.test"); got != "0" {
		t.Fatalf("web2 upgrades = %s, want 0: a request not targeting it acted", got)
	}
}

func TestTrust_ReplayRefusedPastTheDedupeTTL(t *testing.T) {
	// The ordinary memory forgets after 50ms; a signed request id is held until its grant expires.
	coordinator := newSigner(t)
	nc, state, srv := serve(t, []Node{{Identity: "web1.test"}}, WithoutRegistration(),
		WithTrustedSigners(coordinator.PublicKey()), WithDedupe(1, 50*time.Millisecond))
	args := map[string]any{"revision": "2.0.0"}
	g, _ := coordinator.RPCGrant(protocol.JobID{RunID: "run1", Step: 1, Attempt: 1}, "appmgr", "upgrade", args,
		[]string{"web1.test"}, time.Now(), time.Hour)
	req := signed(g, []string{"web1.test"}, "web1.test", args)
	if rep := send(t, nc, "web1.test", req); !rep.Success {
		t.Fatalf("refused: %s", rep.Msg)
	}
	// Wait until the request's entry is older than the ordinary ttl, which would have forgotten it.
	key := "web1.test\x00" + req.RequestID
	deadline := time.Now().Add(wait)
	for {
		srv.seen.mu.Lock()
		e := srv.seen.entries[key]
		srv.seen.mu.Unlock()
		if e == nil {
			t.Fatal("the signed request was forgotten")
		}
		if time.Since(e.at) > 50*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ttl never passed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rep := send(t, nc, "web1.test", req); !rep.Success || rep.RequestID != req.RequestID {
		t.Fatalf("replay reply %+v, want the first reply", rep)
	}
	if got := upgrades(t, state, "web1.test"); got != "1" {
		t.Fatalf("upgrades = %s, want 1: a replay acted after the ordinary dedupe window", got)
	}
}

func TestDedupe_PinnedUntilGrantExpiryAndBounded(t *testing.T) {
	d := newDedupe(1, 2, time.Minute)
	t0 := time.Now()
	until := t0.Add(time.Hour)
	a, first := d.begin("a", t0, until)
	if !first {
		t.Fatal("a: not first")
	}
	d.finish(a, []byte("A"))
	// Unsigned traffic past the entry bound does not push a pinned entry out.
	for _, k := range []string{"u1", "u2", "u3"} {
		e, _ := d.begin(k, t0, time.Time{})
		d.finish(e, nil)
	}
	if e, first := d.begin("a", t0.Add(30*time.Minute), until); first || string(e.reply) != "A" {
		t.Fatal("pinned entry forgotten before its grant expired")
	}
	b, _ := d.begin("b", t0, until)
	d.finish(b, nil)
	if e, _ := d.begin("c", t0.Add(time.Minute), until); e != nil {
		t.Fatal("a third pinned entry was accepted beyond the bound of 2")
	}
	// Once the grants expired, their entries make room.
	if _, first := d.begin("c", until.Add(time.Second), until.Add(time.Hour)); !first {
		t.Fatal("expired pinned entries did not make room")
	}
	if len(d.pinned) != 1 || len(d.entries) != 2 {
		t.Fatalf("pinned %d, entries %d; want 1 and 2 (c, u3)", len(d.pinned), len(d.entries))
	}
}

func TestWithTrustedSigners_RefusesBadKeys(t *testing.T) {
	nc, _ := natstest.Connect(t, natstest.RunServer(t).ClientURL())
	for name, keys := range map[string][]string{"none": nil, "not a key": {"SUAxyz"}} {
		if _, err := New(nc, []Node{{Identity: "a.test"}}, WithTrustedSigners(keys...)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}
