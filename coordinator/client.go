package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/protocol"
)

// Client talks to the coordinators' API: it submits runs, follows their events and reads reports.
type Client struct {
	nc *nats.Conn
	js jetstream.JetStream
	// key signs every API request; nil sends them unsigned.
	key nkeys.KeyPair
	// replies is the inbox of signed requests.
	replies *replyMux
	// session, when set, is the session grant sent with every request (see ForSession).
	session string
}

// ForSession returns a client that sends every request with the session grant (made by
// NewSessionGrant) of the identity that signed in to a console, signed by this client's own key:
// the console's. It shares this client's connection and inbox.
func (c *Client) ForSession(grant string) *Client {
	cp := *c
	cp.session = grant
	return &cp
}

// ClientOption configures a Client; it returns an error for a value it refuses.
type ClientOption func(*Client) error

// WithIdentityKey makes the client sign every API request with kp, a user nkey with its seed:
// the coordinators then know the caller as kp's public key (and the name their policy gives
// it). Without it requests are unsigned, and their caller is "unsigned".
func WithIdentityKey(kp nkeys.KeyPair) ClientOption {
	return func(c *Client) error {
		if kp == nil {
			return errors.New("identity key must not be nil")
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return fmt.Errorf("identity key: %w", err)
		}
		if !nkeys.IsValidPublicUserKey(pub) {
			return fmt.Errorf("identity key %s is not a user nkey (its public key starts with U)", pub)
		}
		if _, err := kp.Sign([]byte("fleetbook")); err != nil {
			return fmt.Errorf("identity key %s cannot sign (give the seed, not only the public key): %w", pub, err)
		}
		c.key = kp
		return nil
	}
}

// NewClient returns a client using nc. A nil nc, a nil option or a value an option refuses is
// an error wrapping ErrInvalidOption.
func NewClient(nc *nats.Conn, opts ...ClientOption) (*Client, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidOption)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	c := &Client{nc: nc, js: js, replies: newReplyMux(nc)}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil ClientOption", ErrInvalidOption)
		}
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	return c, nil
}

// Submit asks a coordinator to start a run. Submitting the same request (same idempotency key)
// again is safe and gives the same run, so Submit retries while no coordinator answers, until ctx
// ends. A refused submission returns a *protocol.ErrorResponse naming every problem.
func (c *Client) Submit(ctx context.Context, req protocol.SubmitRequest) (*protocol.SubmitResponse, error) {
	req.Version = protocol.SubmitVersion
	var resp protocol.SubmitResponse
	for {
		err := c.call(ctx, protocol.SubmitSubject, req, &resp)
		var apiErr *protocol.ErrorResponse
		retry := errors.Is(err, ErrNoCoordinator) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil ||
			errors.As(err, &apiErr) && apiErr.Code == protocol.CodeInternal
		if !retry {
			return &resp, err
		}
		if sleep(ctx, 250*time.Millisecond) != nil {
			return nil, err
		}
	}
}

// Get returns the report of run id.
func (c *Client) Get(ctx context.Context, id string) (*protocol.Report, error) {
	var r protocol.Report
	if err := c.call(ctx, protocol.GetRunSubject, protocol.GetRunRequest{Version: protocol.RunVersion, RunID: id}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Cancel asks for run id to be stopped and returns its report as it stands.
func (c *Client) Cancel(ctx context.Context, id, reason string) (*protocol.Report, error) {
	var r protocol.Report
	req := protocol.CancelRunRequest{Version: protocol.RunVersion, RunID: id, Reason: reason}
	if err := c.call(ctx, protocol.CancelRunSubject, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Prune deletes the runs that ended more than olderThan ago, asking again until a coordinator
// looked at every run, and returns how many it deleted.
func (c *Client) Prune(ctx context.Context, olderThan time.Duration) (int, error) {
	pruned := 0
	for {
		var r protocol.PruneRunsResponse
		req := protocol.PruneRunsRequest{Version: protocol.SubmitVersion, OlderThan: olderThan}
		if err := c.call(ctx, protocol.PruneRunsSubject, req, &r); err != nil {
			return pruned, err
		}
		pruned += r.Pruned
		if r.Complete {
			return pruned, nil
		}
	}
}

// List returns up to limit runs, newest first (0: the server's default).
func (c *Client) List(ctx context.Context, limit int) ([]protocol.RunSummary, error) {
	var r protocol.ListRunsResponse
	if err := c.call(ctx, protocol.ListRunsSubject, protocol.ListRunsRequest{Version: protocol.SubmitVersion, Limit: limit}, &r); err != nil {
		return nil, err
	}
	return r.Runs, nil
}

// Audit returns the audit records req asks for, oldest first (the newest req.Limit of them).
func (c *Client) Audit(ctx context.Context, req protocol.AuditListRequest) ([]protocol.AuditRecord, error) {
	req.Version = protocol.AuditVersion
	var r protocol.AuditListResponse
	if err := c.call(ctx, protocol.AuditListSubject, req, &r); err != nil {
		return nil, err
	}
	return r.Records, nil
}

// Follow calls onEvent with every event of run id, from its first, until the run finishes, and
// returns the final report. Events are the progress display; the report is read from the run
// record, which is also polled every poll interval in case the last event never comes.
func (c *Client) Follow(ctx context.Context, id string, poll time.Duration, onEvent func(protocol.Event)) (*protocol.Report, error) {
	cons, err := c.js.OrderedConsumer(ctx, protocol.EventsStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{protocol.EventSubject(id)},
	})
	if err != nil {
		return nil, fmt.Errorf("follow events of run %s: %w", id, err)
	}
	events := make(chan protocol.Event, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		evs, _ := protocol.DecodeEvents(m.Data())
		for _, ev := range evs {
			events <- ev
		}
	})
	if err != nil {
		return nil, fmt.Errorf("follow events of run %s: %w", id, err)
	}
	defer cc.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev := <-events:
			onEvent(ev)
			if ev.Type != protocol.EventRunFinished {
				continue
			}
		case <-tick.C:
		}
		r, err := c.Get(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			continue // the coordinator may be restarting; keep following
		}
		if r.Status.Final() {
			return r, nil
		}
	}
}

// request sends req and waits for its reply. A signed request goes through the client's own
// inbox (replyMux), so that its reply subject is part of what it signs: a copy of the request
// replayed by someone else, asking for the reply elsewhere, does not verify.
func (c *Client) request(ctx context.Context, req *nats.Msg) (*nats.Msg, error) {
	if c.session != "" {
		if req.Header == nil {
			req.Header = nats.Header{}
		}
		req.Header.Set(protocol.SessionHeader, c.session)
	}
	if c.key == nil {
		return c.nc.RequestMsgWithContext(ctx, req)
	}
	return c.replies.request(ctx, req, func(m *nats.Msg) error { return signRequest(c.key, m, time.Now()) })
}

// call sends one API request, signed when the client has a key, and decodes the reply into out.
func (c *Client) call(ctx context.Context, subject string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return c.callRaw(ctx, subject, body, out)
}

// callRaw sends body as an API request; see call.
func (c *Client) callRaw(ctx context.Context, subject string, body []byte, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, apiTimeout+5*time.Second)
		defer cancel()
	}
	msg, err := c.request(ctx, &nats.Msg{Subject: subject, Data: body})
	if errors.Is(err, nats.ErrNoResponders) {
		return ErrNoCoordinator
	}
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if code := msg.Header.Get(protocol.ErrorCodeHeader); code != "" {
		apiErr := &protocol.ErrorResponse{}
		if json.Unmarshal(msg.Data, apiErr) != nil || apiErr.Code == "" {
			apiErr = &protocol.ErrorResponse{Code: code, Message: msg.Header.Get(protocol.ErrorHeader)}
		}
		return apiErr
	}
	return json.Unmarshal(msg.Data, out)
}

// ListNodes returns a page of the node registry, the most recently seen nodes first.
func (c *Client) ListNodes(ctx context.Context, req protocol.ListNodesRequest) (*protocol.ListNodesResponse, error) {
	req.Version = protocol.SubmitVersion
	var r protocol.ListNodesResponse
	if err := c.call(ctx, protocol.ListNodesSubject, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// AddSchedule adds a schedule; its playbook and inputs are validated as a submission's, and a
// refusal is a *protocol.ErrorResponse naming every problem.
func (c *Client) AddSchedule(ctx context.Context, req protocol.ScheduleAddRequest) (*protocol.ScheduleInfo, error) {
	req.Version = protocol.ScheduleVersion
	var out protocol.ScheduleInfo
	return &out, c.call(ctx, protocol.ScheduleAddSubject, req, &out)
}

// UpdateSchedule changes the fields of a schedule that req gives.
func (c *Client) UpdateSchedule(ctx context.Context, req protocol.ScheduleUpdateRequest) (*protocol.ScheduleInfo, error) {
	req.Version = protocol.ScheduleVersion
	var out protocol.ScheduleInfo
	return &out, c.call(ctx, protocol.ScheduleUpdateSubject, req, &out)
}

// GetSchedule returns schedule name with its next fire times (next of them; 0 means 10).
func (c *Client) GetSchedule(ctx context.Context, name string, next int) (*protocol.ScheduleInfo, error) {
	var out protocol.ScheduleInfo
	req := protocol.ScheduleGetRequest{Version: protocol.ScheduleVersion, Name: name, Next: next}
	return &out, c.call(ctx, protocol.ScheduleGetSubject, req, &out)
}

// ListSchedules returns every schedule the caller may read, by name.
func (c *Client) ListSchedules(ctx context.Context) ([]protocol.ScheduleSummary, error) {
	var out protocol.ScheduleListResponse
	err := c.call(ctx, protocol.ScheduleListSubject, protocol.ScheduleListRequest{Version: protocol.ScheduleVersion}, &out)
	return out.Schedules, err
}

// PauseSchedule pauses (pause true) or resumes schedule name, with note.
func (c *Client) PauseSchedule(ctx context.Context, name string, pause bool, note string) (*protocol.ScheduleInfo, error) {
	subject := protocol.ScheduleResumeSubject
	if pause {
		subject = protocol.SchedulePauseSubject
	}
	var out protocol.ScheduleInfo
	req := protocol.SchedulePauseRequest{Version: protocol.ScheduleVersion, Name: name, Note: note}
	return &out, c.call(ctx, subject, req, &out)
}

// TriggerSchedule runs schedule name now, under its overlap policy; the same key never starts
// a second run.
func (c *Client) TriggerSchedule(ctx context.Context, name, key string) (*protocol.ScheduleActionResponse, error) {
	var out protocol.ScheduleActionResponse
	req := protocol.ScheduleTriggerRequest{Version: protocol.ScheduleVersion, Name: name, Key: key}
	return &out, c.call(ctx, protocol.ScheduleTriggerSubject, req, &out)
}

// BackfillSchedule fires the slots of schedule name in [from, to] that have not run.
func (c *Client) BackfillSchedule(ctx context.Context, req protocol.ScheduleBackfillRequest) (*protocol.ScheduleActionResponse, error) {
	req.Version = protocol.ScheduleVersion
	var out protocol.ScheduleActionResponse
	return &out, c.call(ctx, protocol.ScheduleBackfillSubject, req, &out)
}

// DeleteSchedule deletes schedule name; its runs are kept.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	var out protocol.ScheduleActionResponse
	return c.call(ctx, protocol.ScheduleDeleteSubject, protocol.ScheduleDeleteRequest{Version: protocol.ScheduleVersion, Name: name}, &out)
}

// ListRunNodes returns the page of one step's per-node outcomes req asks for.
func (c *Client) ListRunNodes(ctx context.Context, req protocol.RunNodesRequest) (*protocol.RunNodesResponse, error) {
	req.Version = protocol.SubmitVersion
	var r protocol.RunNodesResponse
	if err := c.call(ctx, protocol.RunNodesSubject, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
