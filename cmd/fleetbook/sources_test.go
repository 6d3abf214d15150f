package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// pingBook is a playbook whose node set NODES (its YAML, indented under "nodes:\n  src:") is
// pinged by one rpc task; EXTRA is added at the top level.
func pingBook(nodeSet, extra string) string {
	return stackHeader + extra + "nodes:\n  src:\n" + nodeSet +
		"tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: \"{{{ nodes.src }}}\"\n"
}

// checkPinged fails unless the run succeeded, discovered want (in that order) and its rpc task
// reached exactly those nodes, each one answering.
func checkPinged(t *testing.T, r *protocol.Report, want ...string) {
	t.Helper()
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("run %s: %s (tasks %+v)", r.Status, r.Error, r.Tasks)
	}
	if !slices.Equal(r.Nodes["src"], want) {
		t.Fatalf("node set src is %v, want %v", r.Nodes["src"], want)
	}
	if len(r.Tasks) != 1 || r.Tasks[0].Type != "rpc" {
		t.Fatalf("tasks %+v", r.Tasks)
	}
	var reached []string
	for id, nr := range r.Tasks[0].Nodes {
		if !nr.Success {
			t.Errorf("node %s failed: %s", id, nr.Msg)
		}
		reached = append(reached, id)
	}
	sort.Strings(reached)
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(reached, sorted) {
		t.Errorf("the rpc task reached %v, want %v", reached, sorted)
	}
}

// checkRefusedAtDiscovery fails unless the run failed while discovering, with msg in its error,
// and no task acted on any node.
func checkRefusedAtDiscovery(t *testing.T, r *protocol.Report, msg string) {
	t.Helper()
	if r.Status != protocol.StatusFailed || !strings.Contains(r.Error, msg) {
		t.Fatalf("run %s: %q, want failed with %q", r.Status, r.Error, msg)
	}
	for _, tr := range r.Tasks {
		if tr.Type == "rpc" {
			t.Fatalf("the rpc task ran after a refused discovery: %+v", tr)
		}
	}
}

// consulCatalog serves /v1/health/service/NAME and /v1/catalog/service/NAME in Consul's JSON
// shapes, for the instances of services. No Consul server can run on this machine (see
// docs/discovery.md); worker/discover's consul double covers tags, datacenters, tokens and the
// identity fields, this one only what the whole stack needs.
func consulCatalog(t *testing.T, services map[string][]struct {
	node    string
	passing bool
}) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		health := strings.HasPrefix(r.URL.Path, "/v1/health/service/")
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1/health/service/"), "/v1/catalog/service/")
		_, passingOnly := r.URL.Query()["passing"]
		out := []any{}
		for _, in := range services[name] {
			if health && passingOnly && !in.passing {
				continue
			}
			if health {
				out = append(out, map[string]any{
					"Node":    map[string]any{"Node": in.node, "Address": "127.0.0.1", "Datacenter": "dc1", "Meta": map[string]string{}},
					"Service": map[string]any{"ID": name, "Service": name, "Tags": []string{}, "Address": "", "Port": 80},
					"Checks":  []any{map[string]any{"CheckID": "serfHealth", "Status": map[bool]string{true: "passing", false: "critical"}[in.passing]}},
				})
			} else {
				out = append(out, map[string]any{"Node": in.node, "Address": "127.0.0.1", "Datacenter": "dc1", "ServiceName": name, "ServiceAddress": "", "ServiceTags": []string{}})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Each source of truth feeds a node set that an rpc task targets, over the simulated fleet.
func TestSourcesOfTruthTargetedByRPC(t *testing.T) {
	s := newStack(t)
	s.fleet(6)

	t.Run("consul", func(t *testing.T) {
		url := consulCatalog(t, map[string][]struct {
			node    string
			passing bool
		}{
			"web": {{"node0001.sim", true}, {"node0002.sim", false}, {"node0004.sim", true}},
		})
		r := s.run(pingBook("    type: consul\n    service: web\n    url: "+url+"\n", ""), nil)
		checkPinged(t, r, "node0001.sim", "node0004.sim")
		r = s.run(pingBook("    type: consul\n    service: web\n    healthy: false\n    url: "+url+"\n", ""), nil)
		checkPinged(t, r, "node0001.sim", "node0002.sim", "node0004.sim")
	})

	t.Run("etcd", func(t *testing.T) {
		url := natstest.RunEtcd(t)
		for _, k := range []string{"/fleet/web/node0003.sim", "/fleet/web/node0000.sim", "/fleet/web/node0000.sim/role"} {
			natstest.EtcdPut(t, url, k, "{}")
		}
		natstest.EtcdPut(t, url, "/lists/db", `["node0005.sim", "node0002.sim"]`)
		natstest.EtcdPut(t, url, "/lists/evil", `["node0005.sim", "fleetbook.>"]`)
		checkPinged(t, s.run(pingBook("    type: etcd\n    prefix: /fleet/web/\n    url: "+url+"\n", ""), nil), "node0000.sim", "node0003.sim")
		checkPinged(t, s.run(pingBook("    type: etcd\n    key: /lists/db\n    url: "+url+"\n", ""), nil), "node0005.sim", "node0002.sim")
		checkRefusedAtDiscovery(t, s.run(pingBook("    type: etcd\n    key: /lists/evil\n    url: "+url+"\n", ""), nil),
			`"fleetbook.>" (etcd key /lists/evil, entry 2) is not a valid node identity`)
	})

	t.Run("http", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Api-Key") != "k3y" {
				http.Error(w, "no key", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"hosts": [{"name": "node0002.sim"}, {"name": "node0005.sim"}], "bad": ["node0001.sim", "a b"]}`)
		}))
		t.Cleanup(srv.Close)
		set := "    type: http\n    url: " + srv.URL + "/inventory\n    headers: {X-Api-Key: k3y}\n    path: PATH\n"
		checkPinged(t, s.run(pingBook(strings.Replace(set, "PATH", `"$.hosts[*].name"`, 1)+"    verify_ssl: false\n", ""), nil), "node0002.sim", "node0005.sim")
		// TLS is verified unless the playbook says otherwise: the test server's certificate is
		// not trusted here.
		checkRefusedAtDiscovery(t, s.run(pingBook(strings.Replace(set, "PATH", `"$.hosts[*].name"`, 1), ""), nil), "certificate")
		checkRefusedAtDiscovery(t, s.run(pingBook(strings.Replace(set, "PATH", "bad", 1)+"    verify_ssl: false\n", ""), nil), `"a b"`)
	})
}

// One run publishes the nodes it provisioned in the kv data store; another targets them through
// a data node set. A published value that is not a node identity is refused before any task.
func TestDataNodeSetSharesNodesBetweenRuns(t *testing.T) {
	s := newStack(t)
	s.fleet(5)
	key := fmt.Sprintf("provisioned_%d", time.Now().UnixNano())
	stores := "data_stores:\n  shared:\n    type: kv\n"
	publish := func(value string) {
		t.Helper()
		doc := stackHeader + stores + "tasks:\n  - data:\n      action: write\n      key: shared/" + key + "\n      value: " + value + "\n"
		if r := s.run(doc, nil); r.Status != protocol.StatusSuccess {
			t.Fatalf("publisher: %s %s", r.Status, r.Error)
		}
	}
	publish(`["node0003.sim", "node0001.sim"]`)
	target := pingBook("    type: data\n    store: shared\n    key: "+key+"\n", stores)
	checkPinged(t, s.run(target, nil), "node0003.sim", "node0001.sim")

	publish(`["node0003.sim", "node0001.sim > x"]`)
	checkRefusedAtDiscovery(t, s.run(target, nil), `"node0001.sim > x" (data store key shared/`+key+", entry 2) is not a valid node identity")
}

// previous_task in the first task reads Choria's "No previous task were found" (discovery is
// not a task); in the second, the first task's result.
func TestPreviousTaskInFirstTask(t *testing.T) {
	s := newStack(t)
	s.fleet(1)
	doc := stackHeader + "nodes:\n  all:\n    type: fleet\n" +
		"tasks:\n  - log:\n      message: \"msg={{{ previous_task.msg }}} desc={{{ previous_task.description }}} ok={{{ previous_task.success }}}\"\n" +
		"  - log:\n      message: \"then {{{ previous_task.msg }}}\"\n"
	r := s.run(doc, nil)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != 2 {
		t.Fatalf("%s %s: %+v", r.Status, r.Error, r.Tasks)
	}
	want := "msg=No previous task were found desc=No previous task were found ok=false"
	if r.Tasks[0].Msg != want {
		t.Errorf("first task logged %q, want %q", r.Tasks[0].Msg, want)
	}
	if r.Tasks[1].Msg != "then "+want {
		t.Errorf("second task logged %q", r.Tasks[1].Msg)
	}
}

// Choria's Basic Playbook waits with mcollective_assert and a key written as a Ruby symbol,
// tries 20 and try_sleep 30: read as it is meant, it passes on the first try (a key read as
// ":idling" would never match and retry for ten minutes, past this test's deadline). The same
// assertion with the opposite value fails, naming the nodes.
func TestSymbolKeyAssertThroughRun(t *testing.T) {
	s := newStack(t)
	s.fleet(3)
	book := func(value string, tries int) string {
		return stackHeader + "nodes:\n  servers:\n    type: mcollective\n    classes: [sim]\n" +
			"tasks:\n  - mcollective_assert:\n      description: \"wait for Puppet to be idle\"\n      action: puppet.status\n" +
			"      nodes: \"{{{ nodes.servers }}}\"\n      expression: [:idling, \"==\", " + value + "]\n" +
			fmt.Sprintf("      tries: %d\n      try_sleep: 30\n", tries)
	}
	r := s.run(book("true", 20), nil)
	if r.Status != protocol.StatusSuccess || len(r.Tasks) != 1 || r.Tasks[0].Tries != 1 || len(r.Tasks[0].Nodes) != 3 {
		t.Fatalf("%s %s: %+v", r.Status, r.Error, r.Tasks)
	}
	r = s.run(book("false", 1), nil)
	if r.Status != protocol.StatusFailed || len(r.Tasks) != 1 || r.Tasks[0].Success {
		t.Fatalf("the opposite assertion: %s %s: %+v", r.Status, r.Error, r.Tasks)
	}
	for id, nr := range r.Tasks[0].Nodes {
		if nr.Success {
			t.Errorf("node %s passed idling==false", id)
		}
	}
}

// The January-2017 spellings are refused by validate and run (exit 2) naming today's key.
func TestEarlySpellingsRefusedByTheCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"data_sources", "data_sources:\n  s: {type: kv}\ntasks:\n  - log: {message: hi}\n",
			`line 5: data_sources: "data_sources" is the January-2017 spelling of "data_stores": rename the key to data_stores`},
		{"dynamic_only", "data_stores:\n  s: {type: kv}\ninputs:\n  x: {type: String, data: s/x, dynamic_only: true}\ntasks:\n  - log: {message: hi}\n",
			`inputs.x.dynamic_only: "dynamic_only" is the January-2017 spelling of "dynamic": rename the key to dynamic`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := writeFile(t, dir, tc.name+".yaml", stackHeader+tc.body)
			for _, args := range [][]string{{"validate", book}, {"run", book, "--embedded", "--data-dir", filepath.Join(dir, "state")}} {
				r := cli(t, dir, args...)
				if r.code != exitRefused || !strings.Contains(r.stdout+r.stderr, tc.want) {
					t.Errorf("%s: exit %d, want 2 naming %q\nstdout: %s\nstderr: %s", args[0], r.code, tc.want, r.stdout, r.stderr)
				}
			}
		})
	}
}

// validate checks the inputs when any are given (or with --check-inputs); otherwise it says they
// were not checked, and names the inputs a run needs.
func TestValidateSaysWhetherInputsWereChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeFile(t, dir, "book.yaml", stackHeader+
		"inputs:\n  cluster: {type: String, description: c}\n  tier: {type: String, description: t, default: alfa}\n  count: {type: Integer, description: n, required: false}\n"+
		"tasks:\n  - log: {message: \"{{{ inputs.cluster }}}\"}\n")
	r := cli(t, dir, "validate", book)
	if r.code != exitOK || !strings.Contains(r.stdout, "is valid; inputs not checked") || !strings.Contains(r.stdout, "a run must be given: cluster") {
		t.Errorf("without inputs: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, dir, "validate", book, "--check-inputs")
	if r.code != exitRefused || !strings.Contains(r.stdout+r.stderr, `inputs.cluster: required input "cluster" (string) is missing`) {
		t.Errorf("--check-inputs: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, dir, "validate", book, "--input", "count=3")
	if r.code != exitRefused || !strings.Contains(r.stdout+r.stderr, `required input "cluster" (string) is missing`) {
		t.Errorf("some inputs: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, dir, "validate", book, "--input", "cluster=alpha")
	if r.code != exitOK || !strings.Contains(r.stdout, "is valid, with its inputs") {
		t.Errorf("with inputs: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, dir, "validate", book, "--json")
	var out struct {
		Valid         bool     `json:"valid"`
		InputsChecked bool     `json:"inputs_checked"`
		InputsNeeded  []string `json:"inputs_needed"`
	}
	decodeOne(t, r.stdout, &out)
	if !out.Valid || out.InputsChecked || !slices.Equal(out.InputsNeeded, []string{"cluster"}) {
		t.Errorf("--json: %+v", out)
	}
	// The run itself refuses the missing input, as validate --check-inputs did.
	run := cli(t, dir, "run", book, "--embedded", "--data-dir", filepath.Join(dir, "state"))
	if run.code != exitRefused || !strings.Contains(run.stderr, `required input "cluster"`) {
		t.Errorf("run: exit %d\nstderr: %s", run.code, run.stderr)
	}
}

// Bad keys of the sources of truth are refused by validate and run (exit 2) naming the field,
// before anything runs.
func TestSourceNodeSetKeysRefusedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, tc := range []struct{ set, want string }{
		{"    type: consul\n    tag: web\n", `line 6: nodes.src.service: required key "service" is missing for a consul node set`},
		{"    type: consul\n    service: web\n    address: ip\n", `nodes.src.address: must be node, address, service_address, meta.KEY or service_meta.KEY, got "ip"`},
		{"    type: etcd\n    prefix: /a/\n    key: /b\n", `nodes.src.key: give either "prefix"`},
		{"    type: data\n    store: nowhere\n    key: k\n", `nodes.src.store: store "nowhere" names an undeclared data store`},
		{"    type: http\n    url: \"http://127.0.0.1:1/h\"\n    path: \"hosts[\"\n", "nodes.src.path: is not a valid JSON path: missing ] for [ at offset 5"},
		{"    type: http\n    url: \"http://127.0.0.1:1/h\"\n    verify_tls: false\n", `nodes.src.verify_tls: unknown key "verify_tls" for a http node set (did you mean "verify_ssl"?)`},
	} {
		book := writeFile(t, dir, fmt.Sprintf("bad%d.yaml", i), pingBook(tc.set, ""))
		for _, args := range [][]string{{"validate", book}, {"run", book, "--embedded", "--data-dir", filepath.Join(dir, "state")}} {
			r := cli(t, dir, args...)
			if r.code != exitRefused || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("%s %d: exit %d, want 2 naming %q\nstdout: %s\nstderr: %s", args[0], i, r.code, tc.want, r.stdout, r.stderr)
			}
		}
	}
}
