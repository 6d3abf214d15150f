package task

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// writePlugin installs plugin name in dir: spec YAML and an sh script body.
func writePlugin(t *testing.T, dir, name, spec, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+playbooks.PluginSpecExt), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

const echoSpec = `name: echo
description: answers with its input and environment
properties:
  text: {type: string, required: true}
  count: {type: integer}
`

func TestPluginReceivesJobAndCleanEnv(t *testing.T) {
	dir := t.TempDir()
	// The reply carries the request as data and the environment, one variable per line, as msg.
	writePlugin(t, dir, "echo", echoSpec, `in=$(cat); printf '{"success":true,"msg":"%s","data":%s}' "$(env | sort | tr '\n' ' ')" "$in"`)
	t.Setenv("FLEETBOOK_TEST_SECRET", "from-the-worker")
	job := propJob(t, "echo", map[string]any{"text": "hi", "count": 2})
	res := mustExecute(t, pluginDirEnv(dir), job)
	if !res.Success || res.ExitCode != 0 {
		t.Fatalf("result: %+v", res)
	}
	env := strings.Fields(res.Msg)
	for _, want := range []string{"FLEETBOOK_RUN_ID=r1", "FLEETBOOK_STEP=3", "FLEETBOOK_ATTEMPT=2", "FLEETBOOK_PLAYBOOK=test_book",
		"FLEETBOOK_TASK_TYPE=echo", "FLEETBOOK_WORKER=w-test", "PATH=" + pluginPath} {
		if !strings.Contains(res.Msg, want) {
			t.Errorf("environment %q lacks %s", env, want)
		}
	}
	if strings.Contains(res.Msg, "FLEETBOOK_TEST_SECRET") {
		t.Errorf("the worker's environment leaked into the plugin's: %q", env)
	}
	var req protocol.PluginRequest
	b, _ := json.Marshal(res.Data)
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if req.Version != 1 || req.Type != "echo" || req.Description != "notify" || req.RunID != "r1" || req.Step != 3 || req.Attempt != 2 ||
		req.RequestID != "r1/3/2/0" || req.Playbook != "test_book" || req.Properties["text"] != "hi" || req.TimeoutSeconds != defaultPluginTimeout.Seconds() {
		t.Errorf("request: %+v", req)
	}
}

func TestPluginFailures(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		props        map[string]any
		want         string
		wantData     any
	}{
		{"exit code", "echo first >&2; echo 'disk full' >&2; exit 3", nil, "plugin echo failed with exit code 3: disk full", "first\ndisk full\n"},
		{"not json", "echo ready", nil, "plugin echo answered with invalid JSON on stdout: invalid character 'r' looking for beginning of value", "ready\n"},
		{"two documents", `echo '{"success":true}{"success":false}'`, nil, "plugin echo answered with invalid JSON on stdout: more than one JSON document", nil},
		{"no success", `echo '{"msg":"hm"}'`, nil, `plugin echo answered without "success"`, nil},
		{"reported failure", `echo '{"success":false,"msg":"ticket system down","data":{"code":7}}'`, nil, "ticket system down", nil},
		{"reported failure without msg", `echo '{"success":false}'`, nil, "plugin echo failed", nil},
		{"killed", "kill -9 $$", nil, "plugin echo killed by signal killed", nil},
		{"missing property", "exit 0", map[string]any{}, "plugin echo: invalid plugin task properties: text: required property is missing", nil},
		{"wrong property type", "exit 0", map[string]any{"text": "x", "count": 1.5}, "plugin echo: invalid plugin task properties: count: must be an integer, got 1.5", nil},
		{"unknown property", "exit 0", map[string]any{"text": "x", "colour": "red"}, "plugin echo: invalid plugin task properties: colour: unknown property of a echo task", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writePlugin(t, dir, "echo", echoSpec, tc.script)
			props := tc.props
			if props == nil {
				props = map[string]any{"text": "x"}
			}
			res := mustExecute(t, pluginDirEnv(dir), propJob(t, "echo", props))
			if res.Success || res.Msg != tc.want {
				t.Errorf("got %+v, want msg %q", res, tc.want)
			}
			if tc.wantData != nil && res.Data != tc.wantData {
				t.Errorf("data %q, want %q", res.Data, tc.wantData)
			}
		})
	}
}

func TestPluginTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	// A background child in the plugin's group must go too.
	writePlugin(t, dir, "slow", "name: slow\ntimeout: 60\n",
		fmt.Sprintf("sleep 300 & echo $! >> %s; echo $$ >> %s; wait", pids, pids))
	job := propJob(t, "slow", nil)
	job.Timeout = 300 * time.Millisecond
	res := mustExecute(t, pluginDirEnv(dir), job)
	if res.Success || res.Msg != "plugin slow timed out after 300ms" {
		t.Errorf("result: %+v", res)
	}
	for _, pid := range natstest.ReadPids(t, pids) {
		natstest.Eventually(t, wait, func() error {
			if !natstest.ProcessGone(pid) {
				return fmt.Errorf("process %d still runs", pid)
			}
			return nil
		})
	}
}

func TestPluginNotUsable(t *testing.T) {
	dir := t.TempDir()
	// No plugin directory: the type is unsupported, as before.
	res := mustExecute(t, testEnv(), propJob(t, "echo", nil))
	if res.Success || res.Msg != "unsupported task type echo on worker w-test" {
		t.Errorf("no plugin dir: %+v", res)
	}
	res = mustExecute(t, pluginDirEnv(dir), propJob(t, "echo", nil))
	if res.Success || !strings.HasPrefix(res.Msg, "plugin task type echo is not usable on worker w-test: invalid plugin: ") {
		t.Errorf("missing plugin: %+v", res)
	}
	// A type that is not a plugin name never reaches the file system.
	res = mustExecute(t, pluginDirEnv(dir), propJob(t, "../echo", nil))
	if res.Success || res.Msg != "unsupported task type ../echo on worker w-test" {
		t.Errorf("path type: %+v", res)
	}
}

// pluginDirEnv is testEnv with the plugin task types of dir.
func pluginDirEnv(dir string) Env {
	env := testEnv()
	env.PluginDir = dir
	return env
}

// examplePlugins is the shipped example plugin directory.
func examplePlugins(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "plugins"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExamplePluginSpecLoads(t *testing.T) {
	specs, err := playbooks.LoadPlugins(examplePlugins(t))
	if err != nil {
		t.Fatal(err)
	}
	if s := specs["ticket"]; !s.Properties["summary"].Required || s.Timeout != 10*time.Second {
		t.Errorf("ticket spec: %+v", s)
	}
}

func TestExamplePluginBookParses(t *testing.T) {
	dir := examplePlugins(t)
	specs, err := playbooks.LoadPlugins(dir)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := playbooks.ParseFile(filepath.Join(dir, "..", "file-ticket.yaml"), playbooks.WithPlugins(specs))
	if err != nil {
		t.Fatal(err)
	}
	if task := pb.Tasks[0]; task.Type != "ticket" || !task.Plugin {
		t.Errorf("task: %+v", task)
	}
}
