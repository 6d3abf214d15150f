package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

// logLine waits until p's log has a line matching re and returns its first group.
func logLine(t *testing.T, p *proc, re *regexp.Regexp) string {
	t.Helper()
	var got string
	natstest.Eventually(t, 2*time.Minute, func() error {
		b, _ := os.ReadFile(p.log)
		if m := re.FindSubmatch(b); m != nil {
			got = string(m[1])
			return nil
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, b)
		default:
		}
		return fmt.Errorf("no line %s in the log of %s yet", re, p.name)
	})
	return got
}

// signInTo posts grant to the console at base, as its own page would, and returns the session
// cookie; it fails the test unless the console signs in and then shows the runs page.
func signInTo(t *testing.T, base, grant string) *http.Cookie {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, base+"/signin", strings.NewReader(url.Values{"grant": {grant}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "fleetbook_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in: %s, cookies %v", resp.Status, resp.Cookies())
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/runs", nil)
	req.AddCookie(session)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `id="whoami"`) || !strings.Contains(string(b), `table id="runs"`) {
		t.Fatalf("runs page after sign-in: %s\n%s", resp.Status, b)
	}
	return session
}

// `fleetbook up --http 127.0.0.1:0` prints the console's sign-in URL with the port it bound,
// and the URL signs in (as the operator, under the default policy, through the console
// credential); a separate `fleetbook console` against the same server signs in with the grant
// of `console login`, and both answer /readyz. A non-loopback --http without TLS is refused.
func TestUpAndConsoleServeTheConsole(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	up := start(t, "up", "up", "--data-dir", state, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	signin := logLine(t, up, regexp.MustCompile(`(?m)^console: (http://127\.0\.0\.1:\d+/signin#grant=\S+)$`))
	server := logLine(t, up, regexp.MustCompile(`NATS on (nats://\S+),`))
	base, grant, _ := strings.Cut(signin, "/signin#grant=")
	signInTo(t, base, grant)

	console := start(t, "console", "console", "--server", server, "--data-dir", state, "--http", "127.0.0.1:0")
	other := logLine(t, console, regexp.MustCompile(`(?m)^console: (http://127\.0\.0\.1:\d+)$`))
	r := cli(t, dir, "console", "login", "--data-dir", state, "--url", other, "--json")
	if r.code != exitOK {
		t.Fatalf("console login: exit %d: %s", r.code, r.stderr)
	}
	var doc signIn
	decodeOne(t, r.stdout, &doc)
	signInTo(t, other, doc.Grant)
	for _, b := range []string{base, other} {
		natstest.Eventually(t, 2*time.Minute, func() error {
			resp, err := http.Get(b + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s/readyz: %s", b, resp.Status)
			}
			return nil
		})
	}

	for _, args := range [][]string{{"console", "--server", server, "--data-dir", state, "--http", "0.0.0.0:0"},
		{"up", "--data-dir", filepath.Join(dir, "other"), "--listen", "127.0.0.1:0", "--http", "0.0.0.0:0"}} {
		if r := cli(t, dir, args...); r.code != exitRefused || !strings.Contains(r.stderr, "reachable from other machines") {
			t.Errorf("%s --http 0.0.0.0:0: exit %d: %s", args[0], r.code, r.stderr)
		}
	}
}
