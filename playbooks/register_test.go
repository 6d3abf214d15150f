package playbooks

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestRegisterAndTaskReferences(t *testing.T) {
	src := header + `tasks:
  - shell:
      command: /bin/true
      register: probe
      timeout: 5
  - log:
      message: "probe said {{ tasks.probe.msg }} in {{ tasks.probe.runtime }}s"
  - webhook:
      uri: http://example.invalid/
      data:
        probe: "{{{ tasks.probe.data }}}"
hooks:
  on_fail:
    - log:
        message: "{{ tasks.probe.success }} {{ previous_task.type }}"
        level: error
`
	pb := mustParse(t, src)
	if pb.Tasks[0].Register != "probe" || pb.Tasks[0].Timeout.Seconds() != 5 || pb.Tasks[0].Properties["timeout"] != 5 {
		t.Fatalf("task 0: %+v", pb.Tasks[0])
	}
	s := Scope{Registered: map[string]PreviousTask{"probe": {Ran: true, Success: true, Msg: "ok", Data: []any{"a", "b"}, Type: "shell"}}}
	out, err := Render(pb.Tasks[2].Properties["data"], s)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(map[string]any)["probe"]; !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Fatalf("whole-string tasks.probe.data must keep its type, got %#v", got)
	}
	msg, err := RenderString(pb.Tasks[1].Properties["message"].(string), s)
	if err != nil || msg != "probe said ok in 0s" {
		t.Fatalf("%q %v", msg, err)
	}
	// A registered task that did not run reads as not run.
	v, err := Render("{{ tasks.probe.success }}", Scope{})
	if err != nil || v != false {
		t.Fatalf("not run: %v %v", v, err)
	}
}

func TestRegisteredValueIsNeverEvaluatedAgain(t *testing.T) {
	s := Scope{
		Inputs:     map[string]any{"secret": "s3cr3t"},
		Registered: map[string]PreviousTask{"x": {Ran: true, Msg: "{{ inputs.secret }}", Data: map[string]any{"k": "{{{ inputs.secret }}}"}}},
	}
	got, err := Render(map[string]any{"a": "{{ tasks.x.msg }}", "b": "say {{ tasks.x.msg }}", "c": "{{ tasks.x.data }}"}, s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "{{ inputs.secret }}", "b": "say {{ inputs.secret }}", "c": map[string]any{"k": "{{{ inputs.secret }}}"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestRegisterProblems(t *testing.T) {
	cases := []struct {
		name, body, path, msg string
	}{
		{"unknown name", "tasks:\n  - log:\n      message: \"{{ tasks.nope.msg }}\"\n", "tasks[0].log.message", "no task has register: nope"},
		{"later task", "tasks:\n  - log:\n      message: \"{{ tasks.later.msg }}\"\n  - log:\n      message: x\n      register: later\n", "tasks[0].log.message", "never runs before this one"},
		{"self", "tasks:\n  - log:\n      message: \"{{ tasks.me.msg }}\"\n      register: me\n", "tasks[0].log.message", "never runs before this one"},
		{"on_fail reads on_success", "tasks:\n  - log: {message: x}\nhooks:\n  on_success:\n    - log: {message: x, register: good}\n  on_fail:\n    - log:\n        message: \"{{ tasks.good.msg }}\"\n", "hooks.on_fail[0].log.message", "never runs before"},
		{"duplicate", "tasks:\n  - log: {message: x, register: a}\n  - log: {message: y, register: a}\n", "tasks[1].log.register", `"a" is already used by tasks[0].log`},
		{"bad name", "tasks:\n  - log: {message: x, register: \"a b\"}\n", "tasks[0].log.register", "must match"},
		{"templated name", "tasks:\n  - log: {message: x, register: \"{{ uuid }}\"}\n", "tasks[0].log.register", "literal"},
		{"bad field", "tasks:\n  - log: {message: x, register: a}\n  - log:\n      message: \"{{ tasks.a.output }}\"\n", "tasks[1].log.message", "not a valid reference"},
		{"in node set", "tasks:\n  - log: {message: x, register: a}\nnodes:\n  n:\n    type: shell\n    script: \"{{ tasks.a.msg }}\"\n", "nodes.n.script", "only tasks can read"},
		{"malformed input ref", "tasks:\n  - log:\n      message: \"{{ inputs.a.b }}\"\n", "tasks[0].log.message", "inputs.NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(header + tc.body))
			found := false
			for _, p := range problemsOf(t, err) {
				found = found || (p.Path == tc.path && strings.Contains(p.Message, tc.msg))
			}
			if !found {
				t.Fatalf("want %s: %s, got %v", tc.path, tc.msg, err)
			}
		})
	}
}

func TestRegisterOrderAcrossHooks(t *testing.T) {
	// pre_task runs before every main task, post_task after; on_success and post_book see the
	// main list; post_task after task 0 is seen by task 1.
	src := header + `tasks:
  - log: {message: "{{ tasks.pre.msg }}", register: main0}
  - log: {message: "{{ tasks.post.msg }} {{ tasks.main0.msg }}"}
hooks:
  pre_book:
    - log: {message: x, register: boot}
  pre_task:
    - log: {message: "{{ tasks.boot.msg }}", register: pre}
  post_task:
    - log: {message: "{{ tasks.main0.msg }}", register: post}
  on_success:
    - log: {message: "{{ tasks.post.msg }}", register: ok}
  on_fail:
    - log: {message: "{{ tasks.main0.msg }}", register: bad}
  post_book:
    - log: {message: "{{ tasks.ok.msg }} {{ tasks.bad.msg }} {{ tasks.boot.msg }}"}
`
	mustParse(t, src)
}

func TestTaskKeyRules(t *testing.T) {
	pb := mustParse(t, header+`data_stores:
  kv1: {type: kv}
tasks:
  - data: {action: read, key: kv1/a/b, register: got}
  - playbook: {name: deploy_failure_handler, inherit_inputs: true, inputs: {reason: "{{ tasks.got.msg }}"}}
  - log: {message: hello}
`)
	call, err := DecodePlaybookCall(map[string]any{"name": "child", "inherit_inputs": true, "inputs": map[string]any{"a": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if got := call.ChildInputs(map[string]any{"a": 1, "b": 1}, nil); !reflect.DeepEqual(got, map[string]any{"a": 2, "b": 1}) {
		t.Fatalf("child inputs %v", got)
	}
	child := mustParse(t, header+"inputs:\n  a: {type: Integer}\n  c: {type: String, required: false}\n")
	if got := call.ChildInputs(map[string]any{"a": 1, "b": 1, "c": "x"}, child); !reflect.DeepEqual(got, map[string]any{"a": 2, "c": "x"}) {
		t.Fatalf("child inputs limited to its declarations: %v", got)
	}
	if _, err := Parse([]byte(header + "nodes:\n  n: {type: mcollective, identity: [a]}\n")); err == nil || !strings.Contains(err.Error(), `did you mean "identities"`) {
		t.Fatalf("identity: %v", err)
	}
	ds, err := DecodeData(pb.Tasks[0].Properties)
	if err != nil || ds.Action != DataRead || ds.Store != "kv1" || ds.Key != "a/b" {
		t.Fatalf("data %+v %v", ds, err)
	}
	lg, err := DecodeLog(pb.Tasks[2].Properties)
	if err != nil || lg.Level != "info" || lg.Message != "hello" {
		t.Fatalf("log %+v %v", lg, err)
	}
	if _, err := DecodeLog(map[string]any{"message": 3}); err == nil || !strings.Contains(err.Error(), "log.message") {
		t.Fatalf("log type check: %v", err)
	}
	files := mustParse(t, header+"tasks:\n  - playbook: {file: a.yaml}\nhooks:\n  on_fail:\n    - playbook: {file: b.yaml}\n    - playbook: {file: a.yaml}\n    - playbook: {name: stored}\n")
	if got := files.PlaybookFiles(); !reflect.DeepEqual(got, []string{"a.yaml", "b.yaml"}) {
		t.Fatalf("files %v", got)
	}
	if _, err := Parse([]byte(header + "inputs:\n  f: {type: String}\ntasks:\n  - playbook: {file: \"{{ inputs.f }}\"}\n")); err == nil || !strings.Contains(err.Error(), "must be a literal value") {
		t.Fatalf("templated file: %v", err)
	}
	if _, err := DecodePlaybookCall(map[string]any{"name": "", "file": ""}); err == nil {
		t.Fatal("empty name and file accepted")
	}
}

func TestRegisterCheckIsLinear(t *testing.T) {
	// Many main tasks and many per-task hooks, each registering: checking must not unroll the
	// main loop (tasks x hooks) nor copy sets per task.
	var b strings.Builder
	b.WriteString(header + "tasks:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  - log: {message: \"{{ tasks.p%d.msg }}\", register: t%d}\n", i%3000, i)
	}
	b.WriteString("hooks:\n  pre_task:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "    - log: {message: \"{{ tasks.t0.msg }}\", register: p%d}\n", i)
	}
	pb := mustParse(t, b.String())
	if len(pb.Tasks) != 3000 || len(pb.PreTask) != 3000 {
		t.Fatalf("counts %d %d", len(pb.Tasks), len(pb.PreTask))
	}
}

func TestRenderShellPassesRegisteredValuesAsData(t *testing.T) {
	s := Scope{Registered: map[string]PreviousTask{"probe": {Ran: true, Msg: "x; rm -rf /"}}}
	cmd, env, err := RenderShell(`echo {{ tasks.probe.msg }}`, s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cmd, "rm -rf") || len(env) != 1 {
		t.Fatalf("value spliced into the command: %q %v", cmd, env)
	}
	for _, v := range env {
		if v != "x; rm -rf /" {
			t.Fatalf("env %v", env)
		}
	}
}
