package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/coordinator"
)

const okBook = `name: hello
version: "1.0.0"
author: console test
description: one shell step
tasks:
  - shell:
      description: say hello
      command: echo hello from the console test
`

// Strangers: no cookie is sent to the sign-in page (pages) or refused 401 (JSON); a forged,
// expired or garbage grant signs nobody in, whether posted to /signin or put in a cookie.
func TestSignInRefusesStrangers(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/runs", "/runs/abc", "/schedules", "/nodes"} {
		r := e.get(path, "")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
			t.Errorf("GET %s unsigned: %d %s, want 303 to /signin", path, r.status, r.header.Get("Location"))
		}
	}
	for _, path := range []string{"/runs/abc/events", "/runs/abc/nodes?seq=1", "/session"} {
		if r := e.get(path, ""); r.status != http.StatusUnauthorized {
			t.Errorf("GET %s unsigned: %d, want 401", path, r.status)
		}
	}
	if r := e.post("/runs/abc/cancel", "", url.Values{"reason": {"x"}}); r.status != http.StatusSeeOther {
		t.Errorf("POST cancel unsigned: %d, want 303 to /signin", r.status)
	}

	// forged: alice's claims signed by another key.
	good := e.grant("admin")
	other, _ := nkeys.CreateUser()
	otherGrant, err := coordinator.NewSessionGrant(other, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(good, ".")
	_, sig, _ := strings.Cut(otherGrant, ".")
	forged := body + "." + sig
	expired, err := coordinator.NewSessionGrant(e.keys["admin"], time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ grant, why string }{
		"forged":  {forged, "signature does not verify"},
		"expired": {expired, "expired"},
		"garbage": {"<script>alert(1)</script>", "not two base64url parts"},
		"empty":   {"", "grant: empty"},
	} {
		r := e.post("/signin", "", url.Values{"grant": {tc.grant}})
		if r.status != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" || !strings.Contains(r.body, tc.why) ||
			!strings.Contains(r.body, `id="error"`) || strings.Contains(r.body, "<script>alert") {
			t.Errorf("%s grant: sign-in answered %d, cookie %q, body:\n%s", name, r.status, r.header.Get("Set-Cookie"), r.body)
		}
		if tc.grant == "" {
			continue
		}
		for _, path := range []string{"/runs", "/runs/abc", "/schedules", "/nodes"} {
			if r := e.get(path, tc.grant); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
				t.Errorf("%s grant in a cookie: GET %s %d, want 303 clearing the cookie", name, path, r.status)
			}
		}
		for _, path := range []string{"/runs/abc/events", "/runs/abc/nodes?seq=1", "/session"} {
			if r := e.get(path, tc.grant); r.status != http.StatusUnauthorized {
				t.Errorf("%s grant in a cookie: GET %s %d, want 401", name, path, r.status)
			}
		}
		for _, path := range []string{"/runs/abc/cancel", "/runs/abc/rerun", "/schedules/nightly/pause", "/schedules/nightly/trigger"} {
			form := url.Values{"reason": {"x"}, "csrf": {csrfToken(tc.grant)}}
			if r := e.post(path, tc.grant, form); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
				t.Errorf("%s grant in a cookie: POST %s %d, want 303 to /signin", name, path, r.status)
			}
		}
	}
}

// A good grant signs in: the cookie holds it, HttpOnly, SameSite=Strict, expiring with the
// grant; the pages then answer, naming who is signed in; sign-out clears the cookie.
func TestSignInSetsTheSessionCookie(t *testing.T) {
	e := newEnv(t)
	grant := e.grant("admin")
	r := e.post("/signin", "", url.Values{"grant": {grant}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/runs" {
		t.Fatalf("sign-in: %d to %q, want 303 to /runs:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	ck, err := http.ParseSetCookie(r.header.Get("Set-Cookie"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Name != cookieName || ck.Value != grant || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure ||
		ck.Expires.Before(time.Now().Add(59*time.Minute)) || ck.Expires.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("cookie %+v", ck)
	}
	adminPub, _ := e.keys["admin"].PublicKey()
	page := e.get("/runs", grant)
	if page.status != http.StatusOK || !strings.Contains(page.body, `<span id="whoami">`+adminPub+`</span>`) {
		t.Errorf("GET /runs signed in: %d:\n%s", page.status, page.body)
	}
	// A link to a page comes back to it after signing in.
	r = e.get("/runs/abc?x=1", "")
	if loc := r.header.Get("Location"); loc != "/signin?next="+url.QueryEscape("/runs/abc?x=1") {
		t.Errorf("redirect to %q", loc)
	}
	r = e.post("/signin", "", url.Values{"grant": {grant}, "next": {"//evil.example/"}})
	if r.header.Get("Location") != "/runs" {
		t.Errorf("sign-in with next=//evil.example/ sends to %q", r.header.Get("Location"))
	}
	r = e.post("/signout", grant, url.Values{})
	if ck, err := http.ParseSetCookie(r.header.Get("Set-Cookie")); err != nil || ck.MaxAge >= 0 || ck.Value != "" {
		t.Errorf("sign-out cookie %q (%v)", r.header.Get("Set-Cookie"), err)
	}
}

// A POST from another site's page is refused, with or without a session: its Origin is not the
// console's, or it has no Origin and no csrf field of the session.
func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t)
	grant := e.grant("admin")
	id := e.submit(okBook, nil)
	for name, tc := range map[string]struct {
		origin string
		form   url.Values
	}{
		"other origin":              {"http://evil.example", url.Values{"reason": {"x"}}},
		"other port":                {"http://127.0.0.1:1", url.Values{"reason": {"x"}}},
		"no origin, no csrf":        {"-", url.Values{"reason": {"x"}}},
		"no origin, wrong csrf":     {"-", url.Values{"reason": {"x"}, "csrf": {csrfToken(e.grant("viewer"))}}},
		"other origin, right csrf":  {"http://evil.example", url.Values{"reason": {"x"}, "csrf": {csrfToken(grant)}}},
		"sign-in from another site": {"http://evil.example", url.Values{"grant": {grant}}},
	} {
		path := "/runs/" + id + "/cancel"
		if _, ok := tc.form["grant"]; ok {
			path = "/signin"
		}
		r := e.do(http.MethodPost, path, grant, tc.form, tc.origin)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "cross-origin") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// The csrf field of the session is enough without an Origin (a client that sends none).
	r := e.do(http.MethodPost, "/signout", grant, url.Values{"csrf": {csrfToken(grant)}}, "-")
	if r.status != http.StatusSeeOther {
		t.Errorf("sign-out with the session's csrf field and no Origin: %d %s", r.status, r.body)
	}
}

// Behind a proxy, the public URL's origin may post too; others still may not.
func TestPublicURLOrigin(t *testing.T) {
	e := newEnv(t, WithPublicURL("https://console.example.com/"))
	grant := e.grant("admin")
	if r := e.do(http.MethodPost, "/signout", grant, url.Values{}, "https://console.example.com"); r.status != http.StatusSeeOther {
		t.Errorf("POST from the public origin: %d %s", r.status, r.body)
	}
	if r := e.do(http.MethodPost, "/signout", grant, url.Values{}, "https://evil.example.com"); r.status != http.StatusForbidden {
		t.Errorf("POST from another origin: %d", r.status)
	}
	if _, err := New(e.nc, WithIdentityKey(e.keys["console"]), WithPublicURL("console.example.com")); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("a public URL without a scheme: %v", err)
	}
}

// Every answer carries the strict security headers.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/signin", "/runs", "/static/console.js", "/healthz"} {
		r := e.get(path, e.grant("admin"))
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, r.header)
		}
		if strings.Contains(r.body, "<script>") {
			t.Errorf("%s has an inline script", path)
		}
	}
}

// Under TLS the session cookie is Secure, the console asks for HSTS, and the origin it accepts
// is its https one.
func TestSignInUnderTLS(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewTLSServer(e.handler)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/signin", strings.NewReader(url.Values{"grant": {e.grant("admin")}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(strings.Replace(srv.URL, "https:", "http:", 1)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in from the http origin of an https console: %s", resp.Status)
	}
	resp := post(srv.URL)
	ck, err := http.ParseSetCookie(resp.Header.Get("Set-Cookie"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("sign-in under TLS: %s, cookie %q", resp.Status, resp.Header.Get("Set-Cookie"))
	}
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no HSTS under TLS: %v", resp.Header)
	}
}
