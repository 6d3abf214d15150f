package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fleetbook/fleetbook/"

// allowed lists, for every package of the module, the packages of ours its non-test files may
// import: the table of docs/ARCHITECTURE.md. A package missing here fails the test, so a new
// package is placed in the layout on purpose.
var allowed = map[string][]string{
	"protocol":          {},
	"playbooks":         {"protocol"},
	"policy":            {},
	"kvstore":           {"protocol"},
	"kvstore/datastore": {"protocol"},
	"auth":              {"kvstore", "protocol"},
	"coordinator":       {"trust", "jspull", "kvstore", "kvstore/datastore", "metrics", "playbooks", "policy", "schedule", "protocol"},
	"worker":            {"worker/task", "worker/discover", "jspull", "kvstore", "metrics", "playbooks", "protocol"},
	"jspull":            {},
	"worker/task":       {"trust", "worker/discover", "worker/process", "kvstore", "kvstore/datastore", "playbooks", "protocol"},
	"worker/discover":   {"trust", "worker/process", "kvstore", "kvstore/datastore", "playbooks", "protocol"},
	"worker/process":    {},
	"worker/agent":      {"trust", "kvstore", "playbooks", "protocol"},
	"trust":             {"protocol"},
	"schedule":          {"protocol"},
	"metrics":           {"protocol"},
	"console":           {"coordinator", "protocol"},
	"cmd/fleetbook": {"console", "auth", "coordinator", "worker", "worker/agent", "internal/bench",
		"kvstore", "metrics", "playbooks", "policy", "schedule", "protocol"},
	"internal/natstest":  {},
	"internal/fleettest": {"internal/natstest", "kvstore", "protocol"},
	"internal/bench": {"coordinator", "worker", "worker/agent",
		"kvstore", "kvstore/datastore", "protocol"},
	"internal/faults":  {},
	"internal/browser": {},
	"internal/layout":  {},
}

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// ours lists the packages of this module among paths, without the module prefix.
func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		if rest, ok := strings.CutPrefix(p, module); ok {
			out = append(out, rest)
		}
	}
	return out
}

func listPackages(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < len(allowed) {
		t.Fatalf("go list found %d packages, the layout has %d", len(pkgs), len(allowed))
	}
	return pkgs
}

// TestImportDirection: every package imports only what the layout allows it, and the
// coordinator and the worker rooms never import each other, not even in tests: they meet only
// through protocol types on NATS.
func TestImportDirection(t *testing.T) {
	for _, v := range violations(listPackages(t), allowed) {
		t.Error(v)
	}
}

// violations lists every import of pkgs that the layout table forbids.
func violations(pkgs []listed, allowed map[string][]string) []string {
	var out []string
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		may, known := allowed[name]
		if !known {
			out = append(out, fmt.Sprintf("package %s is not in the layout: add it to docs/ARCHITECTURE.md and to this test's table", name))
			continue
		}
		for _, imp := range ours(p.Imports) {
			if !slices.Contains(may, imp) {
				out = append(out, fmt.Sprintf("%s imports %s, which the layout does not allow (allowed: %v)", name, imp, may))
			}
		}
		for _, imp := range ours(append(slices.Clone(p.TestImports), p.XTestImports...)) {
			if room(name) != "" && room(imp) != "" && room(name) != room(imp) {
				out = append(out, fmt.Sprintf("tests of %s import %s: the coordinator and the worker meet only on NATS", name, imp))
			}
		}
	}
	return out
}

// room is "coordinator" or "worker" for the packages of those two rooms, "" otherwise.
func room(pkg string) string {
	for _, r := range []string{"coordinator", "worker"} {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return r
		}
	}
	return ""
}

// TestViolationsAreFound makes sure the check can fail: each forbidden import of a made-up
// module is named.
func TestViolationsAreFound(t *testing.T) {
	pkgs := []listed{
		{ImportPath: module + "protocol", Imports: []string{"fmt", module + "kvstore"}},
		{ImportPath: module + "worker", Imports: []string{module + "protocol", module + "coordinator"}},
		{ImportPath: module + "coordinator", Imports: []string{module + "protocol"}, XTestImports: []string{module + "worker/agent"}},
		{ImportPath: module + "stray"},
	}
	table := map[string][]string{"protocol": {}, "worker": {"protocol"}, "coordinator": {"protocol"}}
	got := violations(pkgs, table)
	for _, want := range []string{"protocol imports kvstore", "worker imports coordinator", "tests of coordinator import worker/agent", "package stray is not in the layout"} {
		if !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, want) }) {
			t.Errorf("no violation %q among %q", want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d violations, want 4: %q", len(got), got)
	}
}
