package task

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// HTTP task settings.
const (
	// defaultHTTPTimeout bounds a webhook, slack or graphite_event request whose job has no
	// Timeout (Choria used the HTTP library's defaults; 30 s is long for a notification).
	defaultHTTPTimeout = 30 * time.Second
	// maxResponseBody caps the response body kept as a task's data.
	maxResponseBody = maxOutput
	// maxRedirects bounds the redirects followed on the request's own host.
	maxRedirects = 5
	// maxMsgBody is how much of a failed response's body its message quotes.
	maxMsgBody = 200
	// httpUserAgent is sent unless the task's headers set another.
	httpUserAgent = "fleetbook"
)

// httpRequest is one HTTP call of a task, ready to send.
type httpRequest struct {
	method string
	url    *url.URL
	// body is sent as is (nil: no body); contentType goes with it.
	body        []byte
	contentType string
	// headers are the task's own; they override the defaults but not the request id or signature.
	headers   map[string]string
	verifyTLS bool
	timeout   time.Duration
	requestID string
	// signingSecret, when set, signs the body (the query string for a request without body).
	signingSecret string
}

// httpResponse is what came back, the body capped at maxResponseBody.
type httpResponse struct {
	status     int
	statusText string
	body       []byte
	truncated  bool
	// offHost is the target of a redirect that was not followed, scheme://host.
	offHost string
}

// where names the request in messages: method, scheme, host and path. The query (which may carry
// task data) and any user:password are left out.
func (rq *httpRequest) where() string {
	u := url.URL{Scheme: rq.url.Scheme, Host: rq.url.Host, Path: rq.url.Path}
	return rq.method + " " + u.String()
}

// sendHTTP makes the request. Redirects are followed only on the same host (and never from
// https to http); a redirect elsewhere is returned as the 3xx response with offHost set, so a
// task never talks to a host its playbook did not name. The error is ErrInterrupted when ctx
// ended; its text never holds the query string.
func sendHTTP(ctx context.Context, rq *httpRequest) (*httpResponse, error) {
	tctx, cancel := context.WithTimeout(ctx, rq.timeout)
	defer cancel()
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(tctx, rq.method, rq.url.String(), body)
	if err != nil {
		return nil, errors.New("the request could not be built")
	}
	req.Header.Set("User-Agent", httpUserAgent)
	if rq.contentType != "" {
		req.Header.Set("Content-Type", rq.contentType)
	}
	for _, k := range slices.Sorted(maps.Keys(rq.headers)) {
		req.Header.Set(k, rq.headers[k])
	}
	// Set last: a task cannot forge the id receivers de-duplicate on, nor the signature.
	req.Header.Set(protocol.HTTPRequestIDHeader, rq.requestID)
	if rq.signingSecret != "" {
		signed := rq.body
		if signed == nil {
			signed = []byte(rq.url.RawQuery)
		}
		req.Header.Set(protocol.HTTPSignatureHeader, protocol.HTTPSignaturePrefix+sign(rq.signingSecret, signed))
	}

	// A transport per request: verify_ssl differs between tasks, webhooks are rare, and nothing
	// is left idle behind a finished task.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: !rq.verifyTLS} //nolint:gosec // the playbook asked for it with verify_ssl: false
	defer tr.CloseIdleConnections()
	out := &httpResponse{}
	client := &http.Client{Transport: tr, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		first := via[0].URL
		if next.URL.Host != first.Host || (first.Scheme == "https" && next.URL.Scheme != "https") {
			out.offHost = next.URL.Scheme + "://" + next.URL.Host
			return http.ErrUseLastResponse
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, httpError(ctx, tctx, rq, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, httpError(ctx, tctx, rq, fmt.Errorf("reading the response: %w", err))
	}
	out.status, out.statusText = resp.StatusCode, resp.Status
	if len(data) > maxResponseBody {
		out.body, out.truncated = data[:maxResponseBody], true
	} else {
		out.body = data
	}
	return out, nil
}

// httpError explains a failed request without the URL that net/http puts in its errors.
func httpError(ctx, tctx context.Context, rq *httpRequest, err error) error {
	switch {
	case ctx.Err() != nil:
		return ErrInterrupted
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("timed out after %s", rq.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err
}

// sign returns the hex HMAC-SHA256 of data keyed with secret.
func sign(secret string, data []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(data)
	return hex.EncodeToString(mac.Sum(nil))
}

// success reports whether the response is a 2xx.
func (r *httpResponse) success() bool { return r.status >= 200 && r.status < 300 }

// data is the body as a task's data: parsed JSON when it is JSON, otherwise text; nil if empty.
func (r *httpResponse) data() any {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if !r.truncated && json.Valid(r.body) {
		dec := json.NewDecoder(bytes.NewReader(r.body))
		// Numbers stay exactly as sent.
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			return v
		}
	}
	if r.truncated {
		return string(r.body) + fmt.Sprintf("\n[... truncated at %d bytes ...]", maxResponseBody)
	}
	return string(r.body)
}

// summary describes the response for a message: status, and for a failure the start of the body
// and any redirect not followed.
func (r *httpResponse) summary() string {
	s := "HTTP " + r.statusText
	if r.offHost != "" {
		s += fmt.Sprintf(" (redirect to %s not followed: it is another host)", r.offHost)
	}
	if !r.success() {
		if b := strings.Join(strings.Fields(string(r.body)), " "); b != "" {
			if len(b) > maxMsgBody {
				b = b[:maxMsgBody] + "..."
			}
			s += ": " + b
		}
	}
	return s
}

// httpTimeout is the job's Timeout, or the default.
func httpTimeout(job *protocol.Job) time.Duration {
	if job.Timeout > 0 {
		return job.Timeout
	}
	return defaultHTTPTimeout
}

// parseHTTPURL checks that raw is an absolute http or https URL.
func parseHTTPURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !IsHTTPURL(raw) || u.Host == "" {
		return nil, fmt.Errorf("property %s: must be an http:// or https:// URL with a host", key)
	}
	return u, nil
}

// IsHTTPURL reports whether s starts like an http or https URL, as every URL of an HTTP task
// must (the worker checks its Slack API URL with it).
func IsHTTPURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// runHTTPJob sends rq and makes the job's Result of the response.
func runHTTPJob(ctx context.Context, env Env, job *protocol.Job, rq *httpRequest) (protocol.Result, error) {
	res := env.NewResult(job, time.Now().UTC())
	resp, err := sendHTTP(ctx, rq)
	res.EndedAt = time.Now().UTC()
	if errors.Is(err, ErrInterrupted) {
		return protocol.Result{}, err
	}
	if err != nil {
		res.Msg = fmt.Sprintf("%s failed: %v", rq.where(), err)
		return res, nil
	}
	res.Success = resp.success()
	res.Msg = rq.where() + ": " + resp.summary()
	res.Data = resp.data()
	return res, nil
}
