package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// runMessage is the body of a run message; the subject carries the run id too.
type runMessage struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
}

// handleSubmit validates a submission completely before it stores anything, then records the
// idempotency key, the run record and the run message, in that order. Each write is safe to repeat,
// so a client retrying after any failure gets the same run. The submitter is the request's
// verified identity: a submitted_by in the body is no field of SubmitRequest, and is ignored.
func (c *Coordinator) handleSubmit(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.SubmitRequest
	if err := json.Unmarshal(r.data, &req); err != nil {
		return nil, apiError(protocol.CodeBadRequest, "decode submit request: %v", err)
	}
	return c.submit(ctx, req, r.who)
}

// submit accepts a run submitted by by; the API and playbook tasks starting child runs (with
// their parent's submitter, asking the policy again) both come through here. The policy is asked
// before anything is stored, and the accepted submission is audited before the run is.
func (c *Coordinator) submit(ctx context.Context, req protocol.SubmitRequest, by protocol.Identity) (*protocol.SubmitResponse, *protocol.ErrorResponse) {
	return c.submitFrom(ctx, req, by, runOrigin{})
}

// runOrigin is where a run comes from when it is not the API's: the schedule slot it fires for.
// It is no field of SubmitRequest, so no client can claim a schedule's name for its run.
type runOrigin struct {
	schedule     string
	scheduledFor time.Time
}

// submitFrom is submit for a run from origin, recorded in the run and in its audit record.
func (c *Coordinator) submitFrom(ctx context.Context, req protocol.SubmitRequest, by protocol.Identity, origin runOrigin) (*protocol.SubmitResponse, *protocol.ErrorResponse) {
	if req.Version != protocol.SubmitVersion {
		return nil, apiError(protocol.CodeBadRequest, "unsupported submit request version %d (this coordinator speaks %d)", req.Version, protocol.SubmitVersion)
	}
	if req.IdempotencyKey == "" {
		return nil, apiError(protocol.CodeBadRequest, "idempotency_key is required")
	}
	// Who may submit nothing gets no validation service either.
	if _, apiErr := c.permit(ctx, by, policy.Submit, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	if req.Timeout < 0 {
		// Not "no deadline": a caller asking for a negative one made a mistake.
		return nil, apiError(protocol.CodeBadRequest, "timeout must not be negative, got %s", req.Timeout)
	}
	pb, inputs, err := c.validate(req.Playbook, req.Inputs)
	if err != nil {
		return nil, asAPIError(err)
	}
	if apiErr := checkFiles(pb, req.Files); apiErr != nil {
		return nil, apiErr
	}
	ref := protocol.PlaybookRef{Name: pb.Name, Version: pb.Version, Tags: pb.Tags}
	audit, apiErr := c.permit(ctx, by, policy.Submit, &ref, "")
	if apiErr != nil {
		return nil, apiErr
	}

	hash := requestHash(req)
	sub, claimed, err := c.submissions.Claim(ctx, req.IdempotencyKey, kvstore.Submission{
		RunID: newRunID(), RequestHash: hash,
	})
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "record submission: %v", err)
	}
	if !claimed && sub.RequestHash != hash {
		return nil, apiError(protocol.CodeIdempotencyConflict,
			"idempotency key %q was already used for a different playbook or inputs (run %s)", req.IdempotencyKey, sub.RunID)
	}
	audit.RunID, audit.Parent, audit.Schedule = sub.RunID, req.Parent, origin.schedule
	if err := c.writeAudit(ctx, audit); err != nil {
		return nil, apiError(protocol.CodeInternal, "%v", err)
	}

	inputs, secrets := splitSecrets(pb, inputs, req.Sensitive, req.Scrub)
	if len(secrets) > 0 {
		if err := c.secrets.Put(ctx, sub.RunID, secrets); err != nil {
			return nil, apiError(protocol.CodeInternal, "store sensitive inputs: %v", err)
		}
	}
	rec := &protocol.RunRecord{
		Version:        protocol.RunVersion,
		ID:             sub.RunID,
		Playbook:       ref,
		SubmittedBy:    by,
		Document:       req.Playbook,
		Source:         req.Source,
		Inputs:         inputs,
		Secrets:        len(secrets) > 0,
		IdempotencyKey: req.IdempotencyKey,
		RequestHash:    hash,
		Files:          req.Files,
		Parent:         req.Parent,
		Schedule:       origin.schedule,
		ScheduledFor:   origin.scheduledFor,
		Status:         protocol.StatusPending,
		CreatedAt:      time.Now().UTC(),
	}
	if req.Timeout > 0 {
		rec.Deadline = rec.CreatedAt.Add(req.Timeout)
	}
	rev, stored, err := c.runs.CreateCopy(ctx, rec)
	created := err == nil
	if err != nil {
		if !errors.Is(err, kvstore.ErrExists) {
			return nil, apiError(protocol.CodeInternal, "store run: %v", err)
		}
		if rec, rev, err = c.runs.Get(ctx, sub.RunID); err != nil {
			return nil, apiError(protocol.CodeInternal, "load run: %v", err)
		}
	}
	// A run no coordinator has claimed may never have had its message published (the first
	// attempt died in between): publish it again. A copy that arrives twice is dropped by
	// the driver, which only follows the message recorded in the run.
	if rec.Status == protocol.StatusPending && rec.RunMessage == 0 {
		if created && stored != nil {
			c.handoffs.put(stored, rev, pb, time.Now())
		}
		if err := c.publishRun(ctx, rec.ID); err != nil {
			if kvstore.IsQueueFull(err) {
				return nil, c.refuseFull(ctx, rec, rev, err)
			}
			return nil, apiError(protocol.CodeInternal, "queue run: %v", err)
		}
	}
	if created {
		c.opts.metrics.RunSubmitted(rec.Playbook.Name)
	}
	c.opts.log.Info("run accepted", "run_id", rec.ID, "playbook", rec.Playbook.Name, "duplicate", !claimed)
	return &protocol.SubmitResponse{Version: protocol.SubmitVersion, RunID: rec.ID, Duplicate: !claimed}, nil
}

func (c *Coordinator) publishRun(ctx context.Context, runID string) error {
	body, err := json.Marshal(runMessage{Version: protocol.RunVersion, RunID: runID})
	if err != nil {
		return err
	}
	_, err = c.js.Publish(ctx, protocol.RunSubject(runID), body, jetstream.WithMsgID(runID))
	return err
}

// ValidatePlaybook parses a playbook and checks that this fleetbook can run it, without storing
// or running anything. The error, when there is one, is a *protocol.ErrorResponse (find it with
// errors.As) that names every problem found, exactly as a refused submission does.
func ValidatePlaybook(doc []byte, opts ...playbooks.ParseOption) (*playbooks.Playbook, error) {
	pb, err := playbooks.Parse(doc, opts...)
	if err != nil {
		return nil, problemsError(protocol.CodeInvalidPlaybook, "invalid playbook", err)
	}
	if probs := unsupported(pb); len(probs) > 0 {
		return nil, &protocol.ErrorResponse{Code: protocol.CodeInvalidPlaybook,
			Message: "invalid playbook: it uses features this fleetbook cannot run yet", Problems: probs}
	}
	return pb, nil
}

// Validate checks a playbook and resolves its inputs exactly as a submission does, without
// storing or running anything. The error, when there is one, is a *protocol.ErrorResponse (find
// it with errors.As) that names every problem found.
func Validate(doc []byte, given map[string]any, opts ...playbooks.ParseOption) (*playbooks.Playbook, map[string]any, error) {
	pb, err := ValidatePlaybook(doc, opts...)
	if err != nil {
		return nil, nil, err
	}
	return resolveInputs(pb, given)
}

// resolveInputs resolves the inputs given for a playbook as a submission does.
func resolveInputs(pb *playbooks.Playbook, given map[string]any) (*playbooks.Playbook, map[string]any, error) {
	inputs, err := pb.ResolveInputs(given)
	if err != nil {
		return nil, nil, problemsError(protocol.CodeInvalidInput, "invalid inputs", err)
	}
	return pb, inputs, nil
}

// problemsError turns a playbooks error into an API error listing every problem.
func problemsError(code, msg string, err error) *protocol.ErrorResponse {
	resp := &protocol.ErrorResponse{Code: code, Message: msg}
	var verr *playbooks.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			resp.Problems = append(resp.Problems, protocol.Problem{Path: p.Path, Line: p.Line, Message: p.Message})
		}
		return resp
	}
	resp.Message = msg + ": " + err.Error()
	return resp
}

// requestHash identifies a submission's content, to tell a retry from a reused key.
func requestHash(req protocol.SubmitRequest) string {
	h := sha256.New()
	h.Write([]byte(req.Playbook))
	h.Write([]byte{0})
	// encoding/json sorts map keys, so equal inputs hash equally.
	inputs, _ := json.Marshal(req.Inputs)
	h.Write(inputs)
	files, _ := json.Marshal(req.Files)
	h.Write(files)
	return hex.EncodeToString(h.Sum(nil))
}

// newRunID returns a time-ordered id (UUIDv7), so ids sort by submission time.
func newRunID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// splitSecrets takes the values of sensitive inputs (declared so, or named in sensitive) out of
// inputs, leaving a reference to each in its place: the values are stored apart from the run
// record (see protocol.SecretRef), beside the scrub-only values (protocol.ScrubOnlyPrefix).
func splitSecrets(pb *playbooks.Playbook, inputs map[string]any, sensitive, scrub []string) (map[string]any, map[string]any) {
	secrets := map[string]any{}
	for _, in := range pb.Inputs {
		if v, ok := inputs[in.Name]; ok && (in.Sensitive || slices.Contains(sensitive, in.Name)) {
			secrets[in.Name] = v
			inputs[in.Name] = protocol.SecretRef(in.Name)
		}
	}
	for i, v := range scrub {
		secrets[fmt.Sprintf("%s%d", protocol.ScrubOnlyPrefix, i)] = v
	}
	return inputs, secrets
}
