package task

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

func hmacHex(secret, data string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(data))
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhookPost(t *testing.T) {
	rc := newReceiver(t, false, 201, `{"accepted": true, "id": 12345678901234567890}`)
	job := propJob(t, protocol.TaskWebhook, map[string]any{
		"uri":            rc.URL + "/hook?src=fb",
		"headers":        map[string]any{"X-Team": "ops", "X-Count": 3, "User-Agent": "custom/1", protocol.HTTPRequestIDHeader: "forged"},
		"data":           map[string]any{"nodes": []any{"a", "b"}, "n": 1.5, "ok": true},
		"signing_secret": "s3cret",
	})
	res := mustExecute(t, testEnv(), job)

	if !res.Success || res.Msg != "POST "+rc.URL+"/hook: HTTP 201 Created" {
		t.Errorf("result: %+v", res)
	}
	data, _ := res.Data.(map[string]any)
	if data["accepted"] != true || data["id"] != json.Number("12345678901234567890") {
		t.Errorf("data %#v, want the parsed JSON body with exact numbers", res.Data)
	}
	got := rc.only(t)
	if got.method != "POST" || got.path != "/hook" || got.query != "src=fb" {
		t.Errorf("request line: %+v", got)
	}
	var body map[string]any
	if err := json.Unmarshal(got.body, &body); err != nil || body["n"] != 1.5 || body["ok"] != true || len(body["nodes"].([]any)) != 2 {
		t.Errorf("body %s (%v)", got.body, err)
	}
	for k, want := range map[string]string{
		"Content-Type":               "application/json",
		"User-Agent":                 "custom/1",
		"X-Team":                     "ops",
		"X-Count":                    "3",
		protocol.HTTPRequestIDHeader: "r1/3/2/0",
		protocol.HTTPSignatureHeader: "sha256=" + hmacHex("s3cret", string(got.body)),
	} {
		if v := got.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
}

func TestWebhookGetQueryAndDefaults(t *testing.T) {
	rc := newReceiver(t, false, 200, "plain text")
	job := propJob(t, protocol.TaskWebhook, map[string]any{
		"uri":            rc.URL + "/q?keep=1",
		"method":         "get",
		"data":           map[string]any{"name": "a b&c", "n": 2, "list": []any{"x", "y"}, "m": map[string]any{"k": "v"}},
		"signing_secret": "k",
	})
	res := mustExecute(t, testEnv(), job)
	if !res.Success || res.Data != "plain text" || res.Msg != "GET "+rc.URL+"/q: HTTP 200 OK" {
		t.Errorf("result: %+v", res)
	}
	got := rc.only(t)
	want := "keep=1&list=x&list=y&m=%7B%22k%22%3A%22v%22%7D&n=2&name=a+b%26c"
	if got.method != "GET" || got.query != want || len(got.body) != 0 {
		t.Errorf("request: %s ?%s body %q, want ?%s", got.method, got.query, got.body, want)
	}
	if got.header.Get("Content-Type") != "" || got.header.Get("User-Agent") != "fleetbook" {
		t.Errorf("headers: %v", got.header)
	}
	if sig := got.header.Get(protocol.HTTPSignatureHeader); sig != "sha256="+hmacHex("k", want) {
		t.Errorf("GET signature %q does not sign the query", sig)
	}
	// No signing_secret, no signature.
	rc2 := newReceiver(t, false, 204, "")
	res = mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": rc2.URL}))
	if !res.Success || res.Data != nil || rc2.only(t).header.Get(protocol.HTTPSignatureHeader) != "" {
		t.Errorf("unsigned: %+v %v", res, rc2.only(t).header)
	}
}

func TestWebhookFailures(t *testing.T) {
	rc := newReceiver(t, false, 500, "boom\nat line 3")
	res := mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{
		"uri": rc.URL + "/x", "method": "GET", "data": map[string]any{"password": "hunter2"},
	}))
	if res.Success || res.Msg != "GET "+rc.URL+"/x: HTTP 500 Internal Server Error: boom at line 3" {
		t.Errorf("result: %+v", res)
	}
	if strings.Contains(res.Msg, "hunter2") {
		t.Errorf("message leaks the query: %s", res.Msg)
	}

	// Nothing listens on a closed server's port.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	res = mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": closed.URL + "/y?token=abc"}))
	if res.Success || !strings.HasPrefix(res.Msg, "POST "+closed.URL+"/y failed: ") || strings.Contains(res.Msg, "token=abc") {
		t.Errorf("connection refused: %+v", res)
	}
}

func TestWebhookBadProperties(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"no uri", map[string]any{}, "property uri: is required"},
		{"ftp uri", map[string]any{"uri": "ftp://x/y"}, "property uri: must be an http:// or https:// URL with a host"},
		{"no host", map[string]any{"uri": "http:///path"}, "property uri: must be an http:// or https:// URL with a host"},
		{"put", map[string]any{"uri": "http://x", "method": "PUT"}, `property method: must be GET or POST, got "PUT"`},
		{"headers list", map[string]any{"uri": "http://x", "headers": []any{"a"}}, "property headers: must be a map, got a list"},
		{"header map value", map[string]any{"uri": "http://x", "headers": map[string]any{"A": map[string]any{}}}, `property headers: value of "A" must be a string, got a map`},
		{"data list", map[string]any{"uri": "http://x", "data": []any{1}}, "property data: must be a map, got a list"},
		{"verify_ssl text", map[string]any{"uri": "http://x", "verify_ssl": "maybe"}, "property verify_ssl: must be true or false, got a string"},
		{"secret number", map[string]any{"uri": "http://x", "signing_secret": 5}, "property signing_secret: must be a string, got a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, tc.props))
			if res.Success || res.Msg != tc.want || res.ExitCode != -1 {
				t.Errorf("got %+v, want msg %q", res, tc.want)
			}
		})
	}
}

func TestWebhookVerifySSL(t *testing.T) {
	rc := newReceiver(t, true, 200, `{"ok": true}`)
	res := mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": rc.URL}))
	if res.Success || !strings.Contains(res.Msg, "certificate") {
		t.Errorf("self-signed certificate accepted by default: %+v", res)
	}
	// A template renders "false" as text when it is not the whole string's value.
	for _, off := range []any{false, "false"} {
		res = mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": rc.URL, "verify_ssl": off}))
		if !res.Success {
			t.Errorf("verify_ssl %v: %+v", off, res)
		}
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	job := propJob(t, protocol.TaskWebhook, map[string]any{"uri": srv.URL})
	job.Timeout = 200 * time.Millisecond
	res := mustExecute(t, testEnv(), job)
	if res.Success || res.Msg != "POST "+srv.URL+" failed: timed out after 200ms" {
		t.Errorf("result: %+v", res)
	}
	if got := httpTimeout(&protocol.Job{}); got != defaultHTTPTimeout {
		t.Errorf("default timeout %s", got)
	}
}

func TestWebhookInterruptedAtShutdown(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if _, err := Execute(ctx, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": srv.URL})); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
}

func TestWebhookRedirects(t *testing.T) {
	other := newReceiver(t, false, 200, "other")
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get(protocol.HTTPRequestIDHeader))
		mu.Unlock()
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		default:
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		}
	}))
	t.Cleanup(srv.Close)

	res := mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": srv.URL + "/moved", "data": map[string]any{"a": 1}}))
	if !res.Success || res.Data.(map[string]any)["a"] != json.Number("1") {
		t.Errorf("same-host redirect: %+v", res)
	}
	res = mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": srv.URL + "/away"}))
	if res.Success || !strings.Contains(res.Msg, "HTTP 302 Found (redirect to "+other.URL+" not followed: it is another host)") {
		t.Errorf("cross-host redirect: %+v", res)
	}
	other.mu.Lock()
	defer other.mu.Unlock()
	if len(other.reqs) != 0 {
		t.Errorf("the other host was called: %+v", other.reqs)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"POST /moved r1/3/2/0", "POST /here r1/3/2/0", "POST /away r1/3/2/0"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", seen, want)
	}
}

func TestWebhookResponseData(t *testing.T) {
	big := strings.Repeat("x", maxResponseBody+10)
	for _, tc := range []struct {
		name, body string
		check      func(any) bool
	}{
		{"json list", `[1, "a"]`, func(d any) bool { l, ok := d.([]any); return ok && len(l) == 2 }},
		{"broken json", `{"a":`, func(d any) bool { return d == `{"a":` }},
		{"empty", "  ", func(d any) bool { return d == nil }},
		{"capped", big, func(d any) bool {
			s, _ := d.(string)
			return strings.HasSuffix(s, "[... truncated at 262144 bytes ...]") && len(s) < maxResponseBody+100
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, false, 200, tc.body)
			res := mustExecute(t, testEnv(), propJob(t, protocol.TaskWebhook, map[string]any{"uri": rc.URL}))
			if !res.Success || !tc.check(res.Data) {
				t.Errorf("data %.200v", res.Data)
			}
		})
	}
}
