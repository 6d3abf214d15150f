package console

import (
	"net/http"
	"strings"
	"testing"
)

// A playbook name, a run's output and an error made of markup are shown as text.
func TestHostileStringsAreEscaped(t *testing.T) {
	e := newEnv(t)
	hostile := `name: hostile
version: "1.0.0"
author: console test
description: hostile
inputs:
  note:
    description: a note
    type: String
tasks:
  - shell:
      description: "<img src=x onerror=alert(2)>"
      command: "echo '<script>alert(3)</script>'"
  - rpc:
      description: hostile nodes
      action: rpcutil.ping
      nodes: ["<script>alert(5)</script>"]
      timeout: 1
`
	id := e.submit(hostile, map[string]any{"note": "<script>alert(1)</script>"})
	e.final(id)
	grant := e.grant("admin")
	// A node identity of markup (rpc targets are any strings) comes as JSON with < escaped; the
	// script puts it in the page with textContent.
	if r := e.get("/runs/"+id+"/nodes?seq=2", grant); r.status != http.StatusOK || strings.Contains(r.body, "<script") || !strings.Contains(r.body, `\u003cscript\u003ealert(5)`) {
		t.Errorf("node rows carry markup unescaped: %s", r.body)
	}
	for _, path := range []string{"/runs", "/runs/" + id} {
		r := e.get(path, grant)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d", path, r.status)
		}
		for _, bad := range []string{"<script>alert", "<img src=x"} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s shows %s unescaped", path, bad)
			}
		}
		if path == "/runs" {
			continue
		}
		for _, want := range []string{"&lt;script&gt;alert(1)", "&lt;img src=x onerror=alert(2)&gt;", "&lt;script&gt;alert(3)"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s does not show %s", path, want)
			}
		}
	}
}
