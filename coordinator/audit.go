package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// Audit listings.
const (
	// defaultAuditLimit is how many records a listing returns when the request names no limit.
	defaultAuditLimit = 100
	// maxAuditLimit bounds one listing's reply.
	maxAuditLimit = 10000
	// auditFetch is how many records one fetch of a listing reads.
	auditFetch = 500
)

// decide asks the policy whether who may do action, to the playbook of pb or, when pb is nil, to
// any playbook at all (the question before a run is loaded, and the only one for prune and audit).
func (c *Coordinator) decide(who protocol.Identity, action policy.Action, pb *protocol.PlaybookRef) policy.Decision {
	p := c.opts.policy
	if p == nil {
		return policy.Decision{Allowed: true, Reason: "no policy: every request is allowed", Name: who.Name}
	}
	id := policyID(who)
	if pb != nil {
		return p.Decide(id, action, pb.Name, pb.Tags)
	}
	d := p.Decide(id, action, "", nil)
	if !d.Allowed && d.Name != "" && p.Grants(id, action) {
		d.Allowed, d.Reason = true, "allowed for some playbooks"
	} else if !d.Allowed && d.Name != "" {
		d.Reason = fmt.Sprintf("no rule allows %s to %s", d.Name, action)
	}
	return d
}

// permit decides whether who may do action (see decide). A refusal is audited at once and
// returned as a FORBIDDEN error naming the identity, the action and the reason. An allowed
// action comes back as its audit record, for the caller to complete (the run id) and write with
// writeAudit before it acts.
func (c *Coordinator) permit(ctx context.Context, who protocol.Identity, action policy.Action, pb *protocol.PlaybookRef, runID string) (protocol.AuditRecord, *protocol.ErrorResponse) {
	d := c.decide(who, action, pb)
	rec := protocol.AuditRecord{
		Version: protocol.AuditVersion, Time: time.Now().UTC(), Identity: who, Action: string(action),
		RunID: runID, Decision: protocol.DecisionAllow, Reason: d.Reason, Coordinator: c.opts.name,
		Via: viaOf(ctx, who),
	}
	if pb != nil {
		rec.Playbook = pb.Name
	}
	if d.Allowed {
		return rec, nil
	}
	rec.Decision = protocol.DecisionDeny
	c.auditRefusal(ctx, rec)
	about := ""
	switch {
	case pb != nil && runID != "":
		about = fmt.Sprintf(" run %s (playbook %s)", runID, pb.Name)
	case pb != nil:
		about = " playbook " + pb.Name
	case runID != "":
		about = " run " + runID
	}
	return rec, apiError(protocol.CodeForbidden, "forbidden: %s may not %s%s: %s", who, action, about, d.Reason)
}

// writeAudit appends rec to the audit stream, confirmed: an action is taken only once its
// record is stored, so an allowed action whose record cannot be written is not taken.
func (c *Coordinator) writeAudit(ctx context.Context, rec protocol.AuditRecord) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := c.js.Publish(ctx, protocol.AuditSubject(rec.Action), body); err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	return nil
}

// auditRefusal writes the record of a refusal. The refusal stands whether or not it is
// recorded, so a failure is only logged.
func (c *Coordinator) auditRefusal(ctx context.Context, rec protocol.AuditRecord) {
	if err := c.writeAudit(ctx, rec); err != nil {
		c.opts.log.Error("auditing a refusal", "identity", rec.Identity.String(), "action", rec.Action, "error", err)
	}
}

// permitAndRecord is permit followed, for an allowed action, by writing its record.
func (c *Coordinator) permitAndRecord(ctx context.Context, who protocol.Identity, action policy.Action, pb *protocol.PlaybookRef, runID string) *protocol.ErrorResponse {
	rec, apiErr := c.permit(ctx, who, action, pb, runID)
	if apiErr != nil {
		return apiErr
	}
	if err := c.writeAudit(ctx, rec); err != nil {
		return apiError(protocol.CodeInternal, "%v", err)
	}
	return nil
}

func (c *Coordinator) handleAuditList(ctx context.Context, req apiRequest) (any, *protocol.ErrorResponse) {
	var q protocol.AuditListRequest
	if len(req.data) > 0 {
		if err := json.Unmarshal(req.data, &q); err != nil {
			return nil, apiError(protocol.CodeBadRequest, "decode audit list request: %v", err)
		}
	}
	if q.Action != "" && !slices.Contains(policy.Actions, policy.Action(q.Action)) {
		return nil, apiError(protocol.CodeBadRequest, "action: unknown action %q", q.Action)
	}
	if q.Limit < 0 || q.Limit > maxAuditLimit {
		return nil, apiError(protocol.CodeBadRequest, "limit: give 1 to %d (0: %d), got %d", maxAuditLimit, defaultAuditLimit, q.Limit)
	}
	if _, apiErr := c.permit(ctx, req.who, policy.Audit, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	recs, err := c.readAudit(ctx, q)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "read audit records: %v", err)
	}
	return protocol.AuditListResponse{Version: protocol.AuditVersion, Records: recs}, nil
}

// readAudit returns the newest q.Limit records matching q, oldest first. It reads every record
// of the action (since q.Since) once, through a consumer of its own that goes when it is done.
func (c *Coordinator) readAudit(ctx context.Context, q protocol.AuditListRequest) ([]protocol.AuditRecord, error) {
	limit := q.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	cfg := jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckNonePolicy, FilterSubject: protocol.AuditSubjectWildcard,
		InactiveThreshold: time.Minute, MemoryStorage: true,
	}
	if q.Action != "" {
		cfg.FilterSubject = protocol.AuditSubject(q.Action)
	}
	if !q.Since.IsZero() {
		since := q.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := c.js.CreateConsumer(ctx, protocol.AuditStreamName, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = c.js.DeleteConsumer(context.WithoutCancel(ctx), protocol.AuditStreamName, cons.CachedInfo().Name)
	}()
	out := []protocol.AuditRecord{}
	for pending := cons.CachedInfo().NumPending; pending > 0; {
		batch, err := cons.Fetch(int(min(pending, auditFetch)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if meta, err := m.Metadata(); err == nil {
				pending = meta.NumPending
			}
			var rec protocol.AuditRecord
			if json.Unmarshal(m.Data(), &rec) != nil {
				continue
			}
			if q.Identity != "" && !rec.Identity.Is(q.Identity) && (rec.Via == nil || !rec.Via.Is(q.Identity)) {
				continue
			}
			if out = append(out, rec); len(out) > limit {
				out = out[1:]
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if got == 0 {
			return nil, fmt.Errorf("the audit stream stopped answering with %d records still to read", pending)
		}
	}
	return out, nil
}
