package task

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// webhookRequest builds a webhook job's request from its properties: uri, method (GET or POST,
// default POST), headers, data (POST: JSON body; GET: query parameters), verify_ssl (default
// true) and signing_secret.
func webhookRequest(job *protocol.Job) (*httpRequest, error) {
	p := &props{m: job.Properties}
	raw := p.str("uri", "", true)
	method := strings.ToUpper(p.str("method", http.MethodPost, false))
	headers := p.strMap("headers")
	verify := p.boolean("verify_ssl", true)
	secret := p.str("signing_secret", "", false)
	if p.err != nil {
		return nil, p.err
	}
	u, err := parseHTTPURL("uri", raw)
	if err != nil {
		return nil, err
	}
	data := map[string]any{}
	if v, ok := job.Properties["data"]; ok && v != nil {
		if data, ok = v.(map[string]any); !ok {
			return nil, fmt.Errorf("property data: must be a map, got %s", typeName(v))
		}
	}
	rq := &httpRequest{method: method, url: u, headers: headers, verifyTLS: verify,
		timeout: httpTimeout(job), requestID: job.ID.String(), signingSecret: secret}
	switch method {
	case http.MethodPost:
		if rq.body, err = json.Marshal(data); err != nil {
			return nil, fmt.Errorf("property data: cannot be encoded as JSON: %w", err)
		}
		rq.contentType = "application/json"
	case http.MethodGet:
		q := u.Query()
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if err := addQuery(q, k, data[k]); err != nil {
				return nil, err
			}
		}
		u.RawQuery = q.Encode()
	default:
		return nil, fmt.Errorf("property method: must be GET or POST, got %q", method)
	}
	return rq, nil
}

// addQuery adds one data entry to a GET query: scalars as one value, a list as the key repeated,
// anything else as JSON text.
func addQuery(q url.Values, k string, v any) error {
	if s, ok := scalarText(v); ok {
		q.Add(k, s)
		return nil
	}
	if l, ok := v.([]any); ok {
		for _, it := range l {
			if err := addQuery(q, k, it); err != nil {
				return err
			}
		}
		return nil
	}
	if v == nil {
		q.Add(k, "")
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("property data: value of %q cannot be encoded: %w", k, err)
	}
	q.Add(k, string(b))
	return nil
}

// runWebhookJob calls a webhook. Any 2xx is success (Choria accepted only 200 and 201).
func runWebhookJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	rq, err := webhookRequest(job)
	if err != nil {
		return env.failed(job, err.Error()), nil
	}
	return runHTTPJob(ctx, env, job, rq)
}
