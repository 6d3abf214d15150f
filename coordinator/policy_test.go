package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// Playbooks of the policy tests: the deployer may run web-* playbooks only.
const (
	webBook = "name: web-deploy\nversion: \"1.0.0\"\nauthor: tests\ndescription: web\ntags: [web]\ntasks:\n" + "  - shell:\n      command: web\n"
	dbBook  = "name: db-migrate\nversion: \"1.0.0\"\nauthor: tests\ndescription: db\ntasks:\n" + "  - shell:\n      command: db\n"
)

// policyEnv is a coordinator with a policy, and a client per identity of it.
type policyEnv struct {
	*env
	keys                             map[string]nkeys.KeyPair
	admin, deployer, viewer, nobody  *Client
	unsigned                         *Client
	adminKey, deployerKey, viewerKey string
}

func newPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	e := &policyEnv{env: newEnv(t, kvstore.Config{}), keys: map[string]nkeys.KeyPair{}}
	pub := map[string]string{}
	for _, name := range []string{"admin", "deployer", "viewer", "stranger"} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		e.keys[name] = kp
		pub[name], _ = kp.PublicKey()
	}
	e.adminKey, e.deployerKey, e.viewerKey = pub["admin"], pub["deployer"], pub["viewer"]
	p, err := policy.Parse([]byte(`identities:
  admin: ` + pub["admin"] + `
  deployer: ` + pub["deployer"] + `
  viewer: ` + pub["viewer"] + `
rules:
  - who: [admin]
    allow: [submit, cancel, prune, read, audit, schedule]
  - who: [deployer]
    allow: [submit, cancel, read, schedule]
    playbooks: ["web-*"]
  - who: [viewer]
    allow: [read]
`))
	if err != nil {
		t.Fatal(err)
	}
	e.startCoordinator("c1", WithPolicy(p))
	e.admin, e.deployer, e.viewer, e.nobody = e.signed("admin"), e.signed("deployer"), e.signed("viewer"), e.signed("stranger")
	// The env's helpers (waitFinal) read as the admin.
	e.unsigned, e.client = e.client, e.admin
	natstest.Eventually(t, 30*time.Second, func() error {
		_, err := e.admin.List(context.Background(), 1)
		return err
	})
	return e
}

// signed is a client that signs with the named identity's key.
func (e *policyEnv) signed(name string) *Client {
	e.t.Helper()
	c, err := NewClient(e.nc, WithIdentityKey(e.keys[name]))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// submitAs submits doc through c under a fresh key.
func (e *policyEnv) submitAs(c *Client, doc string) (*protocol.SubmitResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Submit(ctx, protocol.SubmitRequest{Playbook: doc, IdempotencyKey: e.t.Name() + time.Now().String()})
}

// auditRecords reads every record of the audit stream, straight from the stream.
func (e *env) auditRecords() []protocol.AuditRecord {
	e.t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, protocol.AuditStreamName)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []protocol.AuditRecord
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatal(err)
		}
		var rec protocol.AuditRecord
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			e.t.Fatal(err)
		}
		if m.Subject != protocol.AuditSubject(rec.Action) {
			e.t.Errorf("audit record of %s on subject %s", rec.Action, m.Subject)
		}
		out = append(out, rec)
	}
	return out
}

// findAudit returns the audit records matching action and decision (and run id, when given).
func findAudit(recs []protocol.AuditRecord, action, decision, runID string) []protocol.AuditRecord {
	var out []protocol.AuditRecord
	for _, r := range recs {
		if r.Action == action && r.Decision == decision && (runID == "" || r.RunID == runID) {
			out = append(out, r)
		}
	}
	return out
}

// forbidden fails the test unless err is a FORBIDDEN API error whose message has every one of want.
func forbidden(t *testing.T, err error, want ...string) {
	t.Helper()
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeForbidden {
		t.Fatalf("want FORBIDDEN, got %v", err)
	}
	for _, w := range want {
		if !strings.Contains(apiErr.Message, w) {
			t.Errorf("refusal %q does not name %q", apiErr.Message, w)
		}
	}
}

// A signed submit by an allowed identity is accepted; the record, the report and the audit
// record name the submitter, by name and key.
func TestSignedSubmitNamesTheSubmitter(t *testing.T) {
	e := newPolicyEnv(t)
	resp, err := e.submitAs(e.deployer, webBook)
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.Identity{Name: "deployer", Key: e.deployerKey}
	rec, _, err := mustRuns(t, e.env).Get(context.Background(), resp.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SubmittedBy != want {
		t.Errorf("record submitted_by %+v, want %+v", rec.SubmittedBy, want)
	}
	r, err := e.admin.Get(context.Background(), resp.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if r.SubmittedBy != want || r.Playbook.Tags[0] != "web" {
		t.Errorf("report submitted_by %+v tags %v", r.SubmittedBy, r.Playbook.Tags)
	}
	got := findAudit(e.auditRecords(), "submit", protocol.DecisionAllow, resp.RunID)
	if len(got) != 1 || got[0].Identity != want || got[0].Playbook != "web-deploy" || got[0].Coordinator != "c1" {
		t.Errorf("audit of the submit: %+v", got)
	}
}

// A payload claiming an identity (submitted_by) is refused as a field submit requests do not
// have. An identity allowed only web-* submits db-migrate: it is refused with FORBIDDEN naming
// it, nothing is stored, and the audit shows its real key. An allowed submit is recorded as the
// deployer's.
func TestForbiddenSubmitStoresNothingAndPayloadIdentityIsIgnored(t *testing.T) {
	e := newPolicyEnv(t)
	var apiErr *protocol.ErrorResponse
	b, _ := json.Marshal(map[string]any{"version": protocol.SubmitVersion, "playbook": webBook, "idempotency_key": "claim-1",
		"submitted_by": "admin"})
	err := e.deployer.callRaw(context.Background(), protocol.SubmitSubject, b, &protocol.SubmitResponse{})
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeBadRequest || !strings.Contains(apiErr.Message, `"submitted_by"`) {
		t.Fatalf("a payload claiming an identity: %v, want BAD_REQUEST naming submitted_by", err)
	}
	claim := func(doc, key string) []byte {
		b, _ := json.Marshal(map[string]any{"version": protocol.SubmitVersion, "playbook": doc, "idempotency_key": key})
		return b
	}
	err = e.deployer.callRaw(context.Background(), protocol.SubmitSubject, claim(dbBook, "db-1"), &protocol.SubmitResponse{})
	forbidden(t, err, "deployer", e.deployerKey, "submit", "db-migrate", `no rule allows deployer to submit playbook "db-migrate"`)
	for _, name := range []string{protocol.RunsStreamName, protocol.JobsStreamName, "KV_" + protocol.RunsBucket, "KV_" + protocol.SubmissionsBucket} {
		if n := e.streamMessages(name); n != 0 {
			t.Errorf("%s holds %d messages after a forbidden submit", name, n)
		}
	}
	denied := findAudit(e.auditRecords(), "submit", protocol.DecisionDeny, "")
	if len(denied) != 1 || denied[0].Identity.Key != e.deployerKey || denied[0].Identity.Name != "deployer" || denied[0].Playbook != "db-migrate" {
		t.Fatalf("audit of the refusal: %+v", denied)
	}

	var resp protocol.SubmitResponse
	if err := e.deployer.callRaw(context.Background(), protocol.SubmitSubject, claim(webBook, "web-1"), &resp); err != nil {
		t.Fatal(err)
	}
	rec, _, err := mustRuns(t, e.env).Get(context.Background(), resp.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SubmittedBy.Key != e.deployerKey || rec.SubmittedBy.Name != "deployer" {
		t.Errorf("submitted_by %+v: the payload's claim was believed", rec.SubmittedBy)
	}
	allowed := findAudit(e.auditRecords(), "submit", protocol.DecisionAllow, resp.RunID)
	if len(allowed) != 1 || allowed[0].Identity.Key != e.deployerKey {
		t.Errorf("audit of the allowed submit: %+v", allowed)
	}
}

// sendSigned sends body to subject from an inbox of its own, with the key and timestamp headers
// given and the signature sign makes for that inbox (none when sign is nil), as a forger would.
func (e *env) sendSigned(subject string, body []byte, key, ts string, sign func(reply string) []byte) error {
	return e.sendSession(subject, body, key, ts, "", sign)
}

// signer returns a sign function for sendSigned: kp's signature of a request to subject with body.
func signer(kp nkeys.KeyPair, subject, ts string, body []byte) func(string) []byte {
	return func(reply string) []byte {
		sig, _ := kp.Sign(protocol.SignedRequestPayload(subject, reply, ts, body))
		return sig
	}
}

// A request whose key header names the admin but whose signature is another key's, whose body
// is not the one signed, whose signature is missing, or that is replayed with another reply
// subject or on another endpoint, is refused, stores nothing, and is audited.
func TestForgedSignatureRefused(t *testing.T) {
	e := newPolicyEnv(t)
	body, _ := json.Marshal(protocol.SubmitRequest{Version: protocol.SubmitVersion, Playbook: webBook, IdempotencyKey: "forged"})
	other, _ := json.Marshal(protocol.SubmitRequest{Version: protocol.SubmitVersion, Playbook: dbBook, IdempotencyKey: "forged"})
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	admin := signer(e.keys["admin"], protocol.SubmitSubject, ts, body)
	for _, tc := range []struct {
		name    string
		subject string
		body    []byte
		key     string
		sign    func(string) []byte
		want    string
	}{
		{"another key's signature", protocol.SubmitSubject, body, e.adminKey, signer(e.keys["deployer"], protocol.SubmitSubject, ts, body), "does not verify for key " + e.adminKey},
		{"body swapped after signing", protocol.SubmitSubject, other, e.adminKey, admin, "does not verify"},
		{"signature missing", protocol.SubmitSubject, body, e.adminKey, nil, "carries all of the headers"},
		{"not a user key", protocol.SubmitSubject, body, "ABADKEY", admin, "not a public user nkey"},
		{"replayed to another inbox", protocol.SubmitSubject, body, e.adminKey, func(string) []byte { return admin("_INBOX.victim") }, "does not verify"},
		{"moved to another endpoint", protocol.PruneRunsSubject, body, e.adminKey, admin, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forbidden(t, e.sendSigned(tc.subject, tc.body, tc.key, ts, tc.sign), tc.want)
		})
	}
	for _, name := range []string{protocol.RunsStreamName, "KV_" + protocol.RunsBucket, "KV_" + protocol.SubmissionsBucket} {
		if n := e.streamMessages(name); n != 0 {
			t.Errorf("%s holds %d messages after forged requests", name, n)
		}
	}
	recs := e.auditRecords()
	if got := findAudit(recs, "submit", protocol.DecisionDeny, ""); len(got) != 5 || !strings.Contains(got[0].Reason, "claimed, not proven") {
		t.Errorf("audit of the forged submits: %+v", got)
	}
	if got := findAudit(recs, "prune", protocol.DecisionDeny, ""); len(got) != 1 || got[0].Identity.Key != e.adminKey {
		t.Errorf("audit of the moved signature: %+v", got)
	}
	// The positive control: the admin's own signature is accepted.
	if err := e.sendSigned(protocol.SubmitSubject, body, e.adminKey, ts, admin); err != nil {
		t.Fatalf("a genuine signature was refused: %v", err)
	}
}

// A request signed outside the window (a replay, or a clock that is off) is refused, before or
// after now.
func TestStaleTimestampRefused(t *testing.T) {
	e := newPolicyEnv(t)
	body, _ := json.Marshal(protocol.GetRunRequest{Version: protocol.RunVersion, RunID: "r1"})
	for _, skew := range []time.Duration{-DefaultRequestWindow - time.Minute, DefaultRequestWindow + time.Minute} {
		ts := time.Now().Add(skew).UTC().Format(time.RFC3339Nano)
		sign := signer(e.keys["admin"], protocol.GetRunSubject, ts, body)
		forbidden(t, e.sendSigned(protocol.GetRunSubject, body, e.adminKey, ts, sign), "outside the ±2m0s window")
	}
	if got := findAudit(e.auditRecords(), "read", protocol.DecisionDeny, ""); len(got) != 2 {
		t.Errorf("%d audited refusals, want 2: %+v", len(got), got)
	}
	// Within the window the same request is answered (NOT_FOUND: the run does not exist).
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	sign := signer(e.keys["admin"], protocol.GetRunSubject, ts, body)
	var apiErr *protocol.ErrorResponse
	if err := e.sendSigned(protocol.GetRunSubject, body, e.adminKey, ts, sign); !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeNotFound {
		t.Fatalf("a fresh signature: want NOT_FOUND, got %v", err)
	}
}

// A viewer may read but neither cancel nor prune; an unsigned or unknown caller may not even
// read; a deployer reads and lists only its playbooks' runs.
func TestReadCancelPruneRights(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := context.Background()
	web, err := e.submitAs(e.admin, webBook)
	if err != nil {
		t.Fatal(err)
	}
	db, err := e.submitAs(e.admin, dbBook)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.viewer.Cancel(ctx, web.RunID, "")
	forbidden(t, err, "viewer", "cancel", web.RunID, "no rule allows viewer to cancel")
	_, err = e.viewer.Prune(ctx, time.Hour)
	forbidden(t, err, "viewer", "prune")
	_, err = e.deployer.Cancel(ctx, db.RunID, "")
	forbidden(t, err, "deployer", "cancel", "db-migrate")
	rec, _, err := mustRuns(t, e.env).Get(ctx, web.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CancelRequested || rec.CancelledBy != (protocol.Identity{}) {
		t.Errorf("a refused cancel was recorded: %+v", rec.CancelledBy)
	}

	if _, err := e.viewer.Get(ctx, db.RunID); err != nil {
		t.Errorf("viewer get: %v", err)
	}
	_, err = e.unsigned.Get(ctx, web.RunID)
	forbidden(t, err, "unsigned", "read")
	_, err = e.unsigned.List(ctx, 0)
	forbidden(t, err, "unsigned", "read")
	_, err = e.nobody.List(ctx, 0)
	forbidden(t, err, "is not one of the policy's identities")
	_, err = e.deployer.Get(ctx, db.RunID)
	forbidden(t, err, "deployer", "read", "db-migrate")
	runs, err := e.deployer.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != web.RunID || runs[0].SubmittedBy.Name != "admin" {
		t.Errorf("deployer lists %+v, want only %s", runs, web.RunID)
	}
	if all, err := e.viewer.List(ctx, 0); err != nil || len(all) != 2 {
		t.Errorf("viewer lists %d runs (%v), want 2", len(all), err)
	}
	recs := e.auditRecords()
	if n := len(findAudit(recs, "cancel", protocol.DecisionDeny, "")); n != 2 {
		t.Errorf("%d cancel refusals audited, want 2", n)
	}
	if n := len(findAudit(recs, "prune", protocol.DecisionDeny, "")); n != 1 {
		t.Errorf("%d prune refusals audited, want 1", n)
	}
	if n := len(findAudit(recs, "read", protocol.DecisionDeny, "")); n != 4 {
		t.Errorf("%d read refusals audited, want 4", n)
	}
}

// Cancel and prune are audited with the identity; the cancelling identity is in the record and
// the report; audit.list serves the records to who may audit and to nobody else.
func TestCancelAndPruneAudited(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := context.Background()
	web, err := e.submitAs(e.deployer, webBook)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.deployer.Cancel(ctx, web.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.Identity{Name: "deployer", Key: e.deployerKey}
	rec, _, err := mustRuns(t, e.env).Get(ctx, web.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.CancelledBy != want || r.CancelledBy != want || rec.CancelReason != "requested by "+want.String() {
		t.Errorf("cancelled_by %+v (report %+v), reason %q", rec.CancelledBy, r.CancelledBy, rec.CancelReason)
	}
	if _, err := e.admin.Prune(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	recs := e.auditRecords()
	if got := findAudit(recs, "cancel", protocol.DecisionAllow, web.RunID); len(got) != 1 || got[0].Identity != want || got[0].Playbook != "web-deploy" {
		t.Errorf("audit of the cancel: %+v", got)
	}
	if got := findAudit(recs, "prune", protocol.DecisionAllow, ""); len(got) != 1 || got[0].Identity.Name != "admin" || got[0].Identity.Key != e.adminKey {
		t.Errorf("audit of the prune: %+v", got)
	}

	listed, err := e.admin.Audit(ctx, protocol.AuditListRequest{Action: "cancel"})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].RunID != web.RunID || listed[0].Identity != want {
		t.Errorf("audit.list action=cancel: %+v", listed)
	}
	byDeployer, err := e.admin.Audit(ctx, protocol.AuditListRequest{Identity: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byDeployer) != 2 || byDeployer[0].Action != "submit" || byDeployer[1].Action != "cancel" {
		t.Errorf("audit.list identity=deployer: %+v", byDeployer)
	}
	if last, err := e.admin.Audit(ctx, protocol.AuditListRequest{Limit: 1}); err != nil || len(last) != 1 || last[0].Action != "prune" {
		t.Errorf("audit.list limit=1: %+v (%v), want the prune", last, err)
	}
	if later, err := e.admin.Audit(ctx, protocol.AuditListRequest{Since: time.Now().Add(time.Hour)}); err != nil || len(later) != 0 {
		t.Errorf("audit.list since an hour ahead: %+v (%v)", later, err)
	}
	_, err = e.viewer.Audit(ctx, protocol.AuditListRequest{})
	forbidden(t, err, "viewer", "audit")
	_, err = e.admin.Audit(ctx, protocol.AuditListRequest{Action: "delete"})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeBadRequest || !strings.Contains(apiErr.Message, "action") {
		t.Errorf("an unknown action filter: %v", err)
	}
}

// A child run started by a playbook task carries its parent's submitter, and the policy is
// asked again: the deployer's web playbook may start a web child but not a db one.
func TestChildRunCarriesTheSubmitter(t *testing.T) {
	e := newPolicyEnv(t)
	e.startTestWorker(succeed)
	parent := "name: web-parent\nversion: \"1.0.0\"\nauthor: tests\ndescription: parent\ntasks:\n" +
		"  - playbook:\n      file: web.yaml\n" + "  - playbook:\n      file: db.yaml\n      fail_ok: true\n"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.deployer.Submit(ctx, protocol.SubmitRequest{Playbook: parent, IdempotencyKey: "parent",
		Files: map[string]string{"web.yaml": webBook, "db.yaml": dbBook}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.waitFinal(resp.RunID, 30*time.Second)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != 2 {
		t.Fatalf("parent %s with %d tasks: %s", r.Status, len(r.Tasks), r.Error)
	}
	child := r.Tasks[0].Child
	if !r.Tasks[0].Success || child == "" {
		t.Fatalf("web child task: %+v", r.Tasks[0])
	}
	if r.Tasks[1].Child != "" || !strings.Contains(r.Tasks[1].Msg, "forbidden") || !strings.Contains(r.Tasks[1].Msg, "db-migrate") {
		t.Errorf("db child task: %+v", r.Tasks[1])
	}
	want := protocol.Identity{Name: "deployer", Key: e.deployerKey}
	cr, _, err := mustRuns(t, e.env).Get(ctx, child)
	if err != nil {
		t.Fatal(err)
	}
	if cr.SubmittedBy != want || cr.Parent != resp.RunID {
		t.Errorf("child submitted_by %+v parent %s", cr.SubmittedBy, cr.Parent)
	}
	recs := e.auditRecords()
	if got := findAudit(recs, "submit", protocol.DecisionAllow, child); len(got) != 1 || got[0].Identity != want || got[0].Parent != resp.RunID {
		t.Errorf("audit of the child submit: %+v", got)
	}
	if got := findAudit(recs, "submit", protocol.DecisionDeny, ""); len(got) != 1 || got[0].Playbook != "db-migrate" || got[0].Identity != want {
		t.Errorf("audit of the refused child: %+v", got)
	}
}

// A client key that cannot sign, or is not a user key, is refused when the client is made.
func TestWithIdentityKeyRefusesUnusableKeys(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	publicOnly, _ := nkeys.FromPublicKey(pub)
	account, _ := nkeys.CreateAccount()
	for name, kp := range map[string]nkeys.KeyPair{"public key only": publicOnly, "account key": account, "nil": nil} {
		if _, err := NewClient(e.nc, WithIdentityKey(kp)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: want ErrInvalidOption, got %v", name, err)
		}
	}
}

// A signed request that nobody serves ends with ErrNoCoordinator at once, as an unsigned one does.
func TestSignedRequestWithoutCoordinator(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	kp, _ := nkeys.CreateUser()
	c, err := NewClient(e.nc, WithIdentityKey(kp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.List(ctx, 1); !errors.Is(err, ErrNoCoordinator) {
		t.Fatalf("want ErrNoCoordinator, got %v", err)
	}
}

// Schedules under the policy: a stranger's key, the viewer and unsigned callers manage none; the
// deployer manages schedules of its playbooks only; refused schedules store nothing, an allowed
// add is audited with the schedule's name.
func TestScheduleRights(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := context.Background()
	add := func(c *Client, name, doc string) error {
		_, err := c.AddSchedule(ctx, protocol.ScheduleAddRequest{Name: name, Playbook: doc,
			Spec: protocol.ScheduleSpec{Cron: []string{"0 3 * * *"}}})
		return err
	}
	forbidden(t, add(e.nobody, "s1", webBook), "is not one of the policy's identities")
	forbidden(t, add(e.viewer, "s1", webBook), "viewer", "schedule")
	forbidden(t, add(e.unsigned, "s1", webBook), "unsigned")
	forbidden(t, add(e.deployer, "s1", dbBook), "deployer", "db-migrate")
	_, err := e.nobody.ListSchedules(ctx)
	forbidden(t, err)
	if names, err := kvstoreSchedules(t, e.env).Names(ctx); err != nil || len(names) != 0 {
		t.Fatalf("refused schedules were stored: %v %v", names, err)
	}

	if err := add(e.deployer, "web-nightly", webBook); err != nil {
		t.Fatal(err)
	}
	if err := add(e.admin, "db-nightly", dbBook); err != nil {
		t.Fatal(err)
	}
	_, err = e.deployer.PauseSchedule(ctx, "db-nightly", true, "")
	forbidden(t, err, "deployer", "db-migrate")
	_, err = e.deployer.TriggerSchedule(ctx, "db-nightly", "k")
	forbidden(t, err, "deployer", "db-migrate")
	forbidden(t, e.viewer.DeleteSchedule(ctx, "web-nightly"), "viewer")
	// The viewer reads both; a listing leaves out what the caller may not read (nothing here).
	if list, err := e.viewer.ListSchedules(ctx); err != nil || len(list) != 2 {
		t.Fatalf("viewer list: %v %v", list, err)
	}
	if _, err := e.deployer.PauseSchedule(ctx, "web-nightly", true, "freeze"); err != nil {
		t.Fatal(err)
	}
	var audited bool
	for _, rec := range e.auditRecords() {
		if rec.Action == "schedule" && rec.Decision == protocol.DecisionAllow && rec.Schedule == "web-nightly" && rec.Identity.Name == "deployer" {
			audited = true
		}
	}
	if !audited {
		t.Error("the deployer's schedule changes are not in the audit log with the schedule's name")
	}
}
