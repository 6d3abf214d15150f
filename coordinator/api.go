package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// apiTimeout bounds the storage work of one API request.
const apiTimeout = 10 * time.Second

// apiInstances is how many instances of the micro service one coordinator runs. micro hands an
// endpoint's requests to its handler one at a time and measures (and counts the errors of) each
// call, so each handler answers before it returns: the stats are true. Requests are handled
// apiInstances at a time, every instance's endpoints in the one queue group.
const apiInstances = 8

// defaultListLimit is how many runs a listing returns when the request names no limit.
const defaultListLimit = 50

// apiRequest is one API request as its handler sees it: the body and who sent it, as the
// request's signature proved (never a field of the body).
type apiRequest struct {
	data []byte
	who  protocol.Identity
}

// apiHandler handles one endpoint's requests.
type apiHandler func(context.Context, apiRequest) (any, *protocol.ErrorResponse)

// readOnlyEndpoints are the endpoints ServeReadOnly serves: those that only read.
var readOnlyEndpoints = map[string]bool{
	"get": true, "list": true, "run_nodes": true, "audit": true, "nodes_list": true, "schedule_get": true, "schedule_list": true,
}

// ServeReadOnly serves the endpoints that only read (readOnlyEndpoints) until ctx ends, on a
// store some other coordinator provisioned: it provisions nothing, takes no run over and drives
// none, so looking at the runs of a stopped deployment (`runs show --embedded`) never resumes
// them.
// ready, when not nil, is called once the endpoints are served.
func (c *Coordinator) ServeReadOnly(ctx context.Context, ready func()) error {
	var err error
	if c.runs, err = kvstore.OpenRuns(ctx, c.js); err != nil {
		return err
	}
	// A store an older fleetbook made has no schedules bucket: it has no schedules to show.
	if c.schedules, err = kvstore.OpenSchedules(ctx, c.js); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return err
	}
	// Without the results stream a step's nodes are answered from its record (complete: false).
	if c.results, err = c.js.Stream(ctx, protocol.ResultsStreamName); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("open stream %s: %w", protocol.ResultsStreamName, err)
	}
	svc, err := c.serveEndpoints(true)
	if err != nil {
		return err
	}
	defer svc.Stop()
	// The endpoints' subscriptions are on their way to the server: a request sent on another
	// connection right after ready would find no responder until the server has them (on a busy
	// machine, "no fleetbook coordinator is answering").
	if err := c.nc.FlushTimeout(apiTimeout); err != nil {
		return fmt.Errorf("serve the reading endpoints: %w", err)
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	return nil
}

// serve registers every API endpoint in the coordinators' queue group.
func (c *Coordinator) serve() (*apiService, error) { return c.serveEndpoints(false) }

// apiService is the coordinator's instances of the micro service.
type apiService struct{ instances []micro.Service }

// Stop stops every instance.
func (s *apiService) Stop() error {
	var errs []error
	for _, svc := range s.instances {
		errs = append(errs, svc.Stop())
	}
	return errors.Join(errs...)
}

// serveEndpoints registers the API endpoints in the coordinators' queue group, apiInstances
// times: only those of readOnlyEndpoints when readOnly.
func (c *Coordinator) serveEndpoints(readOnly bool) (*apiService, error) {
	s := &apiService{}
	for range apiInstances {
		svc, err := c.serveInstance(readOnly)
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.instances = append(s.instances, svc)
	}
	return s, nil
}

// serveInstance adds one instance of the micro service with its endpoints.
func (c *Coordinator) serveInstance(readOnly bool) (micro.Service, error) {
	svc, err := micro.AddService(c.nc, micro.Config{
		Name:        protocol.ServiceName,
		Version:     Version(),
		Description: "fleetbook coordinator API",
		Metadata:    map[string]string{protocol.CoordinatorMetadataName: c.opts.name},
	})
	if err != nil {
		return nil, fmt.Errorf("start api service: %w", err)
	}
	// action is what the policy calls the endpoint's requests, for the audit of those refused
	// for their signature.
	endpoints := []struct {
		name, subject string
		action        policy.Action
		handle        apiHandler
	}{
		{"submit", protocol.SubmitSubject, policy.Submit, c.handleSubmit},
		{"get", protocol.GetRunSubject, policy.Read, c.handleGet},
		{"list", protocol.ListRunsSubject, policy.Read, c.handleList},
		{"run_nodes", protocol.RunNodesSubject, policy.Read, c.handleRunNodes},
		{"cancel", protocol.CancelRunSubject, policy.Cancel, c.handleCancel},
		{"prune", protocol.PruneRunsSubject, policy.Prune, c.handlePrune},
		{"audit", protocol.AuditListSubject, policy.Audit, c.handleAuditList},
		{"nodes_list", protocol.ListNodesSubject, policy.Read, c.handleListNodes},
		{"schedule_add", protocol.ScheduleAddSubject, policy.Schedule, c.handleScheduleAdd},
		{"schedule_update", protocol.ScheduleUpdateSubject, policy.Schedule, c.handleScheduleUpdate},
		{"schedule_get", protocol.ScheduleGetSubject, policy.Read, c.handleScheduleGet},
		{"schedule_list", protocol.ScheduleListSubject, policy.Read, c.handleScheduleList},
		{"schedule_pause", protocol.SchedulePauseSubject, policy.Schedule, c.handleSchedulePause(true)},
		{"schedule_resume", protocol.ScheduleResumeSubject, policy.Schedule, c.handleSchedulePause(false)},
		{"schedule_trigger", protocol.ScheduleTriggerSubject, policy.Schedule, c.handleScheduleTrigger},
		{"schedule_backfill", protocol.ScheduleBackfillSubject, policy.Schedule, c.handleScheduleBackfill},
		{"schedule_delete", protocol.ScheduleDeleteSubject, policy.Schedule, c.handleScheduleDelete},
	}
	for _, ep := range endpoints {
		if readOnly && !readOnlyEndpoints[ep.name] {
			continue
		}
		err := svc.AddEndpoint(ep.name, c.handler(ep.action, ep.handle), micro.WithEndpointSubject(ep.subject))
		if err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("add endpoint %s: %w", ep.subject, err)
		}
	}
	return svc, nil
}

// Version is the version of this build, as the micro service announces it: the module version
// (without its v), or 0.0.0-devel with the VCS revision for a build from a checkout.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "0.0.0-devel"
	}
	if v := strings.TrimPrefix(bi.Main.Version, "v"); v != "" && v != "(devel)" {
		return v
	}
	v, rev, dirty := "0.0.0-devel", "", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = ".dirty"
		}
	}
	if rev != "" {
		v += "+" + rev + dirty
	}
	return v
}

// handler adapts an API function to micro: it answers before it returns, so micro's stats
// count each request, its error and its real handling time. Errors go out as micro errors: the
// numeric code of the micro convention (an HTTP status) in Nats-Service-Error-Code, the
// fleetbook code and message in Nats-Service-Error, and the full ErrorResponse as the body, so
// clients get every problem and not only the header's one line.
func (c *Coordinator) handler(action policy.Action, f apiHandler) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) { c.answer(r, action, f) })
}

// requestTypes makes the request of each subject, to refuse fields it does not have.
var requestTypes = map[string]func() any{
	protocol.SubmitSubject:    func() any { return &protocol.SubmitRequest{} },
	protocol.GetRunSubject:    func() any { return &protocol.GetRunRequest{} },
	protocol.ListRunsSubject:  func() any { return &protocol.ListRunsRequest{} },
	protocol.RunNodesSubject:  func() any { return &protocol.RunNodesRequest{} },
	protocol.CancelRunSubject: func() any { return &protocol.CancelRunRequest{} },
	protocol.PruneRunsSubject: func() any { return &protocol.PruneRunsRequest{} },
	protocol.AuditListSubject: func() any { return &protocol.AuditListRequest{} },
	protocol.ListNodesSubject: func() any { return &protocol.ListNodesRequest{} },

	protocol.ScheduleAddSubject:      func() any { return &protocol.ScheduleAddRequest{} },
	protocol.ScheduleUpdateSubject:   func() any { return &protocol.ScheduleUpdateRequest{} },
	protocol.ScheduleGetSubject:      func() any { return &protocol.ScheduleGetRequest{} },
	protocol.ScheduleListSubject:     func() any { return &protocol.ScheduleListRequest{} },
	protocol.SchedulePauseSubject:    func() any { return &protocol.SchedulePauseRequest{} },
	protocol.ScheduleResumeSubject:   func() any { return &protocol.SchedulePauseRequest{} },
	protocol.ScheduleTriggerSubject:  func() any { return &protocol.ScheduleTriggerRequest{} },
	protocol.ScheduleBackfillSubject: func() any { return &protocol.ScheduleBackfillRequest{} },
	protocol.ScheduleDeleteSubject:   func() any { return &protocol.ScheduleDeleteRequest{} },
}

// strictRequest refuses a request body with a field its request type does not have (a typo
// such as "limt" is said, not silently ignored), or that is not one JSON object.
func strictRequest(subject string, data []byte) *protocol.ErrorResponse {
	mk, ok := requestTypes[subject]
	if !ok || len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(mk()); err != nil {
		return apiError(protocol.CodeBadRequest, "decode request: %s (docs/api.md lists every field)", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return apiError(protocol.CodeBadRequest, "decode request: more than one JSON document")
	}
	return nil
}

// microCode is the numeric error code of the micro convention (an HTTP status) for code.
func microCode(code string) int {
	switch code {
	case protocol.CodeBadRequest, protocol.CodeInvalidPlaybook, protocol.CodeInvalidInput:
		return 400
	case protocol.CodeForbidden:
		return 403
	case protocol.CodeNotFound:
		return 404
	case protocol.CodeIdempotencyConflict, protocol.CodeConflict:
		return 409
	case protocol.CodeQueueFull:
		return 503
	}
	return 500
}

// answer identifies the caller of one API request, handles it and replies to it. A request
// whose signature does not verify is refused (and audited) before its body is even decoded.
func (c *Coordinator) answer(r micro.Request, action policy.Action, f apiHandler) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	var resp any
	now := time.Now()
	who, err := c.identify(r.Subject(), r.Reply(), r.Headers(), r.Data(), now)
	apiErr := c.refuseSignature(ctx, who, action, err)
	if apiErr == nil {
		who, ctx, apiErr = c.signIn(ctx, who, action, r.Headers(), now)
	}
	if apiErr == nil {
		apiErr = strictRequest(r.Subject(), r.Data())
	}
	if apiErr == nil {
		resp, apiErr = f(ctx, apiRequest{data: r.Data(), who: who})
	}
	if apiErr != nil {
		body, _ := json.Marshal(apiErr)
		if err := r.Error(strconv.Itoa(microCode(apiErr.Code)), apiErr.Code+": "+visibleHeader(apiErr.Message), body); err != nil {
			c.opts.log.Warn("replying to api request", "subject", r.Subject(), "error", err)
		}
		return
	}
	if err := r.RespondJSON(resp); err != nil {
		c.opts.log.Warn("replying to api request", "subject", r.Subject(), "error", err)
	}
}

// refuseSignature audits and returns the refusal of a request whose signature failed with err;
// nil when err is nil.
func (c *Coordinator) refuseSignature(ctx context.Context, who protocol.Identity, action policy.Action, err error) *protocol.ErrorResponse {
	if err == nil {
		return nil
	}
	c.auditRefusal(ctx, protocol.AuditRecord{
		Version: protocol.AuditVersion, Time: time.Now().UTC(), Identity: who, Action: string(action),
		Decision: protocol.DecisionDeny, Reason: err.Error() + " (the key is claimed, not proven)", Coordinator: c.opts.name,
	})
	return apiError(protocol.CodeForbidden, "forbidden: %v", err)
}

// visibleHeader is s on one line, as a header value must be.
func visibleHeader(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
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

func (c *Coordinator) handleGet(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.GetRunRequest
	if err := json.Unmarshal(r.data, &req); err != nil || req.RunID == "" {
		return nil, apiError(protocol.CodeBadRequest, "a get request needs a run_id")
	}
	if !protocol.ValidToken(req.RunID) {
		return nil, apiError(protocol.CodeBadRequest, "invalid run id %q", req.RunID)
	}
	rec, apiErr := c.readableRun(ctx, r.who, req.RunID)
	if apiErr != nil {
		return nil, apiErr
	}
	rep := ReportOf(rec)
	if req.WithDocument {
		rep.Document, rep.Source, rep.Files = rec.Document, rec.Source, rec.Files
	}
	return rep, nil
}

// readableRun loads run id's record for who, whom the policy must allow to read its playbook.
func (c *Coordinator) readableRun(ctx context.Context, who protocol.Identity, id string) (*protocol.RunRecord, *protocol.ErrorResponse) {
	// Who may read nothing learns nothing, not even whether the run exists.
	if _, apiErr := c.permit(ctx, who, policy.Read, nil, id); apiErr != nil {
		return nil, apiErr
	}
	rec, _, err := c.runs.Get(ctx, id)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, apiError(protocol.CodeNotFound, "no run %s", id)
	}
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "load run %s: %v", id, err)
	}
	if _, apiErr := c.permit(ctx, who, policy.Read, &rec.Playbook, rec.ID); apiErr != nil {
		return nil, apiErr
	}
	return rec, nil
}

// ListRuns returns the runs req asks for, newest first, and the cursor of the next page ("" when
// there is none).
func (c *Client) ListRuns(ctx context.Context, req protocol.ListRunsRequest) ([]protocol.RunSummary, string, error) {
	req.Version = protocol.SubmitVersion
	var r protocol.ListRunsResponse
	if err := c.call(ctx, protocol.ListRunsSubject, req, &r); err != nil {
		return nil, "", err
	}
	return r.Runs, r.Next, nil
}

// ListRunsPage answers req whole: the page of runs, the next page's cursor and, when req asks
// WithCounts, the counts by status.
func (c *Client) ListRunsPage(ctx context.Context, req protocol.ListRunsRequest) (*protocol.ListRunsResponse, error) {
	req.Version = protocol.SubmitVersion
	var r protocol.ListRunsResponse
	if err := c.call(ctx, protocol.ListRunsSubject, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetWithDocument returns the report of run id with its playbook document, source and child
// playbooks, to submit it again.
func (c *Client) GetWithDocument(ctx context.Context, id string) (*protocol.Report, error) {
	var r protocol.Report
	req := protocol.GetRunRequest{Version: protocol.RunVersion, RunID: id, WithDocument: true}
	if err := c.call(ctx, protocol.GetRunSubject, req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
