package playbooks

import (
	"reflect"
	"testing"
	"time"
)

const fullDoc = `name: full
version: 1.10
author: me
description: all features
tags: [a, b]
loglevel: DEBUG
run_as: choria=ops.deployer
macros:
  chat: &chat
    token: tok
    channel: "#ops"
uses:
  puppet: ">= 1.0"
data_stores:
  kv: {type: consul, ttl: 20}
locks: [kv, kv/custom]
inputs:
  cluster:
    type: String
    validation: "/^q[0-9]+$/"
  batch:
    type: ":fixnum"
    default: 2
  token:
    data: kv/token
    dynamic: true
    sensitive: true
nodes:
  web:
    type: mcollective
    classes: [nginx]
    facts: ["cluster={{ inputs.cluster }}"]
    uses: [puppet]
    test: true
  few:
    type: yaml
    source: /x.yaml
    group: g
    empty_ok: true
tasks:
  - mcollective:
      nodes: "{{{ nodes.web }}}"
      action: puppet.disable
      tries: 3
      try_sleep: 1.5
      pre_sleep: 2
      fail_ok: true
      batch_size: "{{{ inputs.batch }}}"
  - shell:
      command: "echo one"
    webhook:
      uri: https://x.example
hooks:
  on_fail:
    - slack:
        <<: *chat
        text: "failed: {{ previous_task.msg }}"
        channel: "#override"
  post_book:
    - playbook:
        name: other
        inputs: {x: 1}
`

func TestParseFullDocument(t *testing.T) {
	pb := mustParse(t, fullDoc)
	if pb.Version != "1.10" || pb.Loglevel != "debug" || pb.FailPolicy != "fail" || pb.RunAs != "choria=ops.deployer" {
		t.Fatalf("metadata: %+v", pb)
	}
	if got := []string{pb.Inputs[0].Name, pb.Inputs[1].Name, pb.Inputs[2].Name}; !reflect.DeepEqual(got, []string{"cluster", "batch", "token"}) {
		t.Fatalf("input order %v", got)
	}
	if pb.Inputs[1].Type != InputInteger || pb.Inputs[1].Default != 2 || !pb.Inputs[1].HasDefault {
		t.Fatalf("batch input %+v", pb.Inputs[1])
	}
	if pb.Inputs[2].Type != InputString || !pb.Inputs[2].Sensitive || !pb.Inputs[2].Dynamic {
		t.Fatalf("token input %+v", pb.Inputs[2])
	}
	if pb.Nodes[0].Name != "web" || pb.Nodes[0].AtLeast != 1 || !pb.Nodes[0].Test || pb.Nodes[1].AtLeast != 0 || !pb.Nodes[1].EmptyOK {
		t.Fatalf("nodes %+v", pb.Nodes)
	}
	if _, ok := pb.Nodes[0].Properties["uses"]; ok {
		t.Fatal("common node keys must not stay in Properties")
	}
	if ds := pb.DataStores["kv"]; ds.Type != "consul" || ds.Properties["ttl"] != 20 {
		t.Fatalf("store %+v", ds)
	}
	if len(pb.Tasks) != 3 {
		t.Fatalf("want 3 tasks (multi-key entry gives two), got %d", len(pb.Tasks))
	}
	rpc := pb.Tasks[0]
	want := Task{Type: TypeRPC, TypeAlias: "mcollective", Description: "mcollective task", Tries: 3, TrySleep: 1500 * time.Millisecond,
		PreSleep: 2 * time.Second, FailOK: true, Line: 41, Path: "tasks[0].mcollective",
		Properties: map[string]any{"nodes": "{{{ nodes.web }}}", "action": "puppet.disable", "batch_size": "{{{ inputs.batch }}}"}}
	if !reflect.DeepEqual(rpc, want) {
		t.Fatalf("rpc task\n got %+v\nwant %+v", rpc, want)
	}
	if pb.Tasks[1].Type != TypeShell || pb.Tasks[2].Type != TypeWebhook || pb.Tasks[1].TrySleep != DefaultTrySleep || pb.Tasks[1].Tries != 1 {
		t.Fatalf("multi-key tasks %+v", pb.Tasks[1:])
	}
	slack := pb.OnFail[0].Properties
	if slack["token"] != "tok" || slack["channel"] != "#override" {
		t.Fatalf("merge key: %v", slack)
	}
	if pb.PostBook[0].Type != TypePlaybook || len(pb.List(ListPostBook)) != 1 || len(pb.Lists()) != 3 {
		t.Fatalf("lists %v", pb.Lists())
	}
	md := pb.Metadata()
	if len(md) != len(MetadataKeys) || md["on_fail"] != "fail" || !reflect.DeepEqual(md["tags"], []any{"a", "b"}) {
		t.Fatalf("metadata %v", md)
	}
	if len(pb.Warnings) != 0 {
		t.Fatalf("unexpected warnings %v", pb.Warnings)
	}
}

func TestParseWarnings(t *testing.T) {
	cases := []struct {
		name, src, path string
		line            int
	}{
		{"require alias", header + "inputs:\n  x:\n    type: String\n    require: false\n", "inputs.x.require", 8},
		{"unknown template form", header + "tasks:\n  - shell:\n      command: \"echo {{ x | upcase }}\"\n", "tasks[0].shell.command", 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pb := mustParse(t, tc.src)
			if len(pb.Warnings) != 1 || pb.Warnings[0].Path != tc.path || pb.Warnings[0].Line != tc.line {
				t.Fatalf("warnings %v", pb.Warnings)
			}
		})
	}
}

func TestRequireAliasSetsRequired(t *testing.T) {
	pb := mustParse(t, header+"inputs:\n  x:\n    type: String\n    require: false\n")
	if pb.Inputs[0].Required {
		t.Fatal("require: false must make the input optional")
	}
}

func TestParseFileNamesTheFile(t *testing.T) {
	_, err := ParseFile("testdata/compat/spec-illegal.yaml")
	if err == nil || err.Error()[:len("testdata/compat/spec-illegal.yaml:")] != "testdata/compat/spec-illegal.yaml:" {
		t.Fatalf("error does not start with the file name: %v", err)
	}
	if _, err := ParseFile("testdata/missing.yaml"); err == nil {
		t.Fatal("missing file must fail")
	}
}

func TestListNames(t *testing.T) {
	hooks := 0
	for _, n := range ListNames() {
		if n.IsHook() {
			hooks++
		}
	}
	if hooks != 6 || ListTasks.IsHook() {
		t.Fatalf("want 6 hook lists, got %d", hooks)
	}
	var pb Playbook
	if pb.List("nope") != nil {
		t.Fatal("unknown list must be nil")
	}
}
