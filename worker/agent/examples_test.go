package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// The web-cluster example's agents change their node's state, and report it back.
func TestExampleAgents(t *testing.T) {
	nodes := []Node{
		{Identity: "lb.test"},
		{Identity: "web1.test", Facts: map[string]any{"app_revision": "1.0.0", "load": float64(3)}},
	}
	nc, state, _ := serve(t, nodes, WithoutRegistration())
	ok := func(agent, action string, data map[string]any) map[string]any {
		t.Helper()
		rep := call(t, nc, "web1.test", "", agent, action, data)
		if !rep.Success {
			t.Fatalf("%s#%s failed: %s", agent, action, rep.Msg)
		}
		m, _ := rep.Data.(map[string]any)
		return m
	}

	t.Run("puppet", func(t *testing.T) {
		ok("puppet", "disable", map[string]any{"message": "upgrading"})
		st := ok("puppet", "status", nil)
		if st["enabled"] != false || st["disable_message"] != "upgrading" || st["idling"] != true {
			t.Fatalf("status after disable: %v", st)
		}
		if rep := call(t, nc, "web1.test", "", "puppet", "runonce", nil); rep.Success {
			t.Fatalf("runonce while disabled succeeded: %+v", rep)
		}
		ok("puppet", "enable", nil)
		st = ok("puppet", "status", nil)
		// Enabling starts a run, which is in progress for a moment.
		if st["enabled"] != true || st["applying"] != true || st["runs"] != float64(1) {
			t.Fatalf("status after enable: %v", st)
		}
	})

	t.Run("haproxy", func(t *testing.T) {
		args := map[string]any{"backend": "app", "server": "web1"}
		server := func(d map[string]any, name string) map[string]any {
			t.Helper()
			s, _ := d["servers"].(map[string]any)[name].(map[string]any)
			return s
		}
		if d := ok("haproxy", "disable", args); d["status"] != "MAINT" || server(d, "web1")["previous"] != "UP" {
			t.Fatalf("disable: %v", d)
		}
		if d := ok("haproxy", "status", args); server(d, "web1")["status"] != "MAINT" {
			t.Fatalf("status: %v", d)
		}
		if d := ok("haproxy", "enable", args); d["status"] != "UP" || server(d, "web1")["previous"] != "MAINT" {
			t.Fatalf("enable: %v", d)
		}
		if got := readState(t, state, "web1.test", "haproxy/app/web1"); got != "UP" {
			t.Fatalf("state file says %s", got)
		}
		// A list of servers, as a playbook passes a node set.
		list := map[string]any{"backend": "alfa", "servers": []any{"web-alfa1.example.net", "web-alfa2.example.net"}}
		if d := ok("haproxy", "disable", list); server(d, "web-alfa2.example.net")["status"] != "MAINT" {
			t.Fatalf("disable list: %v", d)
		}
		if got := readState(t, state, "web1.test", "haproxy/alfa/web-alfa1.example.net"); got != "MAINT" {
			t.Fatalf("state file says %s", got)
		}
		for _, bad := range []map[string]any{
			{"backend": "alfa", "servers": []any{"../../etc"}},
			{"backend": "alfa", "servers": []any{"a\"b"}},
			{"backend": "alfa"},
			{"backend": "alfa", "servers": []any{"a,b"}},
			{"backend": "alfa", "servers": []any{1}},
		} {
			if rep := call(t, nc, "web1.test", "", "haproxy", "disable", bad); rep.Success {
				t.Fatalf("disable %v succeeded: %+v", bad, rep)
			}
		}
	})

	t.Run("nrpe", func(t *testing.T) {
		if d := ok("nrpe", "runcommand", map[string]any{"command": "check_load"}); d["status"] != "OK" || d["load"] != float64(3) {
			t.Fatalf("check_load: %v", d)
		}
		rep := call(t, nc, "web1.test", "", "nrpe", "runcommand", map[string]any{"command": "check_load", "warning": 1, "critical": "3"})
		if rep.Success || rep.Msg != "CRITICAL - load average: 3" {
			t.Fatalf("check_load over critical: %+v", rep)
		}
		writeFile(t, filepath.Join(state, "web1.test", "nrpe", "force_check_load"), "WARNING\n", 0o644)
		rep = call(t, nc, "web1.test", "", "nrpe", "runcommand", map[string]any{"command": "check_load"})
		if rep.Success || field(t, rep, "exitcode") != float64(1) {
			t.Fatalf("forced check_load: %+v", rep)
		}
	})

	t.Run("appmgr", func(t *testing.T) {
		if d := ok("appmgr", "status", nil); d["revision"] != "1.0.0" || d["upgrades"] != float64(0) {
			t.Fatalf("status before: %v", d)
		}
		if d := ok("appmgr", "upgrade", map[string]any{"revision": "1.1.0"}); d["previous"] != "1.0.0" || d["revision"] != "1.1.0" {
			t.Fatalf("upgrade: %v", d)
		}
		if d := ok("appmgr", "status", nil); d["revision"] != "1.1.0" || d["upgrades"] != float64(1) {
			t.Fatalf("status after: %v", d)
		}
	})

	// Each node has its own state: the load balancer was not touched.
	if _, err := os.Stat(filepath.Join(state, "lb.test")); !os.IsNotExist(err) {
		t.Fatalf("lb.test has state: %v", err)
	}
}
