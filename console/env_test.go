package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker"
	"github.com/fleetbook/fleetbook/worker/agent"
)

// wait is the generous deadline of every wait for something to happen: a readiness bound on a
// busy machine, not a speed bound.
const wait = 2 * time.Minute

// env is a real embedded NATS server with a coordinator (its policy names admin, viewer and the
// console), a worker, and the console under test behind an httptest server.
type env struct {
	t       *testing.T
	url     string
	nc      *nats.Conn
	keys    map[string]nkeys.KeyPair
	admin   *coordinator.Client
	server  *httptest.Server
	handler http.Handler
	http    *http.Client
}

func newEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	srv := natstest.RunServer(t)
	e := &env{t: t, url: srv.ClientURL(), keys: map[string]nkeys.KeyPair{}}
	pubs := map[string]string{}
	for _, name := range []string{"admin", "viewer", "console", "stranger"} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		e.keys[name] = kp
		pubs[name], _ = kp.PublicKey()
	}
	p, err := policy.Parse([]byte(`identities:
  admin: ` + pubs["admin"] + `
  viewer: ` + pubs["viewer"] + `
  console: ` + pubs["console"] + `
rules:
  - who: [admin]
    allow: [submit, cancel, prune, read, audit, schedule]
  - who: [viewer]
    allow: [read]
  - who: [console]
    allow: [console]
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	cnc, _ := natstest.Connect(t, e.url)
	coord, err := coordinator.New(cnc, coordinator.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	start := func(run func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	start(coord.Run)
	e.nc, _ = natstest.Connect(t, e.url)
	if e.admin, err = coordinator.NewClient(e.nc, coordinator.WithIdentityKey(e.keys["admin"])); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, wait, func() error { _, err := e.admin.List(ctx, 1); return err })
	// The worker finds the streams the coordinator provisioned.
	wnc, _ := natstest.Connect(t, e.url)
	wrk, err := worker.New(wnc, worker.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	start(wrk.Run)

	cons, err := New(e.nc, append([]Option{WithIdentityKey(e.keys["console"])}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.handler = cons.Handler()
	e.server = httptest.NewServer(e.handler)
	t.Cleanup(e.server.Close)
	// Redirects are looked at, not followed.
	e.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// grant is a session grant of the named identity, valid for an hour from now.
func (e *env) grant(name string) string {
	e.t.Helper()
	g, err := coordinator.NewSessionGrant(e.keys[name], time.Hour, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// response is one answer of the console.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends method path with the session cookie of grant ("" for none), the form (POST, with the
// console's own Origin unless origin says another) and returns the answer.
func (e *env) do(method, path, grant string, form url.Values, origin string) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.server.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost && origin == "" {
		origin = e.server.URL
	}
	if origin != "-" && origin != "" {
		req.Header.Set("Origin", origin)
	}
	if grant != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: grant})
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// get is a GET of path with grant's session.
func (e *env) get(path, grant string) response {
	e.t.Helper()
	return e.do(http.MethodGet, path, grant, nil, "")
}

// post is a same-origin POST of form to path with grant's session.
func (e *env) post(path, grant string, form url.Values) response {
	e.t.Helper()
	return e.do(http.MethodPost, path, grant, form, "")
}

// submit submits doc as the admin and returns the run id.
func (e *env) submit(doc string, inputs map[string]any) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := e.admin.Submit(ctx, protocol.SubmitRequest{Playbook: doc, Inputs: inputs, IdempotencyKey: e.t.Name() + time.Now().String()})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.RunID
}

// final waits for run id to finish and returns its report.
func (e *env) final(id string) *protocol.Report {
	e.t.Helper()
	var rep *protocol.Report
	natstest.Eventually(e.t, wait, func() error {
		r, err := e.admin.Get(context.Background(), id)
		if err != nil {
			return err
		}
		if !r.Status.Final() {
			return errors.New("run " + id + " is " + string(r.Status))
		}
		rep = r
		return nil
	})
	return rep
}

// startNodes runs simulated agents of nodes (the built-in rpcutil agent) until the test ends,
// and waits until they serve.
func (e *env) startNodes(nodes []agent.Node) {
	e.t.Helper()
	anc, _ := natstest.Connect(e.t, e.url)
	sim, err := agent.New(anc, nodes, agent.WithStateDir(e.t.TempDir()))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sim.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	<-sim.Ready()
}
