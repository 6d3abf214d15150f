package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/protocol"
)

func newSigner(t testing.TB) *Signer {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func identities(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("node-%05d.example.net", i)
	}
	return ids
}

var testJob = protocol.JobID{RunID: "run1", Step: 2, Attempt: 1, Batch: 3}

// request is what a worker sends identity for grant g, built from tree as the worker builds it.
func request(g *protocol.Grant, tree *Tree, identity string, args map[string]any) *protocol.RPCRequest {
	req := &protocol.RPCRequest{Version: protocol.RPCVersion, RequestID: RequestID(g.JobID, identity),
		Agent: g.Agent, Action: g.Action, Data: args, Grant: g}
	if tree != nil {
		req.Proof, _ = tree.Proof(identity)
	}
	return req
}

func TestVerify_EveryTargetOfEveryTreeSize(t *testing.T) {
	s := newSigner(t)
	v, err := NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	args := map[string]any{"package": "nginx", "version": 3}
	for _, n := range []int{1, 2, 3, 7, 1000} {
		targets := identities(n)
		g, err := s.RPCGrant(testJob, "package", "update", args, targets, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// The worker builds the tree from the job's targets, in the job's order.
		reversed := make([]string, n)
		for i, id := range targets {
			reversed[n-1-i] = id
		}
		tree := NewTree(reversed)
		if tree.Root() != g.Targets || tree.Len() != n {
			t.Fatalf("n=%d: worker's tree root %s/%d, grant %s/%d", n, tree.Root(), tree.Len(), g.Targets, g.TargetCount)
		}
		for _, id := range targets {
			if err := v.Verify(request(g, tree, id, args), id, now); err != nil {
				t.Fatalf("n=%d: %s refused: %v", n, id, err)
			}
		}
	}
}

func TestVerify_Refusals(t *testing.T) {
	s := newSigner(t)
	v, err := NewVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	args := map[string]any{"package": "nginx"}
	targets := identities(7)
	me := targets[3]
	fresh := func() (*protocol.Grant, *Tree) {
		g, err := s.RPCGrant(testJob, "package", "update", args, targets, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return g, NewTree(targets)
	}
	flip := func(s string) string {
		b := []byte(s)
		b[len(b)/2] ^= 1
		return string(b)
	}
	other := newSigner(t)
	otherTree := NewTree(identities(8))

	cases := []struct {
		name   string
		mutate func(g *protocol.Grant, req *protocol.RPCRequest)
		want   error
	}{
		{"unsigned", func(_ *protocol.Grant, req *protocol.RPCRequest) { req.Grant = nil }, ErrUnsigned},
		{"job id flipped", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.JobID = flip(g.JobID) }, ErrBadSignature},
		{"agent flipped", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.Agent = flip(g.Agent) }, ErrBadSignature},
		{"action flipped", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.Action = flip(g.Action) }, ErrBadSignature},
		{"args digest flipped", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.ArgsSHA256 = flip(g.ArgsSHA256) }, ErrBadSignature},
		{"targets flipped", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.Targets = flip(g.Targets) }, ErrBadSignature},
		{"target count changed", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.TargetCount++ }, ErrBadSignature},
		{"issued at moved", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.IssuedAt = g.IssuedAt.Add(-time.Second) }, ErrBadSignature},
		{"expiry extended", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.ExpiresAt = g.ExpiresAt.Add(time.Second) }, ErrBadSignature},
		{"version changed", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.Version++ }, ErrBadSignature},
		{"signature flipped", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.Signature = flip(g.Signature) }, ErrBadSignature},
		{"signature not base64", func(g *protocol.Grant, _ *protocol.RPCRequest) { g.Signature = "!!" }, ErrBadSignature},
		{"untrusted signer", func(g *protocol.Grant, req *protocol.RPCRequest) {
			og, err := other.RPCGrant(testJob, "package", "update", args, targets, now, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			*g = *og
		}, ErrUntrustedSigner},
		{"signer swapped for a trusted key", func(g *protocol.Grant, _ *protocol.RPCRequest) {
			og, _ := other.RPCGrant(testJob, "package", "update", args, targets, now, time.Hour)
			og.Signer = s.PublicKey()
			*g = *og
		}, ErrBadSignature},
		{"expired", func(g *protocol.Grant, _ *protocol.RPCRequest) {
			eg, _ := s.RPCGrant(testJob, "package", "update", args, targets, now.Add(-2*time.Hour), time.Hour)
			*g = *eg
		}, ErrExpired},
		{"issued in the future", func(g *protocol.Grant, _ *protocol.RPCRequest) {
			fg, _ := s.RPCGrant(testJob, "package", "update", args, targets, now.Add(time.Hour), time.Hour)
			*g = *fg
		}, ErrExpired},
		{"request agent differs", func(_ *protocol.Grant, req *protocol.RPCRequest) { req.Agent = "service" }, ErrMismatch},
		{"request action differs", func(_ *protocol.Grant, req *protocol.RPCRequest) { req.Action = "remove" }, ErrMismatch},
		{"request data differs", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Data = map[string]any{"package": "nginx; rm -rf /"}
		}, ErrMismatch},
		{"request data added", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Data = map[string]any{"package": "nginx", "force": true}
		}, ErrMismatch},
		{"fresh request id", func(_ *protocol.Grant, req *protocol.RPCRequest) { req.RequestID += "-again" }, ErrMismatch},
		{"no proof", func(_ *protocol.Grant, req *protocol.RPCRequest) { req.Proof = nil }, ErrNotTargeted},
		{"proof for another identity", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Proof, _ = NewTree(targets).Proof(targets[4])
		}, ErrNotTargeted},
		{"proof from another tree", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Proof, _ = otherTree.Proof(me)
		}, ErrNotTargeted},
		{"proof sibling flipped", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Proof.Siblings[0] ^= 1
		}, ErrNotTargeted},
		{"proof with an extra sibling", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Proof.Siblings = append(req.Proof.Siblings, req.Proof.Siblings[:32]...)
		}, ErrNotTargeted},
		{"proof with a partial sibling", func(_ *protocol.Grant, req *protocol.RPCRequest) {
			req.Proof.Siblings = req.Proof.Siblings[:len(req.Proof.Siblings)-1]
		}, ErrNotTargeted},
		{"proof index out of range", func(_ *protocol.Grant, req *protocol.RPCRequest) { req.Proof.Index = 7 }, ErrNotTargeted},
		{"any-node grant for a non-ping action", func(g *protocol.Grant, _ *protocol.RPCRequest) {
			digest, _ := ArgsDigest(args)
			ag, err := s.sign(&protocol.Grant{JobID: testJob.String(), Agent: "package", Action: "update",
				ArgsSHA256: digest, Targets: protocol.AnyNode}, now, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			*g = *ag
		}, ErrAnyNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, tree := fresh()
			req := request(g, tree, me, args)
			if err := v.Verify(req, me, now); err != nil {
				t.Fatalf("the unchanged request is refused: %v", err)
			}
			tc.mutate(g, req)
			err := v.Verify(req, me, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerify_NotTargetedAndClockSkew(t *testing.T) {
	s := newSigner(t)
	v, _ := NewVerifier(s.PublicKey())
	now := time.Now()
	targets := identities(3)
	g, _ := s.RPCGrant(testJob, "package", "update", nil, targets, now, time.Minute)
	outsider := "node-99999.example.net"
	// The outsider holds a member's proof: the leaf it hashes is its own identity.
	req := request(g, NewTree(targets), targets[0], nil)
	req.RequestID = RequestID(g.JobID, outsider)
	if err := v.Verify(req, outsider, now); !errors.Is(err, ErrNotTargeted) {
		t.Fatalf("outsider: %v, want ErrNotTargeted", err)
	}
	ok := request(g, NewTree(targets), targets[0], nil)
	if err := v.Verify(ok, targets[0], g.ExpiresAt.Add(ClockSkew-time.Second)); err != nil {
		t.Fatalf("within the skew after expiry: %v", err)
	}
	if err := v.Verify(ok, targets[0], g.ExpiresAt.Add(ClockSkew+time.Second)); !errors.Is(err, ErrExpired) {
		t.Fatalf("past the skew: %v, want ErrExpired", err)
	}
}

func TestVerify_PingGrantForAnyNode(t *testing.T) {
	s := newSigner(t)
	v, _ := NewVerifier(s.PublicKey())
	now := time.Now()
	g, err := s.PingGrant(testJob, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"never-seen-1", "never-seen-2"} {
		if err := v.Verify(request(g, nil, id, nil), id, now); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	req := request(g, nil, "never-seen-1", nil)
	req.Action = "inventory"
	if err := v.Verify(req, "never-seen-1", now); !errors.Is(err, ErrMismatch) {
		t.Fatalf("ping grant used for inventory: %v, want ErrMismatch", err)
	}
}

func TestArgsDigest_SurvivesTheWire(t *testing.T) {
	rendered := map[string]any{"n": 3, "list": []string{"a", "b"}, "m": map[string]any{"x": 1.5}, "s": "<&>"}
	a, err := ArgsDigest(rendered)
	if err != nil {
		t.Fatal(err)
	}
	decoded := map[string]any{"n": float64(3), "list": []any{"a", "b"}, "m": map[string]any{"x": 1.5}, "s": "<&>"}
	if b, _ := ArgsDigest(decoded); a != b {
		t.Fatalf("rendered and decoded arguments differ: %s, %s", a, b)
	}
	empty, _ := ArgsDigest(map[string]any{})
	none, _ := ArgsDigest(nil)
	if empty != none {
		t.Fatal("no arguments and an empty object differ")
	}
	if _, err := ArgsDigest(map[string]any{"f": func() {}}); err == nil {
		t.Fatal("unencodable arguments accepted")
	}
}

func TestResultToken(t *testing.T) {
	s := newSigner(t)
	res := &protocol.Result{ID: testJob, Token: s.ResultToken(testJob)}
	if err := s.CheckResult(res); err != nil {
		t.Fatal(err)
	}
	// Another coordinator with the same credential (seed) accepts it: takeover.
	seed, _ := s.kp.Seed()
	kp, _ := nkeys.FromSeed(seed)
	twin, _ := NewSigner(kp)
	if err := twin.CheckResult(res); err != nil {
		t.Fatalf("same credential: %v", err)
	}
	other := testJob
	other.Batch++
	for name, r := range map[string]*protocol.Result{
		"no token":        {ID: testJob},
		"other job's":     {ID: testJob, Token: s.ResultToken(other)},
		"other key's":     {ID: testJob, Token: newSigner(t).ResultToken(testJob)},
		"token truncated": {ID: testJob, Token: res.Token[:10]},
	} {
		if err := s.CheckResult(r); !errors.Is(err, ErrUnboundResult) {
			t.Errorf("%s: %v, want ErrUnboundResult", name, err)
		}
	}
}

func TestNewSignerAndVerifier_RefuseBadKeys(t *testing.T) {
	kp, _ := nkeys.CreateAccount()
	pub, _ := kp.PublicKey()
	pubOnly, _ := nkeys.FromPublicKey(pub)
	if _, err := NewSigner(pubOnly); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("public-only signer: %v", err)
	}
	if _, err := NewSigner(nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("nil signer: %v", err)
	}
	if _, err := NewVerifier(); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("no trusted keys: %v", err)
	}
	if _, err := NewVerifier(pub, "not-a-key"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("bad trusted key: %v", err)
	}
}

func TestDecodeGrant(t *testing.T) {
	s := newSigner(t)
	v, _ := NewVerifier(s.PublicKey())
	g, _ := s.RPCGrant(testJob, "package", "update", nil, identities(3), time.Now(), time.Hour)
	raw, _ := json.Marshal(g)
	got, err := v.DecodeGrant(raw)
	if err != nil || got.Signature != g.Signature || !got.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("DecodeGrant = %+v, %v", got, err)
	}
	if again, _ := v.DecodeGrant(raw); again != got {
		t.Fatal("the same bytes were parsed again")
	}
	big := append([]byte(`{"job_id":"`), bytes.Repeat([]byte("x"), MaxGrantSize)...)
	big = append(big, `"}`...)
	if _, err := v.DecodeGrant(big); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("oversized grant: %v", err)
	}
	if _, err := v.DecodeGrant([]byte(`{"job_id":`)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("invalid grant: %v", err)
	}
}

// BenchmarkNewTree10k is what a worker pays per 10,000-node job before its fan-out, and the
// coordinator per grant: the tree and every node's proof.
func BenchmarkNewTree10k(b *testing.B) {
	ids := identities(10000)
	b.ReportAllocs()
	for b.Loop() {
		tree := NewTree(ids)
		for _, id := range ids {
			if _, ok := tree.Proof(id); !ok {
				b.Fatal("missing proof")
			}
		}
	}
}

// BenchmarkVerify is an agent's cost per request at 10,000 targets.
func BenchmarkVerify(b *testing.B) {
	s := newSigner(b)
	v, _ := NewVerifier(s.PublicKey())
	ids := identities(10000)
	now := time.Now()
	g, _ := s.RPCGrant(testJob, "package", "update", map[string]any{"package": "nginx"}, ids, now, time.Hour)
	req := request(g, NewTree(ids), ids[4321], map[string]any{"package": "nginx"})
	for b.Loop() {
		if err := v.Verify(req, ids[4321], now); err != nil {
			b.Fatal(err)
		}
	}
}
