package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// apiTimeout bounds the storage work of one API request.
const apiTimeout = 10 * time.Second

// apiConcurrency bounds the API requests one coordinator handles at once.
const apiConcurrency = 64

// defaultListLimit is how many runs a listing returns when the request names no limit.
const defaultListLimit = 50

// serve registers the API endpoints in the coordinators' queue group.
func (c *Coordinator) serve() (micro.Service, error) {
	svc, err := micro.AddService(c.nc, micro.Config{
		Name:        protocol.ServiceName,
		Version:     "0.1.0",
		Description: "fleetbook coordinator API",
	})
	if err != nil {
		return nil, fmt.Errorf("start api service: %w", err)
	}
	endpoints := []struct {
		name, subject string
		handle        func(context.Context, []byte) (any, *protocol.ErrorResponse)
	}{
		{"submit", protocol.SubmitSubject, c.handleSubmit},
		{"get", protocol.GetRunSubject, c.handleGet},
		{"list", protocol.ListRunsSubject, c.handleList},
		{"cancel", protocol.CancelRunSubject, c.handleCancel},
		{"prune", protocol.PruneRunsSubject, c.handlePrune},
	}
	for _, ep := range endpoints {
		err := svc.AddEndpoint(ep.name, c.handler(ep.handle), micro.WithEndpointSubject(ep.subject))
		if err != nil {
			svc.Stop()
			return nil, fmt.Errorf("add endpoint %s: %w", ep.subject, err)
		}
	}
	return svc, nil
}

// handler adapts an API function to micro: errors go out as micro errors whose body is the full
// ErrorResponse, so clients get every problem and not only the header's one line.
//
// micro calls an endpoint's handler for one request at a time, and a request waits on a few
// storage round trips: each is handled on a goroutine of its own, at most apiConcurrency at once
// (past that, the handler waits, and requests queue in the subscription as before).
func (c *Coordinator) handler(f func(context.Context, []byte) (any, *protocol.ErrorResponse)) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) {
		c.apiSlots <- struct{}{}
		go func() {
			defer func() { <-c.apiSlots }()
			c.answer(r, f)
		}()
	})
}

// answer handles one API request and replies to it.
func (c *Coordinator) answer(r micro.Request, f func(context.Context, []byte) (any, *protocol.ErrorResponse)) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	resp, apiErr := f(ctx, r.Data())
	if apiErr != nil {
		body, _ := json.Marshal(apiErr)
		if err := r.Error(apiErr.Code, apiErr.Message, body); err != nil {
			c.opts.log.Warn("replying to api request", "subject", r.Subject(), "error", err)
		}
		return
	}
	if err := r.RespondJSON(resp); err != nil {
		c.opts.log.Warn("replying to api request", "subject", r.Subject(), "error", err)
	}
}

func apiError(code, format string, args ...any) *protocol.ErrorResponse {
	return &protocol.ErrorResponse{Code: code, Message: fmt.Sprintf(format, args...)}
}

// asAPIError is err as the API answers it: the *protocol.ErrorResponse it carries, or else an
// internal error.
func asAPIError(err error) *protocol.ErrorResponse {
	var apiErr *protocol.ErrorResponse
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return apiError(protocol.CodeInternal, "%v", err)
}

func (c *Coordinator) handleGet(ctx context.Context, data []byte) (any, *protocol.ErrorResponse) {
	var req protocol.GetRunRequest
	if err := json.Unmarshal(data, &req); err != nil || req.RunID == "" {
		return nil, apiError(protocol.CodeBadRequest, "a get request needs a run_id")
	}
	if !protocol.ValidToken(req.RunID) {
		return nil, apiError(protocol.CodeBadRequest, "invalid run id %q", req.RunID)
	}
	rec, _, err := c.runs.Get(ctx, req.RunID)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, apiError(protocol.CodeNotFound, "no run %s", req.RunID)
	}
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "load run %s: %v", req.RunID, err)
	}
	return ReportOf(rec), nil
}

func (c *Coordinator) handleList(ctx context.Context, data []byte) (any, *protocol.ErrorResponse) {
	var req protocol.ListRunsRequest
	if len(data) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, apiError(protocol.CodeBadRequest, "decode list request: %v", err)
		}
	}
	limit := req.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	recs, err := c.runs.List(ctx, limit)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "list runs: %v", err)
	}
	resp := protocol.ListRunsResponse{Version: protocol.SubmitVersion, Runs: []protocol.RunSummary{}}
	for _, rec := range recs {
		resp.Runs = append(resp.Runs, protocol.RunSummary{
			ID: rec.ID, Playbook: rec.Playbook, Status: rec.Status, Error: rec.Error,
			CreatedAt: rec.CreatedAt, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt,
		})
	}
	return resp, nil
}
