package coordinator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// signinEnv is a coordinator whose policy lets alice read and submit web-* only, bob read
// everything, the admin do everything, and the console identity only act for those who signed
// in to it.
type signinEnv struct {
	*env
	keys     map[string]nkeys.KeyPair
	pub      map[string]string
	admin    *Client
	console  *Client
	bob      *Client
	unsigned *Client
}

func newSigninEnv(t *testing.T) *signinEnv {
	t.Helper()
	e := &signinEnv{env: newEnv(t, kvstore.Config{}), keys: map[string]nkeys.KeyPair{}, pub: map[string]string{}}
	for _, name := range []string{"admin", "alice", "bob", "console", "stranger"} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		e.keys[name] = kp
		e.pub[name], _ = kp.PublicKey()
	}
	p, err := policy.Parse([]byte(`identities:
  admin: ` + e.pub["admin"] + `
  alice: ` + e.pub["alice"] + `
  bob: ` + e.pub["bob"] + `
  console: ` + e.pub["console"] + `
rules:
  - who: [admin]
    allow: [submit, cancel, prune, read, audit, schedule]
  - who: [alice]
    allow: [submit, read]
    playbooks: ["web-*"]
  - who: [bob]
    allow: [read]
  - who: [console]
    allow: [console]
`))
	if err != nil {
		t.Fatal(err)
	}
	e.startCoordinator("c1", WithPolicy(p))
	client := func(name string) *Client {
		c, err := NewClient(e.nc, WithIdentityKey(e.keys[name]))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.admin, e.console, e.bob = client("admin"), client("console"), client("bob")
	e.unsigned, e.client = e.client, e.admin
	natstest.Eventually(t, 30*time.Second, func() error {
		_, err := e.admin.List(context.Background(), 1)
		return err
	})
	return e
}

// grant is a session grant of the named identity, valid for an hour from now.
func (e *signinEnv) grant(name string) string {
	e.t.Helper()
	g, err := NewSessionGrant(e.keys[name], time.Hour, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// submit submits doc through c under a fresh idempotency key.
func (e *signinEnv) submit(c *Client, doc string) (*protocol.SubmitResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Submit(ctx, protocol.SubmitRequest{Version: protocol.SubmitVersion, Playbook: doc,
		IdempotencyKey: e.t.Name() + time.Now().String()})
}

// stored is how many messages the streams a submit writes to hold.
func (e *signinEnv) stored() uint64 {
	var n uint64
	for _, name := range []string{protocol.RunsStreamName, protocol.JobsStreamName, "KV_" + protocol.RunsBucket, "KV_" + protocol.SubmissionsBucket} {
		n += e.streamMessages(name)
	}
	return n
}

// A console carrying alice's grant acts as alice, within alice's rights: it lists only web-*
// runs, submits web-* (the run is alice's) and may not submit db-*. The audit names alice and
// the console that carried her requests.
func TestConsoleActsForTheSignedInIdentity(t *testing.T) {
	e := newSigninEnv(t)
	ctx := context.Background()
	web, err := e.submit(e.admin, webBook)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.submit(e.admin, dbBook); err != nil {
		t.Fatal(err)
	}
	asAlice := e.console.ForSession(e.grant("alice"))
	runs, err := asAlice.List(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != web.RunID {
		t.Fatalf("alice, through the console, lists %+v; want only run %s (web-deploy)", runs, web.RunID)
	}
	if all, err := e.bob.List(ctx, 100); err != nil || len(all) != 2 {
		t.Fatalf("the control: bob lists %d runs (%v), want 2", len(all), err)
	}

	mine, err := e.submit(asAlice, webBook)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := mustRuns(t, e.env).Get(ctx, mine.RunID)
	if err != nil {
		t.Fatal(err)
	}
	alice := protocol.Identity{Name: "alice", Key: e.pub["alice"]}
	if rec.SubmittedBy != alice {
		t.Errorf("submitted_by %+v, want alice %+v", rec.SubmittedBy, alice)
	}
	// The accepted runs move on meanwhile: only a submission or a new run would be the refused
	// submit's.
	_, err = e.submit(asAlice, dbBook)
	forbidden(t, err, "alice", "db-migrate")
	if n := e.streamMessages("KV_" + protocol.SubmissionsBucket); n != 3 {
		t.Errorf("%d submissions after 3 accepted submits and a refused one", n)
	}
	if all, err := e.admin.List(ctx, 100); err != nil || len(all) != 3 {
		t.Errorf("%d runs (%v) after 3 accepted submits and a refused one", len(all), err)
	}

	console := protocol.Identity{Name: "console", Key: e.pub["console"]}
	recs := e.auditRecords()
	allowed := findAudit(recs, "submit", protocol.DecisionAllow, mine.RunID)
	if len(allowed) != 1 || allowed[0].Identity != alice || allowed[0].Via == nil || *allowed[0].Via != console {
		t.Errorf("audit of alice's submit through the console: %+v", allowed)
	}
	denied := findAudit(recs, "submit", protocol.DecisionDeny, "")
	if len(denied) != 1 || denied[0].Identity != alice || denied[0].Via == nil || *denied[0].Via != console || denied[0].Playbook != "db-migrate" {
		t.Errorf("audit of alice's refused submit through the console: %+v", denied)
	}
	for _, r := range findAudit(recs, "submit", protocol.DecisionAllow, "") {
		if r.Identity.Name == "admin" && r.Via != nil {
			t.Errorf("the admin's own submit names a console: %+v", r)
		}
	}
	// The audit as read through the API says the same.
	got, err := e.admin.Audit(ctx, protocol.AuditListRequest{Version: protocol.AuditVersion, Identity: "alice", Action: "submit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Via == nil || got[0].Via.Name != "console" {
		t.Errorf("audit list of alice's submits: %+v", got)
	}
	// Listing by the console's identity gives what it carried.
	got, err = e.admin.Audit(ctx, protocol.AuditListRequest{Version: protocol.AuditVersion, Identity: "console", Action: "submit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Identity.Name != "alice" || got[1].Identity.Name != "alice" {
		t.Errorf("audit list of the submits the console carried: %+v, want alice's 2", got)
	}
}

// The console identity without a grant may do nothing: console grants nothing by itself.
func TestConsoleWithoutGrantMayDoNothing(t *testing.T) {
	e := newSigninEnv(t)
	ctx := context.Background()
	_, err := e.console.List(ctx, 10)
	forbidden(t, err, "console", "read")
	_, err = e.submit(e.console, webBook)
	forbidden(t, err, "console", "submit")
	_, err = e.console.Audit(ctx, protocol.AuditListRequest{Version: protocol.AuditVersion})
	forbidden(t, err, "console", "audit")
	if n := e.stored(); n != 0 {
		t.Errorf("the console's refused submit stored %d messages", n)
	}
}

// Every grant that does not hold is refused FORBIDDEN, audited, and stores nothing: carried by
// an identity the policy does not make a console, expired, signed by another key than the one it
// names, of a key the policy does not name, on an unsigned request, and swapped under the
// console's signature.
func TestBadSessionsRefused(t *testing.T) {
	e := newSigninEnv(t)
	expired, err := NewSessionGrant(e.keys["alice"], time.Minute, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// A grant naming alice's key, signed by the stranger.
	g, err := VerifySessionGrant(e.grant("alice"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(g)
	sig, _ := e.keys["stranger"].Sign(protocol.SessionSigningPayload(body))
	forged := base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(sig)

	for _, tc := range []struct {
		name     string
		client   *Client
		want     []string
		action   string
		identity string
	}{
		{"bob is no console", e.bob.ForSession(e.grant("alice")), []string{"bob", "may not act for", e.pub["alice"], "no rule allows bob to console"}, "console", e.pub["bob"]},
		{"expired", e.console.ForSession(expired), []string{protocol.SessionHeader, "expired"}, "submit", e.pub["console"]},
		{"signed by another key", e.console.ForSession(forged), []string{"does not verify for " + e.pub["alice"]}, "submit", e.pub["console"]},
		{"key not in the policy", e.console.ForSession(e.grant("stranger")), []string{e.pub["stranger"], "not one of the policy's identities"}, "submit", e.pub["stranger"]},
		{"unsigned request", e.unsigned.ForSession(e.grant("alice")), []string{"unsigned request"}, "submit", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(findAudit(e.auditRecords(), tc.action, protocol.DecisionDeny, ""))
			_, err := e.submit(tc.client, webBook)
			forbidden(t, err, tc.want...)
			if n := e.stored(); n != 0 {
				t.Errorf("a refused grant stored %d messages", n)
			}
			denied := findAudit(e.auditRecords(), tc.action, protocol.DecisionDeny, "")
			if len(denied) != before+1 || denied[len(denied)-1].Identity.Key != tc.identity {
				t.Errorf("audit of the refusal (%s by %q): %+v", tc.action, tc.identity, denied)
			}
		})
	}

	// A grant swapped under the console's signature (the console signed it with bob's grant;
	// alice's travels instead) does not verify.
	t.Run("grant swapped under the signature", func(t *testing.T) {
		reqBody, _ := json.Marshal(protocol.ListRunsRequest{Version: protocol.RunVersion})
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		bobs, alices := e.grant("bob"), e.grant("alice")
		err := e.sendSession(protocol.ListRunsSubject, reqBody, e.pub["console"], ts, alices, func(reply string) []byte {
			sig, _ := e.keys["console"].Sign(protocol.SignedSessionRequestPayload(protocol.ListRunsSubject, reply, ts, bobs, reqBody))
			return sig
		})
		forbidden(t, err, "does not verify for key "+e.pub["console"])
		// The control: signed with the grant it carries, the same request is answered.
		err = e.sendSession(protocol.ListRunsSubject, reqBody, e.pub["console"], ts, alices, func(reply string) []byte {
			sig, _ := e.keys["console"].Sign(protocol.SignedSessionRequestPayload(protocol.ListRunsSubject, reply, ts, alices, reqBody))
			return sig
		})
		if err != nil {
			t.Fatalf("a genuine session request was refused: %v", err)
		}
	})
}

// sendSession is sendSigned for a request that also carries the session grant session (none
// when it is empty).
func (e *env) sendSession(subject string, body []byte, key, ts, session string, sign func(reply string) []byte) error {
	msg := &nats.Msg{Subject: subject, Reply: e.nc.NewInbox(), Data: body, Header: nats.Header{}}
	msg.Header.Set(protocol.IdentityKeyHeader, key)
	msg.Header.Set(protocol.TimestampHeader, ts)
	if session != "" {
		msg.Header.Set(protocol.SessionHeader, session)
	}
	if sign != nil {
		msg.Header.Set(protocol.SignatureHeader, base64.RawURLEncoding.EncodeToString(sign(msg.Reply)))
	}
	sub, err := e.nc.SubscribeSync(msg.Reply)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := e.nc.PublishMsg(msg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		return err
	}
	var apiErr protocol.ErrorResponse
	if reply.Header.Get(protocol.ErrorCodeHeader) == "" || json.Unmarshal(reply.Data, &apiErr) != nil {
		return nil
	}
	return &apiErr
}
