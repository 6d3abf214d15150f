package playbooks

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The node sets of the sources of truth (consul, etcd, data, http) parse with their keys and
// the common ones.
func TestSourceNodeSetsParse(t *testing.T) {
	pb := mustParse(t, header+`data_stores:
  shared: {type: kv}
inputs:
  svc: {type: String, default: web}
nodes:
  c:
    type: consul
    service: "{{ inputs.svc }}"
    tag: [blue, v2]
    datacenter: lon1
    address: meta.fqdn
    healthy: false
    url: http://127.0.0.1:8500
    token: t
    at_least: 2
    limit: 5
    test: true
  e1: {type: etcd, prefix: /fleet/web/, url: "http://127.0.0.1:2379", user: u, password: p}
  e2: {type: etcd, key: /fleet/web-list, empty_ok: true}
  d: {type: data, store: shared, key: provisioned, when_empty: nothing provisioned}
  h:
    type: http
    url: https://cmdb.example.net/hosts?role=web
    path: "$.results[*].fqdn"
    headers: {Authorization: "Bearer x"}
    verify_ssl: false
`)
	byName := map[string]NodeSet{}
	for _, ns := range pb.Nodes {
		byName[ns.Name] = ns
	}
	if c := byName["c"]; c.Type != NodesConsul || c.AtLeast != 2 || c.Limit != 5 || !c.Test || c.Properties["address"] != "meta.fqdn" || c.Properties["healthy"] != false {
		t.Errorf("consul node set: %+v", c)
	}
	if e := byName["e2"]; e.Type != NodesEtcd || !e.EmptyOK || e.AtLeast != 0 || e.Properties["key"] != "/fleet/web-list" {
		t.Errorf("etcd node set: %+v", e)
	}
	if d := byName["d"]; d.Type != NodesData || d.Properties["store"] != "shared" || d.WhenEmpty != "nothing provisioned" {
		t.Errorf("data node set: %+v", d)
	}
	if h := byName["h"]; h.Type != NodesHTTP || h.Properties["path"] != "$.results[*].fqdn" || h.Properties["verify_ssl"] != false {
		t.Errorf("http node set: %+v", h)
	}
}

// Bad keys of the new node sets are refused when the playbook is read, naming the field.
func TestSourceNodeSetsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, src, path, message string
	}{
		{"consul without service", "nodes:\n  c: {type: consul, tag: web}\n", "nodes.c.service", `required key "service" is missing for a consul node set`},
		{"consul empty service", "nodes:\n  c: {type: consul, service: \"\"}\n", "nodes.c.service", "must not be empty"},
		{"consul bad address", "nodes:\n  c: {type: consul, service: web, address: ip}\n", "nodes.c.address", `must be node, address, service_address, meta.KEY or service_meta.KEY, got "ip"`},
		{"consul meta without key", "nodes:\n  c: {type: consul, service: web, address: meta.}\n", "nodes.c.address", "must be node"},
		{"consul tag map", "nodes:\n  c: {type: consul, service: web, tag: {a: b}}\n", "nodes.c.tag", "must be a string or a list of strings"},
		{"consul bad url", "nodes:\n  c: {type: consul, service: web, url: consul:8500}\n", "nodes.c.url", "must be an http:// or https:// URL"},
		{"consul healthy text", "nodes:\n  c: {type: consul, service: web, healthy: yes please}\n", "nodes.c.healthy", "must be true or false"},
		{"consul unknown key", "nodes:\n  c: {type: consul, service: web, services: db}\n", "nodes.c.services", `unknown key "services" for a consul node set (did you mean "service"?)`},
		{"etcd neither", "nodes:\n  e: {type: etcd, url: \"http://127.0.0.1:2379\"}\n", "nodes.e.prefix", `an etcd node set needs "prefix"`},
		{"etcd both", "nodes:\n  e: {type: etcd, prefix: /a/, key: /b}\n", "nodes.e.key", `give either "prefix"`},
		{"etcd empty prefix", "nodes:\n  e: {type: etcd, prefix: \"\"}\n", "nodes.e.prefix", "must not be empty"},
		{"data undeclared store", "nodes:\n  d: {type: data, store: nope, key: k}\n", "nodes.d.store", `store "nope" names an undeclared data store`},
		{"data templated store", "data_stores:\n  s: {type: kv}\nnodes:\n  d: {type: data, store: \"{{ inputs.x }}\", key: k}\n", "nodes.d.store", "must be a literal value"},
		{"data without key", "data_stores:\n  s: {type: kv}\nnodes:\n  d: {type: data, store: s}\n", "nodes.d.key", `required key "key" is missing for a data node set`},
		{"http without url", "nodes:\n  h: {type: http, path: hosts}\n", "nodes.h.url", `required key "url" is missing`},
		{"http bad path", "nodes:\n  h: {type: http, url: \"http://h/\", path: \"hosts[x]\"}\n", "nodes.h.path", "is not a valid JSON path: [x] at offset 5 is not an index"},
		{"http headers list", "nodes:\n  h: {type: http, url: \"http://h/\", headers: [a]}\n", "nodes.h.headers", "must be a map"},
		{"http method", "nodes:\n  h: {type: http, url: \"http://h/\", method: POST}\n", "nodes.h.method", `unknown key "method" for a http node set`},
	} {
		t.Run(tc.name, func(t *testing.T) { wantProblem(t, header+tc.src, tc.path, tc.message) })
	}
}

// A path or address templated with inputs is checked once the inputs are known.
func TestSourceNodeSetTemplatesCheckedWithInputs(t *testing.T) {
	src := header + "inputs:\n  p: {type: String}\nnodes:\n  h: {type: http, url: \"http://h/\", path: \"{{ inputs.p }}\"}\n"
	pb := mustParse(t, src)
	if _, err := pb.ResolveInputs(map[string]any{"p": "hosts[*].name"}); err != nil {
		t.Fatalf("good path refused: %v", err)
	}
	_, err := pb.ResolveInputs(map[string]any{"p": "hosts["})
	if err == nil || !strings.Contains(err.Error(), "nodes.h.path") || !strings.Contains(err.Error(), "missing ]") {
		t.Fatalf("bad rendered path: %v", err)
	}
}

// January-2017 spellings are refused with the key that replaced them.
func TestEarlySpellingsRefusedNamingTodaysKey(t *testing.T) {
	for _, tc := range []struct{ name, src, path, message string }{
		{"data_sources", "data_sources:\n  s: {type: kv}\n", "data_sources", `"data_sources" is the January-2017 spelling of "data_stores": rename the key to data_stores`},
		{"dynamic_only", "data_stores:\n  s: {type: kv}\ninputs:\n  x:\n    type: String\n    data: s/x\n    dynamic_only: true\n", "inputs.x.dynamic_only", `"dynamic_only" is the January-2017 spelling of "dynamic": rename the key to dynamic`},
	} {
		t.Run(tc.name, func(t *testing.T) { wantProblem(t, header+tc.src, tc.path, tc.message) })
	}
}

// rpc_assert (mcollective_assert) expressions accept Choria's symbol keys, in the flow form
// Choria's documents use (which YAML 1.2 cannot read as written) and in block form.
func TestAssertListAcceptsSymbolKeys(t *testing.T) {
	pb := mustParse(t, header+"tasks:\n  - mcollective_assert:\n      action: puppet.status\n      nodes: [a]\n      expression: [:idling, \"==\", true]\n"+
		"  - mcollective_assert:\n      action: puppet.status\n      nodes: [a]\n      expression:\n        - :idling\n        - \"==\"\n        - true\n"+
		"  - shell: {command: \"echo '[:kept' \\\"[:kept\\\"\"}\n")
	if len(pb.Warnings) != 1 || pb.Warnings[0].Line != 9 || !strings.Contains(pb.Warnings[0].Message, `the Ruby symbol :idling in a flow list or map is read as the string ":idling"`) {
		t.Errorf("warnings %v", pb.Warnings)
	}
	if cmd := pb.Tasks[2].Properties["command"]; cmd != `echo '[:kept' "[:kept"` {
		t.Errorf("quoted text was changed: %q", cmd)
	}
	if e := pb.Tasks[1].Properties["expression"].([]any); e[0] != ":idling" {
		t.Errorf("block form: %v", e)
	}
	e := pb.Tasks[0].Properties["expression"].([]any)
	a, err := ParseAssertion(AssertionText(e[0], e[1], e[2]))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Eval(map[string]any{"idling": true}) || a.Eval(map[string]any{"idling": false}) {
		t.Errorf("%s does not read the idling field", a)
	}
}

func TestJSONPath(t *testing.T) {
	doc := map[string]any{
		"results": []any{
			map[string]any{"fqdn": "a.example", "tags": []any{"x"}},
			map[string]any{"fqdn": "b.example"},
		},
		"groups":  map[string]any{"web": []any{"w1", "w2"}, "db": []any{"d1"}},
		"odd key": []any{"o1"},
		"list":    []any{"l1", "l2"},
	}
	for _, tc := range []struct {
		path string
		want []any
		err  string
	}{
		{"", []any{doc}, ""},
		{"$", []any{doc}, ""},
		{"list", []any{[]any{"l1", "l2"}}, ""},
		{"$.list", []any{[]any{"l1", "l2"}}, ""},
		{"list[*]", []any{"l1", "l2"}, ""},
		{"list[1]", []any{"l2"}, ""},
		{"results[*].fqdn", []any{"a.example", "b.example"}, ""},
		{"$.results.*.fqdn", []any{"a.example", "b.example"}, ""},
		{"results[0]['fqdn']", []any{"a.example"}, ""},
		{`$["odd key"][0]`, []any{"o1"}, ""},
		{"groups.*", []any{[]any{"d1"}, []any{"w1", "w2"}}, ""},
		{"groups.web", []any{[]any{"w1", "w2"}}, ""},
		{"results[*].tags", nil, "$.results[*].tags: not in the document"},
		{"missing", nil, "$.missing: not in the document"},
		{"list.x", nil, `a list has no key "x"`},
		{"list[5]", nil, "$.list[5]: not in the document"},
		{"results[0].fqdn[*]", nil, "* needs a list or a map, got a string"},
	} {
		p, err := ParseJSONPath(tc.path)
		if err != nil {
			t.Errorf("%q: %v", tc.path, err)
			continue
		}
		got, err := p.Select(doc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.path, err, tc.err)
			}
			if err != nil && strings.Contains(tc.err, "not in the document") && !errors.Is(err, ErrPathNotFound) {
				t.Errorf("%q: %v is not ErrPathNotFound", tc.path, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.path, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a..b", "a[", "a[-1]", "a[x]", "$x", "a b", "[\"a'b\"]x", strings.Repeat(".a", 65)} {
		if _, err := ParseJSONPath(bad); err == nil || !errors.Is(err, ErrInvalidExpression) {
			t.Errorf("%q: error %v, want an invalid expression", bad, err)
		}
	}
}

// wantProblem fails unless Parse refuses src with a problem at path, on a line, whose message
// holds message.
func wantProblem(t *testing.T, src, path, message string) {
	t.Helper()
	_, err := Parse([]byte(src))
	for _, p := range problemsOf(t, err) {
		if p.Path == path && p.Line > 0 && strings.Contains(p.Message, message) {
			return
		}
	}
	t.Fatalf("no problem at %s containing %q; got:\n%v", path, message, err)
}

// quoteLineSymbols quotes only symbols that open a flow item, outside quotes and comments. It
// cannot tell a flow list from a '[' inside a plain scalar (the url case), which is why
// parseYAML applies it only to the lines the YAML parser stopped at.
func TestQuoteLineSymbols(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`expression: [:idling, "==", true]`, `expression: [":idling", "==", true]`},
		{`e: [ :a, :b ]`, `e: [ ":a", ":b" ]`},
		{`data: {:message: hi}`, `data: {":message": hi}`},
		{`e: [":a", 'x, :b', "y\", :c"]`, `e: [":a", 'x, :b', "y\", :c"]`},
		{`e: [a, b] # [:c]`, `e: [a, b] # [:c]`},
		{`url: http://h:80/[:x]`, `url: http://h:80/[":x"]`},
		{`e: [::a, :1]`, `e: [::a, :1]`},
	} {
		if got, _ := quoteLineSymbols(tc.in); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}
