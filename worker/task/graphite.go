package task

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// graphiteDefaultTags are the tags of an event whose task gives none (Choria: ["choria"]).
var graphiteDefaultTags = []string{"fleetbook"}

// graphiteEvent is the body Graphite's events API (POST /events/) takes.
type graphiteEvent struct {
	What string `json:"what"`
	// Tags are comma-joined: every graphite-web version parses that form.
	Tags string `json:"tags"`
	// When is the event time, Unix seconds.
	When int64 `json:"when"`
	// Data is text: Graphite stores it in a text field.
	Data string `json:"data"`
}

// graphiteRequest builds a graphite_event job's request: what, data, graphite (required), tags,
// headers. now is the event time.
func graphiteRequest(job *protocol.Job, now time.Time) (*httpRequest, error) {
	p := &props{m: job.Properties}
	what := p.str("what", "", true)
	raw := p.str("graphite", "", true)
	tags := p.strList("tags", graphiteDefaultTags)
	headers := p.strMap("headers")
	if p.err != nil {
		return nil, p.err
	}
	data, ok := job.Properties["data"]
	if !ok || data == nil {
		return nil, fmt.Errorf("property data: is required")
	}
	text, ok := data.(string)
	if !ok {
		// Whole-string templates keep their type: a list or map is sent as its JSON text.
		b, err := json.Marshal(data)
		if err != nil {
			return nil, fmt.Errorf("property data: cannot be encoded: %w", err)
		}
		text = string(b)
	}
	u, err := parseHTTPURL("graphite", raw)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(graphiteEvent{What: what, Tags: strings.Join(tags, ","), When: now.Unix(), Data: text})
	if err != nil {
		return nil, fmt.Errorf("the event cannot be encoded: %w", err)
	}
	return &httpRequest{
		method: http.MethodPost, url: u, body: body, contentType: "application/json",
		headers: headers, verifyTLS: true, timeout: httpTimeout(job), requestID: job.ID.String(),
	}, nil
}

// runGraphiteJob posts an event; like a webhook, any 2xx is success.
func runGraphiteJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	rq, err := graphiteRequest(job, time.Now())
	if err != nil {
		return env.failed(job, err.Error()), nil
	}
	return runHTTPJob(ctx, env, job, rq)
}
