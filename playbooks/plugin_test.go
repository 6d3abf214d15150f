package playbooks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const ticketSpec = `name: ticket
description: Open a ticket
timeout: 2.5
properties:
  summary: {type: string, required: true, description: one line}
  priority: {type: integer}
  weight: {type: number}
  urgent: {type: boolean}
  labels: {type: array}
  extra: {type: hash}
`

// pluginDir writes specs (name → YAML) and, unless the name is in noExec, an executable for each.
func pluginDir(t *testing.T, specs map[string]string, noExec ...string) string {
	t.Helper()
	dir := t.TempDir()
	for name, spec := range specs {
		if err := os.WriteFile(filepath.Join(dir, name+PluginSpecExt), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		if !contains(noExec, name) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestLoadPlugins(t *testing.T) {
	dir := pluginDir(t, map[string]string{"ticket": ticketSpec})
	// Files that are not specs are ignored.
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	specs, err := LoadPlugins(dir)
	if err != nil {
		t.Fatalf("LoadPlugins: %v", err)
	}
	s, ok := specs["ticket"]
	if !ok || len(specs) != 1 {
		t.Fatalf("specs: %+v", specs)
	}
	if s.Description != "Open a ticket" || s.Timeout != 2500*time.Millisecond || s.Path != filepath.Join(dir, "ticket") {
		t.Errorf("spec: %+v", s)
	}
	if p := s.Properties["summary"]; p.Type != PluginString || !p.Required || p.Description != "one line" {
		t.Errorf("summary: %+v", p)
	}
	if specs, err := LoadPlugins(""); err != nil || len(specs) != 0 {
		t.Errorf("no dir: %v %v", specs, err)
	}
	if _, err := LoadPlugins(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir accepted")
	}
}

func TestLoadPluginRefusesBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name, file, spec, want string
		noExec                 bool
	}{
		{name: "unknown key", file: "t1", spec: "name: t1\nproperties: {}\ncolour: red\n", want: "field colour not found"},
		{name: "unknown property key", file: "t1", spec: "name: t1\nproperties:\n  a: {type: string, optional: true}\n", want: "field optional not found"},
		{name: "bad property type", file: "t1", spec: "name: t1\nproperties:\n  a: {type: text}\n", want: `properties.a.type: must be one of string, integer, number, boolean, array, hash, got "text"`},
		{name: "missing property type", file: "t1", spec: "name: t1\nproperties:\n  a: {required: true}\n", want: `properties.a.type: must be one of`},
		{name: "required not bool", file: "t1", spec: "name: t1\nproperties:\n  a: {type: string, required: maybe}\n", want: "cannot unmarshal"},
		{name: "name mismatch", file: "t1", spec: "name: t2\n", want: `name: must be "t1" (the file name), got "t2"`},
		{name: "timeout text", file: "t1", spec: "name: t1\ntimeout: soon\n", want: `timeout: must be a number of seconds greater than 0, got "soon"`},
		{name: "timeout zero", file: "t1", spec: "name: t1\ntimeout: 0\n", want: `timeout: must be a number of seconds greater than 0`},
		{name: "common key", file: "t1", spec: "name: t1\nproperties:\n  tries: {type: integer}\n", want: `properties.tries: "tries" is a key every task has`},
		{name: "bad property name", file: "t1", spec: "name: t1\nproperties:\n  Bad-Name: {type: string}\n", want: `properties.Bad-Name: property names must be`},
		{name: "built-in name", file: "shell", spec: "name: shell\n", want: `plugin name "shell" is a built-in task type`},
		{name: "alias name", file: "mcollective", spec: "name: mcollective\n", want: `is a built-in task type`},
		{name: "bad file name", file: "Bad.Name", spec: "name: Bad.Name\n", want: `plugin name "Bad.Name" must be lower case`},
		{name: "no executable", file: "t1", spec: "name: t1\n", noExec: true, want: "t1 does not exist"},
		{name: "not yaml", file: "t1", spec: "name: [\n", want: "line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var noExec []string
			if tc.noExec {
				noExec = []string{tc.file}
			}
			dir := pluginDir(t, map[string]string{tc.file: tc.spec}, noExec...)
			_, err := LoadPlugins(dir)
			if !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidPlugin containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, tc.file+PluginSpecExt)) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestLoadPluginRefusesNonExecutable(t *testing.T) {
	dir := pluginDir(t, map[string]string{"t1": "name: t1\n"}, "t1")
	if err := os.WriteFile(filepath.Join(dir, "t1"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPlugin(dir, "t1"); !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), "not an executable file") {
		t.Fatalf("got %v", err)
	}
}

const pluginBook = `name: p
version: "1"
author: a
description: d
inputs:
  who: {type: String, default: me}
tasks:
  - ticket:
`

func TestParseWithPlugins(t *testing.T) {
	specs, err := LoadPlugins(pluginDir(t, map[string]string{"ticket": ticketSpec}))
	if err != nil {
		t.Fatal(err)
	}
	good := pluginBook + `      description: open it
      summary: "{{{ inputs.who }}} broke it"
      priority: 2
      weight: 0.5
      urgent: true
      labels: [a, b]
      extra: {k: v}
      tries: 2
`
	pb, err := Parse([]byte(good), WithPlugins(specs))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	task := pb.Tasks[0]
	if task.Type != "ticket" || !task.Plugin || task.Tries != 2 || task.Description != "open it" || task.Properties["priority"] != 2 {
		t.Errorf("task: %+v", task)
	}
	// Without the option the type is unknown, and the existing signature still works.
	if _, err := Parse([]byte(good)); err == nil || !strings.Contains(err.Error(), `unknown task type "ticket"`) {
		t.Errorf("without plugins: %v", err)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"missing required", "      priority: 1\n", `tasks[0].ticket.summary: required key "summary" is missing`},
		{"unknown key", "      summary: s\n      sumary: s\n", `tasks[0].ticket.sumary: unknown key "sumary" for a ticket task (did you mean "summary"?)`},
		{"string for integer", "      summary: s\n      priority: high\n", `tasks[0].ticket.priority: must be an integer, got "high"`},
		{"string for number", "      summary: s\n      weight: heavy\n", `tasks[0].ticket.weight: must be a number, got "heavy"`},
		{"map for array", "      summary: s\n      labels: {a: 1}\n", `tasks[0].ticket.labels: must be a list, got a map`},
		{"list for hash", "      summary: s\n      extra: [1]\n", `tasks[0].ticket.extra: must be a map, got a list`},
		{"text for boolean", "      summary: s\n      urgent: yes please\n", `tasks[0].ticket.urgent: must be true or false`},
		{"list for string", "      summary: [s]\n", `tasks[0].ticket.summary: must be a string, got a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(pluginBook+tc.body), WithPlugins(specs))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPluginUnknownTypeListsPlugins(t *testing.T) {
	specs, err := LoadPlugins(pluginDir(t, map[string]string{"ticket": ticketSpec}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse([]byte(strings.Replace(pluginBook, "ticket:", "tickt:", 1)), WithPlugins(specs))
	if err == nil || !strings.Contains(err.Error(), "plugins: ticket") {
		t.Fatalf("got %v", err)
	}
}

func TestPluginCheckProperties(t *testing.T) {
	specs, err := LoadPlugins(pluginDir(t, map[string]string{"ticket": ticketSpec}))
	if err != nil {
		t.Fatal(err)
	}
	s := specs["ticket"]
	// As JSON decodes them: numbers are float64.
	ok := map[string]any{"summary": "x", "priority": float64(3), "weight": 1.5, "labels": []any{"a"}, "extra": map[string]any{}}
	if err := s.CheckProperties(ok); err != nil {
		t.Errorf("valid properties refused: %v", err)
	}
	bad := map[string]any{"priority": 1.5, "summary": "{{ x }}", "other": 1}
	err = s.CheckProperties(bad)
	if !errors.Is(err, ErrInvalidPluginTask) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"other: unknown property", "priority: must be an integer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if err := s.CheckProperties(map[string]any{}); err == nil || !strings.Contains(err.Error(), "summary: required property is missing") {
		t.Errorf("missing required: %v", err)
	}
}

// TestHTTPTaskKeys covers the keys the worker's HTTP executors added to built-in types (kept here
// with the rest of this change).
func TestHTTPTaskKeys(t *testing.T) {
	const head = "name: p\nversion: \"1\"\nauthor: a\ndescription: d\ntasks:\n"
	for _, tc := range []struct{ name, task, want string }{
		{"signing secret", "  - webhook: {uri: \"http://h\", signing_secret: s}\n", ""},
		{"signing secret list", "  - webhook: {uri: \"http://h\", signing_secret: [s]}\n", "tasks[0].webhook.signing_secret: must be a string, got a list"},
		{"api url", "  - slack: {token: t, channel: c, text: x, api_url: \"http://127.0.0.1:9/api\"}\n", ""},
		{"api url not http", "  - slack: {token: t, channel: c, text: x, api_url: \"slack.com\"}\n", `tasks[0].slack.api_url: must be an http:// or https:// URL, got "slack.com"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head + tc.task))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
