package datastore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// fakeConsul implements the Consul HTTP endpoints the consul store uses, as Consul documents
// them (KV: /v1/kv/KEY GET/PUT/DELETE with ?acquire= and ?release=; sessions: create, renew,
// destroy): there is no Consul package to run a real agent in tests.
type fakeConsul struct {
	token string

	mu       sync.Mutex
	kv       map[string]*consulEntry
	sessions map[string]*consulSession
	next     int
	index    uint64
}

type consulEntry struct {
	value     []byte
	session   string
	lockIndex uint64
	modify    uint64
}

type consulSession struct {
	ttl      time.Duration
	behavior string
	renewed  time.Time
}

func newFakeConsul(t *testing.T, token string) (*fakeConsul, string) {
	f := &fakeConsul{token: token, kv: map[string]*consulEntry{}, sessions: map[string]*consulSession{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// invalidate ends a session as Consul does when its TTL passes: keys it holds are deleted
// (behavior delete) or released.
func (f *fakeConsul) invalidate(id string) {
	s, ok := f.sessions[id]
	if !ok {
		return
	}
	delete(f.sessions, id)
	for k, e := range f.kv {
		if e.session != id {
			continue
		}
		if s.behavior == "delete" {
			delete(f.kv, k)
		} else {
			e.session = ""
		}
	}
}

// expireAll invalidates every session, as if their holders had stopped renewing for a TTL.
func (f *fakeConsul) expireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.sessions {
		f.invalidate(id)
	}
}

func (f *fakeConsul) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && r.Header.Get("X-Consul-Token") != f.token {
		http.Error(w, "Permission denied", http.StatusForbidden)
		return
	}
	// Lazily expire sessions past their TTL.
	for id, s := range f.sessions {
		if time.Since(s.renewed) > s.ttl {
			f.invalidate(id)
		}
	}
	body, _ := io.ReadAll(r.Body)
	f.index++
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v1/kv/"):
		f.serveKV(w, r, strings.TrimPrefix(p, "/v1/kv/"), body)
	case p == "/v1/session/create" && r.Method == http.MethodPut:
		var req struct{ Name, TTL, Behavior string }
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "Request decode failed", http.StatusBadRequest)
			return
		}
		ttl, err := time.ParseDuration(req.TTL)
		if err != nil || ttl < 10*time.Second || ttl > 24*time.Hour {
			http.Error(w, fmt.Sprintf("Invalid Session TTL '%s', must be between [10s=24h0m0s]", req.TTL), http.StatusBadRequest)
			return
		}
		if req.Behavior == "" {
			req.Behavior = "release"
		}
		f.next++
		id := fmt.Sprintf("adf4238a-882b-9ddc-4a9d-5b6758e4%04d", f.next)
		f.sessions[id] = &consulSession{ttl: ttl, behavior: req.Behavior, renewed: time.Now()}
		fmt.Fprintf(w, `{"ID":%q}`, id)
	case strings.HasPrefix(p, "/v1/session/renew/") && r.Method == http.MethodPut:
		id := strings.TrimPrefix(p, "/v1/session/renew/")
		s, ok := f.sessions[id]
		if !ok {
			http.Error(w, fmt.Sprintf("Session id '%s' not found", id), http.StatusNotFound)
			return
		}
		s.renewed = time.Now()
		fmt.Fprintf(w, `[{"ID":%q,"TTL":%q,"Behavior":%q}]`, id, s.ttl.String(), s.behavior)
	case strings.HasPrefix(p, "/v1/session/destroy/") && r.Method == http.MethodPut:
		f.invalidate(strings.TrimPrefix(p, "/v1/session/destroy/"))
		fmt.Fprint(w, "true")
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeConsul) serveKV(w http.ResponseWriter, r *http.Request, key string, body []byte) {
	e := f.kv[key]
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		if e == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		out := map[string]any{"Key": key, "Flags": 0, "Value": base64.StdEncoding.EncodeToString(e.value),
			"LockIndex": e.lockIndex, "CreateIndex": e.modify, "ModifyIndex": e.modify}
		if e.session != "" {
			out["Session"] = e.session
		}
		_ = json.NewEncoder(w).Encode([]any{out})
	case http.MethodPut:
		if e == nil {
			e = &consulEntry{}
		}
		switch {
		case q.Has("acquire"):
			id := q.Get("acquire")
			if _, ok := f.sessions[id]; !ok {
				http.Error(w, "invalid session", http.StatusInternalServerError)
				return
			}
			if e.session != "" && e.session != id {
				fmt.Fprint(w, "false")
				return
			}
			if e.session == "" {
				e.lockIndex++
			}
			e.session = id
		case q.Has("release"):
			if e.session != q.Get("release") {
				fmt.Fprint(w, "false")
				return
			}
			e.session = ""
		}
		e.value, e.modify = body, f.index
		f.kv[key] = e
		fmt.Fprint(w, "true")
	case http.MethodDelete:
		delete(f.kv, key)
		fmt.Fprint(w, "true")
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func consulSpec(url string, extra map[string]any) protocol.StoreSpec {
	return specWith("pb_consul", "consul", map[string]any{"url": url, "prefix": "fb/", "token": "s3cret"}, extra)
}

func TestConsulStore(t *testing.T) {
	f, url := newFakeConsul(t, "s3cret")
	ctx := t.Context()
	st, err := Open(ctx, nil, consulSpec(url, nil), "r")
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, st, "choria/kv/cluster")
	if err := st.Put(ctx, "choria/kv/cluster", "bravo"); err != nil {
		t.Fatal(err)
	}
	if string(f.kv["fb/choria/kv/cluster"].value) != "bravo" {
		t.Fatalf("stored %#v", f.kv)
	}
	noToken, _ := Open(ctx, nil, consulSpec(url, map[string]any{"token": ""}), "r")
	if err := noToken.Put(ctx, "x", "y"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("without the token: %v", err)
	}
}

func TestConsulLocks(t *testing.T) {
	f, url := newFakeConsul(t, "s3cret")
	ctx := t.Context()
	spec := consulSpec(url, map[string]any{"ttl": 10})
	a, err := OpenLocker(ctx, nil, spec, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := OpenLocker(ctx, nil, spec, "run-b")
	key := "choria/locks/playbook/deploy"
	lb := lockHandover(t, a, b, key)
	// The holder's session is renewed in the background and the waiter's failed sessions are
	// destroyed: only b's session is left.
	f.mu.Lock()
	n := len(f.sessions)
	f.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d sessions left, want 1", n)
	}
	// b's session expires (its holder stopped renewing): Consul deletes the key, the next holder
	// takes it, and b may neither renew nor release it any more.
	lb.(*consulLease).r.halt()
	f.expireAll()
	lc, err := a.Lock(ctx, key, lockWait)
	if err != nil {
		t.Fatalf("after the holder's session expired: %v", err)
	}
	if err := lb.Release(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("stale release: got %v, want ErrNotHeld", err)
	}
	if err := lb.(*consulLease).renew(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("stale renew: got %v, want ErrNotHeld", err)
	}
	f.mu.Lock()
	holder := f.kv["fb/"+key].session
	f.mu.Unlock()
	if holder != lc.(*consulLease).session {
		t.Fatal("the stale release freed the new holder's lock")
	}
	if err := lc.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
