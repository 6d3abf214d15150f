package main

import (
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/playbooks"
)

func TestPrintDescription(t *testing.T) {
	pb, err := playbooks.Parse([]byte(`name: demo
version: 1.2.0
author: ops
description: demo playbook
inputs:
  release: {type: String, description: "Version to deploy"}
  token: {type: String, sensitive: true, required: false, default: s3cr3t-default}
  batch: {type: Integer, default: 2, required: false}
nodes:
  web: {type: yaml, source: /etc/groups.yaml, group: web, limit: 3}
tasks:
  - shell: {command: /bin/true, register: probe, tries: 2}
hooks:
  on_fail:
    - log: {message: "failed: {{ previous_task.msg }}", level: error}
`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := printDescription(&b, pb.Describe()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Playbook demo 1.2.0", "release", "Version to deploy", "[redacted]", "batch", "integer",
		"web (yaml, at least 1, limit 3)", "1. shell: shell task (tries 2) -> tasks.probe", "on_fail:", "1. log: log task",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t-default") {
		t.Errorf("sensitive default shown:\n%s", out)
	}
}
