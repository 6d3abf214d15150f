package discover

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/protocol"
)

// consulInstance is one service instance the Consul double knows.
type consulInstance struct {
	node, address, dc string
	nodeMeta          map[string]string
	service           string
	svcAddress        string
	svcMeta           map[string]string
	tags              []string
	passing           bool
}

// consulDouble serves Consul's catalog and health endpoints for services
// (/v1/catalog/service/NAME, /v1/health/service/NAME with ?passing, ?tag (repeatable, all must
// match), ?dc), answering the JSON shapes Consul documents, with an ACL token when set. No
// Consul server can be installed on this machine (no Debian package; the Go module of the
// server is not under an open-source licence), so this is the one test of the consul source
// that does not run against the real thing; docs/discovery.md says so.
type consulDouble struct {
	token string
	mu    sync.Mutex
	insts []consulInstance
	asked []string
}

func (c *consulDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, r.URL.RequestURI())
	if c.token != "" && r.Header.Get("X-Consul-Token") != c.token {
		http.Error(w, "ACL not found", http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	dc := q.Get("dc")
	if dc == "" {
		dc = "dc1"
	}
	if dc != "dc1" && dc != "dc2" {
		http.Error(w, "No path to datacenter", http.StatusInternalServerError)
		return
	}
	var health bool
	var name string
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/catalog/service/"):
		name = strings.TrimPrefix(r.URL.Path, "/v1/catalog/service/")
	case strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		name, health = strings.TrimPrefix(r.URL.Path, "/v1/health/service/"), true
	default:
		http.NotFound(w, r)
		return
	}
	_, passingOnly := q["passing"]
	out := []any{}
	for _, in := range c.insts {
		if in.service != name || in.dc != dc || (health && passingOnly && !in.passing) {
			continue
		}
		if !containsAll(in.tags, q["tag"]) {
			continue
		}
		tags := in.tags
		if tags == nil {
			tags = []string{}
		}
		status := "passing"
		if !in.passing {
			status = "critical"
		}
		if health {
			out = append(out, map[string]any{
				"Node": map[string]any{"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": in.node, "Address": in.address, "Datacenter": dc,
					"TaggedAddresses": map[string]string{"lan": in.address}, "Meta": in.nodeMeta, "CreateIndex": 1, "ModifyIndex": 2},
				"Service": map[string]any{"ID": in.service + "-" + in.node, "Service": in.service, "Tags": tags, "Address": in.svcAddress,
					"Meta": in.svcMeta, "Port": 8000, "Weights": map[string]int{"Passing": 1, "Warning": 1}, "Namespace": "default"},
				"Checks": []any{map[string]any{"Node": in.node, "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": status, "ServiceID": ""}},
			})
			continue
		}
		out = append(out, map[string]any{
			"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": in.node, "Address": in.address, "Datacenter": dc,
			"TaggedAddresses": map[string]string{"lan": in.address}, "NodeMeta": in.nodeMeta,
			"ServiceID": in.service + "-" + in.node, "ServiceName": in.service, "ServiceTags": tags, "ServiceAddress": in.svcAddress,
			"ServiceMeta": in.svcMeta, "ServicePort": 8000, "ServiceEnableTagOverride": false, "CreateIndex": 1, "ModifyIndex": 2,
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Consul-Index", "2")
	_ = json.NewEncoder(w).Encode(out)
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestDiscoverConsul(t *testing.T) {
	c := &consulDouble{token: "s3cret", insts: []consulInstance{
		{node: "web1.example.net", address: "10.0.0.1", dc: "dc1", nodeMeta: map[string]string{"fqdn": "w1.lon.example.net"}, service: "web", tags: []string{"blue", "v2"}, passing: true},
		{node: "web2.example.net", address: "10.0.0.2", dc: "dc1", nodeMeta: map[string]string{"fqdn": "w2.lon.example.net"}, service: "web", svcAddress: "192.0.2.2", svcMeta: map[string]string{"host": "app2"}, tags: []string{"green", "v2"}, passing: true},
		{node: "web3.example.net", address: "10.0.0.3", dc: "dc1", service: "web", tags: []string{"blue"}, passing: false},
		{node: "web9.example.net", address: "10.0.9.9", dc: "dc2", service: "web", passing: true},
		{node: "bad node", address: "10.0.0.4", dc: "dc1", service: "evil", passing: true},
		{node: "db1.example.net", address: "10.0.1.1", dc: "dc1", service: "db", passing: true},
	}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	props := func(extra map[string]any) map[string]any {
		m := map[string]any{"url": srv.URL, "token": "s3cret", "service": "web"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "healthy only by default", typ: "consul", props: props(nil), want: []string{"web1.example.net", "web2.example.net"}},
		{name: "every instance", typ: "consul", props: props(map[string]any{"healthy": false}), want: []string{"web1.example.net", "web2.example.net", "web3.example.net"}},
		{name: "tag", typ: "consul", props: props(map[string]any{"tag": "blue", "healthy": false}), want: []string{"web1.example.net", "web3.example.net"}},
		{name: "tags all match", typ: "consul", props: props(map[string]any{"tag": []any{"blue", "v2"}}), want: []string{"web1.example.net"}},
		{name: "datacenter", typ: "consul", props: props(map[string]any{"datacenter": "dc2"}), want: []string{"web9.example.net"}},
		{name: "node address", typ: "consul", props: props(map[string]any{"address": "address"}), want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "service address falls back to the node's", typ: "consul", props: props(map[string]any{"address": "service_address"}), want: []string{"10.0.0.1", "192.0.2.2"}},
		{name: "catalog service address", typ: "consul", props: props(map[string]any{"address": "service_address", "healthy": false, "tag": "v2"}), want: []string{"10.0.0.1", "192.0.2.2"}},
		{name: "node meta", typ: "consul", props: props(map[string]any{"address": "meta.fqdn"}), want: []string{"w1.lon.example.net", "w2.lon.example.net"}},
		{name: "missing service meta", typ: "consul", props: props(map[string]any{"address": "service_meta.host"}), wantErr: `consul service web: instance on node "web1.example.net" has no service_meta.host`},
		{name: "unknown service is empty", typ: "consul", props: props(map[string]any{"service": "nothing"}), want: []string{}},
		{name: "hostile node name refused", typ: "consul", props: props(map[string]any{"service": "evil"}), wantErr: `"bad node" (consul service evil (node), entry 1) is not a valid node identity`},
		{name: "wrong token", typ: "consul", props: props(map[string]any{"token": "nope"}), wantErr: "answered 403 Forbidden: ACL not found"},
		{name: "unknown datacenter", typ: "consul", props: props(map[string]any{"datacenter": "mars"}), wantErr: "No path to datacenter"},
		{name: "bad address field", typ: "consul", props: props(map[string]any{"address": "ip"}), wantErr: "property address must be node, address"},
		{name: "no service", typ: "consul", props: map[string]any{"url": srv.URL}, wantErr: "property service is required"},
		{name: "nobody listening", typ: "consul", props: map[string]any{"url": "http://127.0.0.1:" + fmt.Sprint(natstest.FreePorts(t, 1)[0]), "service": "web"}, wantErr: "Consul at http://127.0.0.1:"},
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.asked, "/v1/health/service/web?passing=true&tag=blue&tag=v2") {
		t.Errorf("requests: %v", c.asked)
	}
}

func TestDiscoverEtcd(t *testing.T) {
	url := natstest.RunEtcd(t)
	natstest.EtcdPut(t, url, "/fleet/web/web2.example.net", "{}")
	natstest.EtcdPut(t, url, "/fleet/web/web1.example.net", "{}")
	natstest.EtcdPut(t, url, "/fleet/web/web1.example.net/role", "frontend")
	natstest.EtcdPut(t, url, "/fleet/webby/x.example.net", "{}") // not under /fleet/web/
	natstest.EtcdPut(t, url, "/fleet/evil/a b", "{}")
	natstest.EtcdPut(t, url, "/lists/web", `["web3.example.net", "web1.example.net", "web3.example.net"]`)
	natstest.EtcdPut(t, url, "/lists/text", `web1.example.net`)
	natstest.EtcdPut(t, url, "/lists/hostile", `["ok.example.net", "fleetbook.node.>"]`)
	natstest.EtcdPut(t, url, "/lists/numbers", `[1, 2]`)
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "keys under a prefix, in key order, sub-keys once", typ: "etcd", props: map[string]any{"url": url, "prefix": "/fleet/web/"}, want: []string{"web1.example.net", "web2.example.net"}},
		{name: "empty prefix range", typ: "etcd", props: map[string]any{"url": url, "prefix": "/nothing/"}, want: []string{}},
		{name: "JSON list in one key, de-duplicated", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/web"}, want: []string{"web3.example.net", "web1.example.net"}},
		{name: "hostile key refused", typ: "etcd", props: map[string]any{"url": url, "prefix": "/fleet/evil/"}, wantErr: `"a b" (etcd keys under /fleet/evil/, entry 1) is not a valid node identity`},
		{name: "hostile list entry refused", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/hostile"}, wantErr: `"fleetbook.node.>" (etcd key /lists/hostile, entry 2) is not a valid node identity`},
		{name: "text that is not a list", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/text"}, wantErr: "etcd key /lists/text is not a JSON list of node identities"},
		{name: "numbers", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/numbers"}, wantErr: "etcd key /lists/numbers: entry 1 is a number, not a node identity"},
		{name: "missing key", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/none"}, wantErr: "etcd key /lists/none does not exist"},
		{name: "both", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/web", "prefix": "/fleet/"}, wantErr: "exactly one of the properties prefix and key"},
		{name: "unknown user", typ: "etcd", props: map[string]any{"url": url, "key": "/lists/web", "user": "root", "password": "x"}, wantErr: "authenticate root"},
	})
}

func TestDiscoverData(t *testing.T) {
	nc, js := setup(t)
	ctx := t.Context()
	for _, b := range []string{protocol.DataBucket, protocol.MemoryBucket} {
		if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b}); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := datastore.Open(ctx, js, protocol.StoreSpec{Name: "shared", Type: "kv"}, "run1")
	if err != nil {
		t.Fatal(err)
	}
	_ = kv.Put(ctx, "provisioned", []any{"node2.sim", "node1.sim"})
	_ = kv.Put(ctx, "text", `["node3.sim"]`)
	_ = kv.Put(ctx, "hostile", []any{"node1.sim", "*"})
	_ = kv.Put(ctx, "map", map[string]any{"a": "b"})
	_ = kv.Put(ctx, "sealed", protocol.SealedPrefix+"abc")
	mem, err := datastore.Open(ctx, js, protocol.StoreSpec{Name: "scratch", Type: "memory"}, "run1")
	if err != nil {
		t.Fatal(err)
	}
	_ = mem.Put(ctx, "mine", []any{"node4.sim"})
	store := func(name, typ string) map[string]any {
		return map[string]any{"name": name, "type": typ, "properties": map[string]any{}}
	}
	d := &discoverer{nc: nc, js: js, http: http.DefaultClient, sourceTimeout: 20 * time.Second, pingTimeout: time.Second, caller: "run1"}
	other := &discoverer{nc: nc, js: js, http: http.DefaultClient, sourceTimeout: 20 * time.Second, pingTimeout: time.Second, caller: "run2"}
	runDiscoverCases(t, d, []discoverCase{
		{name: "kv list", typ: "data", props: map[string]any{"store": store("shared", "kv"), "key": "provisioned"}, want: []string{"node2.sim", "node1.sim"}},
		{name: "kv JSON text", typ: "data", props: map[string]any{"store": store("shared", "kv"), "key": "text"}, want: []string{"node3.sim"}},
		{name: "memory store of the run", typ: "data", props: map[string]any{"store": store("scratch", "memory"), "key": "mine"}, want: []string{"node4.sim"}},
		{name: "hostile entry", typ: "data", props: map[string]any{"store": store("shared", "kv"), "key": "hostile"}, wantErr: `"*" (data store key shared/hostile, entry 2) is not a valid node identity`},
		{name: "a map", typ: "data", props: map[string]any{"store": store("shared", "kv"), "key": "map"}, wantErr: "data store key shared/map is a map, not a list of node identities"},
		{name: "sealed", typ: "data", props: map[string]any{"store": store("shared", "kv"), "key": "sealed"}, wantErr: "holds a sealed sensitive value"},
		{name: "missing key", typ: "data", props: map[string]any{"store": store("shared", "kv"), "key": "none"}, wantErr: "data store key shared/none does not exist"},
		{name: "store not rendered", typ: "data", props: map[string]any{"store": "shared", "key": "provisioned"}, wantErr: "property store must be the rendered data store declaration"},
		{name: "unknown store property", typ: "data", props: map[string]any{"store": map[string]any{"name": "s", "type": "kv", "properties": map[string]any{"bukket": "x"}}, "key": "k"}, wantErr: "bukket"},
	})
	runDiscoverCases(t, other, []discoverCase{
		{name: "another run's memory store is not read", typ: "data", props: map[string]any{"store": store("scratch", "memory"), "key": "mine"}, wantErr: "does not exist"},
	})
}

func TestDiscoverHTTP(t *testing.T) {
	inventory := `{"results": [{"fqdn": "web1.example.net", "role": "web"}, {"fqdn": "web2.example.net"}], "list": ["a.example.net", "b.example.net"], "evil": ["ok.example.net", "x\ny"], "n": [3]}`
	var mu sync.Mutex
	var gotAuth []string
	mux := http.NewServeMux()
	mux.HandleFunc("/inventory", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, inventory)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/inventory", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost.invalid/inventory", http.StatusFound)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "web1\nweb2\n") })
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(mux)
	t.Cleanup(tlsSrv.Close)
	auth := map[string]any{"Authorization": "Bearer tok"}
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "path through a list of records", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "$.results[*].fqdn", "headers": auth}, want: []string{"web1.example.net", "web2.example.net"}},
		{name: "path to a list", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "list", "headers": auth}, want: []string{"a.example.net", "b.example.net"}},
		{name: "same-host redirect followed", typ: "http", props: map[string]any{"url": plain.URL + "/moved", "path": "list", "headers": auth}, want: []string{"a.example.net", "b.example.net"}},
		{name: "other-host redirect refused", typ: "http", props: map[string]any{"url": plain.URL + "/away", "path": "list", "headers": auth}, wantErr: "redirect to http://localhost.invalid not followed: it is another host"},
		{name: "header missing", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "list"}, wantErr: "answered 401 Unauthorized: who are you"},
		{name: "TLS verified by default", typ: "http", props: map[string]any{"url": tlsSrv.URL + "/inventory", "path": "list", "headers": auth}, wantErr: "certificate"},
		{name: "TLS with verify_ssl false", typ: "http", props: map[string]any{"url": tlsSrv.URL + "/inventory", "path": "list", "headers": auth, "verify_ssl": false}, want: []string{"a.example.net", "b.example.net"}},
		{name: "hostile identity", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "evil", "headers": auth}, wantErr: `"x\ny"`},
		{name: "not strings", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "n", "headers": auth}, wantErr: "entry 1 is a number, not a node identity"},
		{name: "path selects a map", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "results[0]", "headers": auth}, wantErr: "selects a map, not node identities"},
		{name: "path reaches nothing", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "hosts", "headers": auth}, wantErr: "path hosts: $.hosts: not in the document"},
		{name: "not JSON", typ: "http", props: map[string]any{"url": plain.URL + "/text"}, wantErr: "did not answer JSON"},
		{name: "bad path", typ: "http", props: map[string]any{"url": plain.URL + "/inventory", "path": "a["}, wantErr: "property path"},
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(gotAuth, "Bearer tok") {
		t.Errorf("the header never reached the server: %q", gotAuth)
	}
}

// With auth enabled, the etcd source authenticates as its user; without (or with a wrong
// password) it is refused.
func TestDiscoverEtcdWithAuth(t *testing.T) {
	url := natstest.RunEtcd(t)
	natstest.EtcdPut(t, url, "/fleet/db/db1.example.net", "{}")
	natstest.EtcdCall(t, url, "/v3/auth/role/add", `{"name":"root"}`)
	natstest.EtcdCall(t, url, "/v3/auth/user/add", `{"name":"root","password":"rootpw"}`)
	natstest.EtcdCall(t, url, "/v3/auth/user/grant", `{"user":"root","role":"root"}`)
	natstest.EtcdCall(t, url, "/v3/auth/enable", `{}`)
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "authenticated", typ: "etcd", props: map[string]any{"url": url, "prefix": "/fleet/db/", "user": "root", "password": "rootpw"}, want: []string{"db1.example.net"}},
		{name: "anonymous refused", typ: "etcd", props: map[string]any{"url": url, "prefix": "/fleet/db/"}, wantErr: "etcd at " + url + " answered"},
		{name: "wrong password", typ: "etcd", props: map[string]any{"url": url, "prefix": "/fleet/db/", "user": "root", "password": "nope"}, wantErr: "authenticate root"},
	})
}

// Messages name a source's server without the user info or query of its URL.
func TestSourceMessagesHideURLSecrets(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	for _, tc := range []struct {
		typ   string
		props map[string]any
	}{
		{"consul", map[string]any{"service": "web", "url": "http://admin:pw-CANARY@" + dead + "/?token=q-CANARY"}},
		{"etcd", map[string]any{"prefix": "/a/", "url": "http://admin:pw-CANARY@" + dead}},
		{"http", map[string]any{"url": "http://admin:pw-CANARY@" + dead + "/hosts?token=q-CANARY"}},
	} {
		_, err := localDiscoverer().discover(t.Context(), &protocol.DiscoverSpec{Name: "s", Type: tc.typ, Properties: tc.props})
		if err == nil || strings.Contains(err.Error(), "CANARY") || !strings.Contains(err.Error(), dead) {
			t.Errorf("%s: %v", tc.typ, err)
		}
	}
}
