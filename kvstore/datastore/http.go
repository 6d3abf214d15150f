package datastore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// httpTimeout bounds one call to an etcd or Consul server.
const httpTimeout = 10 * time.Second

// httpClient is shared by the HTTP stores: connections to the same server are reused.
var httpClient = &http.Client{Timeout: httpTimeout}

// parseBaseURL reads a url property: an http or https base URL, without a trailing slash.
func parseBaseURL(p *props, def string) (string, error) {
	raw, err := p.str("url", def)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", p.errf("url", "%q is not an http or https URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// httpStatusError is a reply with an unexpected status.
type httpStatusError struct {
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

// doHTTP sends body (raw bytes as is, anything else as JSON, nil for none) and returns the status
// and body of the reply. Statuses are the caller's to judge.
func doHTTP(ctx context.Context, method, u string, header http.Header, body any) (int, []byte, http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, data, resp.Header, nil
}

// statusError builds the error for an unexpected reply, with the start of its body.
func statusError(status int, body []byte) error {
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return &httpStatusError{status: status, body: s}
}
