package discover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// compat is the Choria corpus shared with the playbooks package.
const compat = "../../playbooks/testdata/compat/"

// localDiscoverer resolves node sets that need no NATS.
func localDiscoverer() *discoverer {
	return &discoverer{puppetDB: DefaultPuppetDB, http: http.DefaultClient, sourceTimeout: 20 * time.Second, pingTimeout: time.Second}
}

// discoverCase runs one node set and checks either its nodes or its error.
type discoverCase struct {
	name    string
	typ     string
	props   map[string]any
	want    []string
	wantErr string
}

func runDiscoverCases(t *testing.T, d *discoverer, cases []discoverCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.discover(t.Context(), &protocol.DiscoverSpec{Name: "set", Type: tc.typ, Properties: tc.props})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q (nodes %v)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("discover: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("nodes %q, want %q", got, tc.want)
			}
		})
	}
}

// executable copies src into a temporary directory as an executable file.
func executable(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiscoverYAML(t *testing.T) {
	nodes := compat + "spec-nodes.yaml"
	docs := compat + "docs-fragments/node_sets-04.yaml"
	dup := writeFile(t, "dup.yaml", "g: [b.example, a.example, b.example]\nnums: [1, 2]\n")
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "group", typ: "yaml", props: map[string]any{"source": nodes, "group": "uk"}, want: []string{"node1.example.net", "node2.example.net", "node3.example.net"}},
		{name: "docs example", typ: "yaml", props: map[string]any{"source": docs, "group": "db_servers"}, want: []string{"db1.example.net", "db2.example.net"}},
		{name: "de-duplicated in order", typ: "yaml", props: map[string]any{"source": dup, "group": "g"}, want: []string{"b.example", "a.example"}},
		{name: "non array group", typ: "yaml", props: map[string]any{"source": nodes, "group": "non_array"}, wantErr: `group "non_array" in node source file ` + nodes + ` is not a list of hosts (it is the string "foo")`},
		{name: "empty array group", typ: "yaml", props: map[string]any{"source": nodes, "group": "empty_array"}, wantErr: `group "empty_array" in node source file ` + nodes + " is empty"},
		{name: "missing group", typ: "yaml", props: map[string]any{"source": nodes, "group": "us"}, wantErr: `has no group "us"`},
		{name: "hostile host", typ: "yaml", props: map[string]any{"source": writeFile(t, "h.yaml", "g: [ok.example, \"web1 >\"]\n"), "group": "g"}, wantErr: `"web1 >" (group "g" in node source file `},
		{name: "non string host", typ: "yaml", props: map[string]any{"source": dup, "group": "nums"}, wantErr: "entry 1 is not a host name (it is the int 1)"},
		{name: "missing file", typ: "yaml", props: map[string]any{"source": "/nonexistent/nodes.yaml", "group": "uk"}, wantErr: "cannot read node source file /nonexistent/nodes.yaml"},
		{name: "not a map", typ: "yaml", props: map[string]any{"source": writeFile(t, "l.yaml", "- a\n"), "group": "uk"}, wantErr: "is not a YAML map of groups"},
		{name: "no source", typ: "yaml", props: map[string]any{"group": "uk"}, wantErr: "property source is required"},
		{name: "group not a string", typ: "yaml", props: map[string]any{"source": nodes, "group": 3}, wantErr: "property group must be a string"},
		{name: "unknown type", typ: "ldap", props: map[string]any{}, wantErr: `unknown node set type "ldap"`},
	})
}

func TestDiscoverShell(t *testing.T) {
	good := executable(t, compat+"spec-script_nodes.sh")
	bad := executable(t, compat+"spec-bad_script_nodes.sh")
	spaced := executable(t, compat+"spec-script_nodes.sh")
	spacedDir := filepath.Join(t.TempDir(), "with space")
	if err := os.Mkdir(spacedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(spaced, filepath.Join(spacedDir, "nodes.sh")); err != nil {
		t.Fatal(err)
	}
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "script", typ: "shell", props: map[string]any{"script": good}, want: []string{"node1.example.net", "node2.example.net"}},
		{name: "interpreter with argument", typ: "shell", props: map[string]any{"script": "bash " + compat + "spec-script_nodes.sh"}, want: []string{"node1.example.net", "node2.example.net"}},
		{name: "quoted path", typ: "shell", props: map[string]any{"script": `"` + spacedDir + `/nodes.sh"`}, want: []string{"node1.example.net", "node2.example.net"}},
		{name: "arguments reach the program", typ: "shell", props: map[string]any{"script": `printf '%s\n\n' a.example 'b.example' a.example`}, want: []string{"a.example", "b.example"}},
		{name: "invalid host names refused", typ: "shell", props: map[string]any{"script": bad}, wantErr: `"node1 example.net" (node source script output, host 1) is not a valid hostname`},
		{name: "empty output is an empty set", typ: "shell", props: map[string]any{"script": "true"}, want: []string{}},
		{name: "non-zero exit", typ: "shell", props: map[string]any{"script": `sh -c "echo oops >&2; exit 3"`}, wantErr: "failed with exit code 3: oops"},
		{name: "not executable", typ: "shell", props: map[string]any{"script": compat + "spec-script_nodes.sh"}, wantErr: "node source script " + compat + "spec-script_nodes.sh is not executable"},
		{name: "missing", typ: "shell", props: map[string]any{"script": "/nonexistent/nodes.sh --x"}, wantErr: "node source script /nonexistent/nodes.sh does not exist"},
		{name: "not on PATH", typ: "shell", props: map[string]any{"script": "no-such-fleetbook-program"}, wantErr: `"no-such-fleetbook-program" was not found on PATH`},
		{name: "unterminated quote", typ: "shell", props: map[string]any{"script": `x "y`}, wantErr: "property script: command line"},
		{name: "script required", typ: "shell", props: map[string]any{}, wantErr: "property script is required"},
	})
}

func TestDiscoverShellValuesAreNeverCode(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pwned")
	// What a hostile rendered input could put into script: with no shell it is one more argument.
	script := "printf '%s\\n' ok.example $(touch " + marker + ") ';touch " + marker + "'"
	_, err := localDiscoverer().discover(t.Context(), &protocol.DiscoverSpec{Name: "s", Type: "shell", Properties: map[string]any{"script": script}})
	if err == nil || !strings.Contains(err.Error(), `"$(touch" (node source script output, host 2) is not a valid hostname`) {
		t.Fatalf("error %v, want the would-be substitution refused as a host name", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a templated value ran as code: %v", err)
	}
}

func TestDiscoverShellTimeoutKillsGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	d := localDiscoverer()
	d.sourceTimeout = 2 * time.Second
	script := `sh -c "sleep 60 & echo \$! > ` + pids + `; echo \$\$ >> ` + pids + `; wait"`
	_, err := d.discover(t.Context(), &protocol.DiscoverSpec{Name: "s", Type: "shell", Properties: map[string]any{"script": script}})
	if err == nil || !strings.Contains(err.Error(), "timed out after 2s") {
		t.Fatalf("error %v, want a timeout", err)
	}
	for _, pid := range natstest.ReadPids(t, pids) {
		// SIGKILL is delivered asynchronously: the process may take a moment to go.
		natstest.Eventually(t, wait, func() error {
			if !natstest.ProcessGone(pid) {
				return fmt.Errorf("process %d outlived the timed-out script", pid)
			}
			return nil
		})
	}
}

func TestDiscoverTerraform(t *testing.T) {
	tf, err := filepath.Abs("testdata/fake-terraform")
	if err != nil {
		t.Fatal(err)
	}
	list := compat + "spec-terraform_list.json"
	bare := writeFile(t, "bare.json", `["b.example", "a.example", "b.example"]`)
	badHost := writeFile(t, "bad.json", `{"type": "list", "value": ["ok.example", "not ok"]}`)
	nums := writeFile(t, "nums.json", `[1]`)
	// A directory on PATH holding the fake under the real name, to test the default binary.
	bin := t.TempDir()
	if err := os.Symlink(tf, filepath.Join(bin, "terraform")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	props := func(state, output, binary string) map[string]any {
		p := map[string]any{"statefile": state, "output": output}
		if binary != "" {
			p["terraform"] = binary
		}
		return p
	}
	runDiscoverCases(t, localDiscoverer(), []discoverCase{
		{name: "list output", typ: "terraform", props: props(list, "webservers", tf), want: []string{
			"ec2-52-57-66-150.eu-central-1.compute.amazonaws.com", "ec2-52-57-74-75.eu-central-1.compute.amazonaws.com",
			"ec2-52-29-231-0.eu-central-1.compute.amazonaws.com", "ec2-52-57-73-4.eu-central-1.compute.amazonaws.com",
		}},
		{name: "terraform found on PATH", typ: "terraform", props: props(bare, "webservers", ""), want: []string{"b.example", "a.example"}},
		{name: "string output refused", typ: "terraform", props: props(compat+"spec-terraform_string.json", "webservers", tf), wantErr: "terraform output webservers is a string, not a list of host names"},
		{name: "invalid host", typ: "terraform", props: props(badHost, "hosts", tf), wantErr: `"not ok" (terraform output hosts, element 2) is not a valid hostname`},
		{name: "non string element", typ: "terraform", props: props(nums, "hosts", tf), wantErr: "element 1 is a number"},
		{name: "output that reads as a flag", typ: "terraform", props: props(list, "-help", tf), wantErr: `property output "-help" is not a Terraform output name`},
		{name: "unreadable state", typ: "terraform", props: props("/nonexistent/tf.state", "x", tf), wantErr: "cannot read terraform state file"},
		{name: "missing binary", typ: "terraform", props: props(list, "x", "/nonexistent/terraform"), wantErr: "terraform binary /nonexistent/terraform does not exist"},
		{name: "terraform fails", typ: "terraform", props: props(list, "x", "false"), wantErr: "false failed with exit code 1"},
		{name: "statefile required", typ: "terraform", props: map[string]any{"output": "x"}, wantErr: "property statefile is required"},
	})
}

func TestDiscoverPQL(t *testing.T) {
	const query = "nodes[certname] { facts { name = 'country' and value = 'uk' } }"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/pdb/query/v4":
			http.NotFound(w, r)
		case r.URL.Query().Get("query") == query:
			_, _ = w.Write([]byte(`[{"certname": "web1.example"}, {"certname": "old.example", "deactivated": "2026-01-01T00:00:00Z"},
				{"certname": null}, {"certname": "web2.example", "deactivated": null}, {"certname": "web1.example"}]`))
		case r.URL.Query().Get("query") == "count":
			_, _ = w.Write([]byte(`[{"count": 3}]`))
		case r.URL.Query().Get("query") == "none":
			_, _ = w.Write([]byte(`[]`))
		case r.URL.Query().Get("query") == "hostile":
			_, _ = w.Write([]byte(`[{"certname": "web1.example"}, {"certname": "fleetbook.node.*"}]`))
		case r.URL.Query().Get("query") == "text":
			_, _ = w.Write([]byte(`not json`))
		default:
			http.Error(w, "PQL parse error at line 1", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	d := localDiscoverer()
	d.puppetDB = srv.URL
	runDiscoverCases(t, d, []discoverCase{
		{name: "certnames without deactivated", typ: "pql", props: map[string]any{"query": query}, want: []string{"web1.example", "web2.example"}},
		{name: "url property wins", typ: "pql", props: map[string]any{"query": query, "url": srv.URL + "/"}, want: []string{"web1.example", "web2.example"}},
		{name: "no records", typ: "pql", props: map[string]any{"query": "none"}, want: []string{}},
		{name: "hostile certname", typ: "pql", props: map[string]any{"query": "hostile"}, wantErr: `"fleetbook.node.*" (PuppetDB certnames, entry 2) is not a valid node identity`},
		{name: "records without certname", typ: "pql", props: map[string]any{"query": "count"}, wantErr: "the query's 1 records have no certname"},
		{name: "query refused", typ: "pql", props: map[string]any{"query": "bad {"}, wantErr: "refused the query with 400 Bad Request: PQL parse error at line 1"},
		{name: "not json", typ: "pql", props: map[string]any{"query": "text"}, wantErr: "did not answer a JSON list of records"},
		{name: "bad url", typ: "pql", props: map[string]any{"query": query, "url": "puppetdb:8080"}, wantErr: `PuppetDB URL "puppetdb:8080" must be an absolute http or https URL`},
		{name: "query required", typ: "pql", props: map[string]any{}, wantErr: "property query is required"},
	})

	// An unreachable PuppetDB names itself in the error.
	srv2 := httptest.NewServer(http.NotFoundHandler())
	srv2.Close()
	_, err := d.discover(context.Background(), &protocol.DiscoverSpec{Name: "s", Type: "pql", Properties: map[string]any{"query": query, "url": srv2.URL}})
	if err == nil || !strings.Contains(err.Error(), "PuppetDB at "+srv2.URL) {
		t.Fatalf("error %v, want one naming the PuppetDB", err)
	}
}

func TestSplitArgv(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/bin/x", []string{"/bin/x"}},
		{"  /bin/x  --a  b ", []string{"/bin/x", "--a", "b"}},
		{`x 'a b' "c d" e\ f`, []string{"x", "a b", "c d", "e f"}},
		{`x "a \"q\" \$HOME" '$HOME' ""`, []string{"x", `a "q" $HOME`, "$HOME", ""}},
		{`x a"b"'c'`, []string{"x", "abc"}},
		{"x $(rm -rf /) `id` ; | &", []string{"x", "$(rm", "-rf", "/)", "`id`", ";", "|", "&"}},
	} {
		got, err := splitArgv(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitArgv(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "   ", `x 'a`, `x "a`, `x \`, "x\x00y"} {
		if _, err := splitArgv(in); err == nil {
			t.Errorf("splitArgv(%q) succeeded, want an error", in)
		}
	}
}

func TestCheckHostnames(t *testing.T) {
	for _, ok := range []string{"a", "node1.example.net", "ec2-52-57-66-150.eu-central-1.compute.amazonaws.com", "x.example.", "1.2.3.4"} {
		if err := checkHostnames([]string{ok}, "host"); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"node1 example.net", "-a.example", "a-.example", "a..b", "a_b", strings.Repeat("a", 64), ".a", "a/b"} {
		if err := checkHostnames([]string{bad}, "host"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
