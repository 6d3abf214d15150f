package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

func etcdSpec(url string, extra map[string]any) protocol.StoreSpec {
	return specWith("pb_etcd", "etcd", map[string]any{"url": url, "prefix": "fb/"}, extra)
}

func TestEtcdStore(t *testing.T) {
	url := natstest.RunEtcd(t)
	ctx := t.Context()
	st, err := Open(ctx, nil, etcdSpec(url, nil), "r")
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, st, "app/colour")
	if err := st.Put(ctx, "app/colour", "green"); err != nil {
		t.Fatal(err)
	}
	// The prefix is applied: the key is fb/app/colour in etcd.
	other, _ := Open(ctx, nil, etcdSpec(url, map[string]any{"prefix": ""}), "r")
	if v, err := other.Get(ctx, "fb/app/colour"); err != nil || v != "green" {
		t.Fatalf("prefixed key read without prefix: %#v, %v", v, err)
	}
	if err := st.Put(ctx, "n", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Get(ctx, "n"); v != `{"a":1}` {
		t.Fatalf("structured value read back as %#v", v)
	}
	dead, _ := Open(ctx, nil, etcdSpec(fmt.Sprintf("http://127.0.0.1:%d", natstest.FreePorts(t, 1)[0]), nil), "r")
	if _, err := dead.Get(ctx, "x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("unreachable etcd: %v", err)
	}
}

func TestEtcdLocks(t *testing.T) {
	url := natstest.RunEtcd(t)
	ctx := t.Context()
	spec := etcdSpec(url, map[string]any{"ttl": 2})
	a, err := OpenLocker(ctx, nil, spec, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := OpenLocker(ctx, nil, spec, "run-b")
	lb := lockHandover(t, a, b, "choria/locks/playbook/deploy")
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// A holder that stops keeping its lease alive loses the lock after the TTL, and cannot
	// release it from under the next holder.
	lc, err := a.Lock(ctx, "maint", 0)
	if err != nil {
		t.Fatal(err)
	}
	lc.(*etcdLease).r.halt()
	ld, err := b.Lock(ctx, "maint", lockWait)
	if err != nil {
		t.Fatalf("lock of a dead holder never expired: %v", err)
	}
	if err := lc.Release(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("stale release: got %v, want ErrNotHeld", err)
	}
	st, _ := Open(ctx, nil, spec, "r")
	v, err := st.Get(ctx, "maint")
	var rec lockRecord
	if err != nil || json.Unmarshal([]byte(v.(string)), &rec) != nil || rec.Owner != "run-b" {
		t.Fatalf("after the stale release the lock holds %#v, %v", v, err)
	}
	// The holder's keepalives keep it past several TTLs.
	if _, err := a.Lock(ctx, "maint", 5*time.Second); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("renewed lock: got %v, want ErrLockTimeout", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ld.Release(rctx); err != nil {
		t.Fatal(err)
	}
}

// etcdAdmin posts one gateway request as root (token may be ""), failing the test on error.
func etcdAdmin(t *testing.T, url, token, path, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", path, resp.StatusCode, out)
	}
	return out
}

func TestEtcdStoreWithAuthentication(t *testing.T) {
	url := natstest.RunEtcd(t)
	etcdAdmin(t, url, "", "/v3/auth/role/add", `{"name":"root"}`)
	etcdAdmin(t, url, "", "/v3/auth/user/add", `{"name":"root","password":"rootpw"}`)
	etcdAdmin(t, url, "", "/v3/auth/user/grant", `{"user":"root","role":"root"}`)
	etcdAdmin(t, url, "", "/v3/auth/enable", `{}`)

	ctx := t.Context()
	anon, _ := Open(ctx, nil, etcdSpec(url, nil), "r")
	if err := anon.Put(ctx, "k", "v"); err == nil {
		t.Fatal("an unauthenticated write was accepted: auth is not enabled, the test proves nothing")
	}
	st, err := Open(ctx, nil, etcdSpec(url, map[string]any{"user": "root", "password": "rootpw"}), "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("read %#v, %v", v, err)
	}
	bad, _ := Open(ctx, nil, etcdSpec(url, map[string]any{"user": "root", "password": "wrong"}), "r")
	if _, err := bad.Get(ctx, "k"); err == nil || !strings.Contains(err.Error(), "authenticate root") {
		t.Fatalf("wrong password: %v", err)
	}
}
