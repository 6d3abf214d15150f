package coordinator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

const header = `name: flow
version: "1.0.0"
author: tests
description: flow tests
`

// byCommand fails a job whose command starts with "fail" and succeeds otherwise.
func byCommand(job *protocol.Job) protocol.Result {
	if strings.HasPrefix(job.Shell.Command, "fail") {
		return protocol.Result{Success: false, Msg: "Command failed with code 1", ExitCode: 1}
	}
	return succeed(job)
}

func shell(cmd string, extra ...string) string {
	s := fmt.Sprintf("  - shell:\n      command: %q\n", cmd)
	for _, e := range extra {
		s += "      " + e + "\n"
	}
	return s
}

// trace is the report's tasks as "list:command:ok" for compact comparison.
func trace(r *protocol.Report) string {
	var parts []string
	for _, t := range r.Tasks {
		data, _ := t.Data.(string)
		parts = append(parts, fmt.Sprintf("%s:%v:%s", t.List, t.Success, data))
	}
	return strings.Join(parts, " ")
}

func TestFlowSemantics(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(byCommand)

	for _, tc := range []struct {
		name   string
		doc    string
		status protocol.RunStatus
		trace  string
	}{
		{
			name: "all lists in order with hooks around each task",
			doc: header + "tasks:\n" + shell("t1") + shell("t2") + "hooks:\n  pre_book:\n" + shell("pb") +
				"  pre_task:\n" + shell("pre") + "  post_task:\n" + shell("post") +
				"  on_success:\n" + shell("yay") + "  on_fail:\n" + shell("boo") + "  post_book:\n" + shell("end"),
			status: protocol.StatusSuccess,
			trace: "pre_book:true:pb pre_task:true:pre tasks:true:t1 post_task:true:post pre_task:true:pre " +
				"tasks:true:t2 post_task:true:post on_success:true:yay post_book:true:end",
		},
		{
			name:   "a failing task stops the list and runs on_fail then post_book",
			doc:    header + "tasks:\n" + shell("t1") + shell("fail t2") + shell("t3") + "hooks:\n  on_success:\n" + shell("yay") + "  on_fail:\n" + shell("boo") + "  post_book:\n" + shell("end"),
			status: protocol.StatusFailed,
			trace:  "tasks:true:t1 tasks:false: on_fail:true:boo post_book:true:end",
		},
		{
			name:   "a failing pre_book stops the run at once",
			doc:    header + "tasks:\n" + shell("t1") + "hooks:\n  pre_book:\n" + shell("fail pb") + "  on_fail:\n" + shell("boo") + "  post_book:\n" + shell("end"),
			status: protocol.StatusFailed,
			trace:  "pre_book:false:",
		},
		{
			name:   "a failing pre_task hook fails its task without running it",
			doc:    header + "tasks:\n" + shell("t1") + "hooks:\n  pre_task:\n" + shell("fail pre") + "  on_fail:\n" + shell("boo"),
			status: protocol.StatusFailed,
			trace:  "pre_task:false: on_fail:true:boo",
		},
		{
			name:   "a failing post_task hook fails a passing task",
			doc:    header + "tasks:\n" + shell("t1") + shell("t2") + "hooks:\n  post_task:\n" + shell("fail post"),
			status: protocol.StatusFailed,
			trace:  "tasks:true:t1 post_task:false:",
		},
		{
			name:   "on_success failing fails the run",
			doc:    header + "tasks:\n" + shell("t1") + "hooks:\n  on_success:\n" + shell("fail yay") + "  post_book:\n" + shell("end"),
			status: protocol.StatusFailed,
			trace:  "tasks:true:t1 on_success:false: post_book:true:end",
		},
		{
			name:   "on_fail outcome does not change the failure",
			doc:    header + "tasks:\n" + shell("fail t1") + "hooks:\n  on_fail:\n" + shell("fail boo") + shell("never"),
			status: protocol.StatusFailed,
			trace:  "tasks:false: on_fail:false:",
		},
		{
			name:   "post_book failing fails a passing run",
			doc:    header + "tasks:\n" + shell("t1") + "hooks:\n  post_book:\n" + shell("fail end"),
			status: protocol.StatusFailed,
			trace:  "tasks:true:t1 post_book:false:",
		},
		{
			name:   "fail_ok counts a failure as success after the last try",
			doc:    header + "tasks:\n" + shell("fail t1", "fail_ok: true", "tries: 2", "try_sleep: 0") + shell("t2"),
			status: protocol.StatusSuccess,
			trace:  "tasks:true: tasks:true:t2",
		},
		{
			name:   "empty playbook succeeds",
			doc:    header,
			status: protocol.StatusSuccess,
			trace:  "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.submit(tc.doc, nil)
			r := e.waitFinal(id, 20*time.Second)
			if r.Status != tc.status {
				t.Errorf("status %s, want %s (error %q)", r.Status, tc.status, r.Error)
			}
			if got := trace(r); got != tc.trace {
				t.Errorf("trace\n got: %s\nwant: %s", got, tc.trace)
			}
		})
	}
}

func TestTriesAndTemplates(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	attempts := 0
	w := e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if strings.HasPrefix(job.Description, "flaky") {
			attempts++
			if attempts < 3 {
				return protocol.Result{Msg: fmt.Sprintf("attempt %d failed", attempts), ExitCode: 1}
			}
		}
		return protocol.Result{Success: true, Msg: "done " + job.Description, Data: job.Shell.Environment}
	})
	doc := header + `inputs:
  who:
    description: a name
    type: String
tasks:
  - shell:
      description: "flaky for {{ inputs.who }}"
      command: "echo {{{ inputs.who }}}"
      tries: 3
      try_sleep: 0
  - shell:
      description: "after"
      command: "echo {{ previous_task.msg }}"
`
	id := e.submit(doc, map[string]any{"who": "$(rm -rf /)"})
	r := e.waitFinal(id, 20*time.Second)
	if r.Status != protocol.StatusSuccess {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	if r.Tasks[0].Tries != 3 || r.Tasks[0].Description != "flaky for $(rm -rf /)" {
		t.Errorf("first task: tries %d description %q", r.Tasks[0].Tries, r.Tasks[0].Description)
	}
	w.mu.Lock()
	jobs := append([]*protocol.Job(nil), w.jobs...)
	w.mu.Unlock()
	last := jobs[len(jobs)-1]
	if strings.Contains(last.Shell.Command, "done flaky") {
		t.Errorf("previous_task.msg was spliced into the command: %q", last.Shell.Command)
	}
	var found bool
	for _, v := range last.Shell.Environment {
		found = found || v == "done flaky for $(rm -rf /)"
	}
	if !found {
		t.Errorf("previous_task.msg not passed through the environment: %v", last.Shell.Environment)
	}
	for _, j := range jobs {
		if strings.Contains(j.Shell.Command, "rm -rf") {
			t.Errorf("input spliced into command %q", j.Shell.Command)
		}
	}
}
