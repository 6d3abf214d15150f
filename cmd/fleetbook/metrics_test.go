package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/metrics"
)

// printed waits for p's log to hold a line matching re, and returns its first group.
func printed(t *testing.T, p *proc, re *regexp.Regexp) string {
	t.Helper()
	var got string
	natstest.Eventually(t, 2*time.Minute, func() error {
		b, _ := os.ReadFile(p.log)
		m := re.FindSubmatch(b)
		if m == nil {
			return fmt.Errorf("%s printed no line matching %s", p.name, re)
		}
		got = string(m[1])
		return nil
	})
	return got
}

// httpGet is the status and body of GET url.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	metricsLine = regexp.MustCompile(`(?m)^metrics: (http://127\.0\.0\.1:\d+)/metrics$`)
	natsLine    = regexp.MustCompile(`NATS on (nats://127\.0\.0\.1:\d+)`)
)

// `up --metrics 127.0.0.1:0` says where it serves; /readyz is 200 once the coordinator and
// worker (authenticated, as up always is) are up, /metrics counts a run and the coordinators and
// workers alive: a `fleetbook worker --metrics` of another pool and a `fleetbook coordinator
// --metrics`, each with its role's credential and ready itself, are counted too.
func TestUpServesMetrics(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	up := start(t, "up", "up", "--data-dir", state, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	base := printed(t, up, metricsLine)
	server := printed(t, up, natsLine)

	if code, body := httpGet(t, base+metrics.HealthPath); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz = %d %q", code, body)
	}
	natstest.Eventually(t, 2*time.Minute, func() error {
		if code, body := httpGet(t, base+metrics.ReadyPath); code != http.StatusOK {
			return fmt.Errorf("readyz = %d %q", code, body)
		}
		return nil
	})

	book := filepath.Join(dir, "hello.yaml")
	if err := os.WriteFile(book, []byte("name: hello_metrics\nversion: 1.0.0\nauthor: t\ndescription: d\ntasks:\n  - noop: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, dir, "run", book, "--server", server, "--data-dir", state); r.code != exitOK {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}

	wk := start(t, "worker", "worker", "--server", server, "--data-dir", state, "--pool", "blue", "--metrics", "127.0.0.1:0")
	co := start(t, "coordinator", "coordinator", "--server", server, "--data-dir", state, "--metrics", "127.0.0.1:0")
	wbase, cbase := printed(t, wk, metricsLine), printed(t, co, metricsLine)
	natstest.Eventually(t, 2*time.Minute, func() error {
		for _, b := range []string{wbase, cbase} {
			if code, body := httpGet(t, b+metrics.ReadyPath); code != http.StatusOK {
				return fmt.Errorf("readyz of %s = %d %q", b, code, body)
			}
		}
		return nil
	})

	natstest.Eventually(t, 2*time.Minute, func() error {
		_, body := httpGet(t, base+metrics.MetricsPath)
		for _, want := range []string{
			metrics.RunsSubmitted + `{playbook="hello_metrics"} 1`,
			metrics.RunsFinished + `{playbook="hello_metrics",status="success"} 1`,
			metrics.Coordinators + " 2",
			metrics.Workers + `{pool="default"} 1`,
			metrics.Workers + `{pool="blue"} 1`,
			metrics.ClusterUp + " 1",
		} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("no %q in up's /metrics", want)
			}
		}
		return nil
	})
	// Counting took nothing the credentials do not grant.
	for _, p := range []*proc{up, wk, co} {
		if b, _ := os.ReadFile(p.log); strings.Contains(string(b), "Permissions Violation") {
			t.Errorf("%s was refused something:\n%s", p.name, b)
		}
	}
	// The worker's own page has its process's metrics, not the cluster's.
	if _, body := httpGet(t, wbase+metrics.MetricsPath); strings.Contains(body, metrics.Coordinators) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("worker's /metrics:\n%s", body)
	}
}

// A --metrics address other machines reach needs TLS or --insecure, and the TLS flags need
// --metrics and each other: refused (exit 2) before anything starts.
func TestMetricsAddressRules(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--data-dir", filepath.Join(dir, "a"), "--metrics", "0.0.0.0:0"}, "--insecure"},
		{[]string{"coordinator", "--no-auth", "--server", "nats://127.0.0.1:1", "--metrics", "0.0.0.0:0"}, "--insecure"},
		{[]string{"worker", "--no-auth", "--server", "nats://127.0.0.1:1", "--metrics-tls-cert", "c.pem", "--metrics-tls-key", "k.pem"}, "need --metrics"},
		{[]string{"worker", "--no-auth", "--server", "nats://127.0.0.1:1", "--metrics", "127.0.0.1:0", "--metrics-tls-cert", "c.pem"}, "go together"},
		{[]string{"up", "--data-dir", filepath.Join(dir, "b"), "--metrics", "no-port"}, "--metrics"},
	} {
		if r := cli(t, dir, c.args...); r.code != exitRefused || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want %d naming %q: %s", c.args, r.code, exitRefused, c.want, r.stderr)
		}
	}
}

// --metrics with TLS serves https with the given certificate, and an address other machines
// reach is accepted with TLS or with --insecure.
func TestMetricsServeTLS(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	insecure := false
	f := &metricsFlags{addr: "127.0.0.1:0", tlsCert: cert, tlsKey: key, insecure: &insecure}
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	base, stop, err := f.serve()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("served at %q, want https", base)
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + metrics.HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz over TLS = %s", resp.Status)
	}
	if code, _ := httpGet(t, strings.Replace(base, "https", "http", 1)+metrics.HealthPath); code == http.StatusOK {
		t.Errorf("plain http answered on the TLS address")
	}

	wide := &metricsFlags{addr: "0.0.0.0:0", tlsCert: cert, tlsKey: key, insecure: &insecure}
	if err := wide.check(); err != nil {
		t.Errorf("non-loopback with TLS refused: %v", err)
	}
	insecure = true
	if err := (&metricsFlags{addr: "0.0.0.0:0", insecure: &insecure}).check(); err != nil {
		t.Errorf("non-loopback with --insecure refused: %v", err)
	}
}
