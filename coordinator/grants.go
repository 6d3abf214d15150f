package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
)

// A grant must outlive every legitimate use of its job: the wait in the job queue, up to
// grantStarts starts of the job (the worker's default max deliveries: redeliveries and
// takeovers, each bounded by the job's timeout plus the time a silent holder takes to be taken
// over) and the agents' clock skew. A job that still outlives its grant fails on every node with
// "grant is expired", visibly, and the step's next try is published with a fresh grant. Agents
// remember each signed request id for as long, so the life also bounds their memory.
const (
	grantStarts     = 5
	grantStartSlack = time.Minute
	grantSlack      = 10 * time.Minute
	// grantMinStart is the per-start allowance of a job with a shorter timeout (or none).
	grantMinStart = time.Minute
)

// grantLife is how long the grant of job stays valid.
func grantLife(job *protocol.Job) time.Duration {
	per := max(job.Timeout, grantMinStart)
	if job.RPC != nil {
		per = max(per, job.RPC.Timeout)
	}
	return grantStarts*(per+grantStartSlack) + grantSlack
}

// signed returns job as it is published. With a signer it is a copy carrying its result token
// and, for an rpc job (or a discover job that pings its nodes), the signed grant; the job kept in
// the run record stays without them, since run records are readable beyond the workers.
func (d *driver) signed(ctx context.Context, job *protocol.Job) (*protocol.Job, error) {
	s := d.c.opts.signer
	if s == nil {
		return job, nil
	}
	out := *job
	out.ResultToken = s.ResultToken(job.ID)
	now := time.Now()
	var err error
	switch {
	case job.Type == protocol.TaskRPC && job.RPC != nil:
		var args map[string]any
		if args, err = d.revealedArgs(ctx, job.RPC.Properties); err == nil {
			out.Grant, err = s.RPCGrant(job.ID, job.RPC.Agent, job.RPC.Action, args, job.Targets, now, grantLife(job))
		}
	case job.Type == protocol.TaskDiscover && job.Discover != nil && job.Discover.Test:
		out.Grant, err = s.PingGrant(job.ID, now, grantLife(job))
	}
	if err != nil {
		return nil, fmt.Errorf("sign job %s: %w", job.ID, err)
	}
	return &out, nil
}

// revealedArgs are the rpc arguments as the agents receive them: the worker puts the sensitive
// inputs back into the job's JSON text (worker/secrets.go), each as its JSON-escaped text, so the
// signed digest is taken of the same replacement.
func (d *driver) revealedArgs(ctx context.Context, props map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(props)
	if err != nil || !protocol.HasSecretRefs(string(raw)) {
		return props, err
	}
	if d.secretValues == nil {
		if d.secretValues, err = d.c.secrets.Get(ctx, d.rec.ID); err != nil {
			return nil, err
		}
	}
	text := protocol.ReplaceSecretRefs(string(raw), func(name string) string {
		v, ok := d.secretValues[name]
		if !ok {
			return protocol.Redacted
		}
		quoted, _ := json.Marshal(protocol.SecretText(v))
		return string(quoted[1 : len(quoted)-1])
	})
	var out map[string]any
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("rpc arguments with their secrets: %w", err)
	}
	return out, nil
}

// bound reports why res must not be applied as the result of job, or nil. Without a signer every
// result is applied. With one, a result is applied only if it names job and carries the token
// made for job: one published by anyone but a worker that received the job is refused.
func (d *driver) bound(job *protocol.Job, res *protocol.Result) error {
	s := d.c.opts.signer
	if s == nil {
		return nil
	}
	if res.ID != job.ID {
		return fmt.Errorf("%w: result names job %s, published for job %s", trust.ErrUnboundResult, res.ID, job.ID)
	}
	return s.CheckResult(res)
}

// refusedResult logs a result that bound refused: it is not applied.
func (d *driver) refusedResult(job *protocol.Job, res *protocol.Result, why error) {
	d.log.Error("refused result: not bound to the job it answers", "job", job.ID.String(), "result_job", res.ID.String(),
		"worker", res.Worker, "success", res.Success, "reason", why.Error())
}
