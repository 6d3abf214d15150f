package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const compatDir = "testdata/compat"

// TestCompatSpecPlaybookRefusedOnlyForLocks: Choria's spec playbook takes its locks on an
// environment store, which cannot lock (docs/playbooks.md, "Locks"); that is its only problem.
func TestCompatSpecPlaybookRefusedOnlyForLocks(t *testing.T) {
	_, err := ParseFile(filepath.Join(compatDir, "spec-playbook.yaml"))
	probs := problemsOf(t, err)
	if len(probs) != 2 {
		t.Fatalf("want exactly the two lock problems, got %v", err)
	}
	for i, p := range probs {
		if p.Path != fmt.Sprintf("locks[%d]", i) || p.Line != 26+i || !strings.Contains(p.Message, "of type environment, which cannot lock") {
			t.Errorf("problem %d: %+v", i, p)
		}
	}
}

func TestCompatSpecPlaybook(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(compatDir, "spec-playbook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The same document with its lock store made lockable validates in full.
	fixed := strings.Replace(string(src), "mem_store:\n    type: environment", "mem_store:\n    type: consul", 1)
	pb, err := Parse([]byte(fixed))
	if err != nil {
		t.Fatalf("spec-playbook.yaml (with a consul lock store) must validate: %v", err)
	}
	if pb.Name != "test_playbook" || pb.Version != "1.1.2" || pb.Loglevel != "debug" || pb.RunAs != "choria=deployer.bob" {
		t.Fatalf("metadata %+v", pb)
	}
	if !reflect.DeepEqual(pb.Locks, []string{"mem_store/playbook", "mem_store"}) {
		t.Fatalf("locks %v", pb.Locks)
	}
	if len(pb.Inputs) != 5 || len(pb.Nodes) != 2 || len(pb.Tasks) != 1 || len(pb.OnSuccess) != 1 || len(pb.PreTask) != 1 {
		t.Fatalf("counts: inputs %d nodes %d tasks %d", len(pb.Inputs), len(pb.Nodes), len(pb.Tasks))
	}
	if got := pb.DynamicInputs(); !reflect.DeepEqual(got, []string{"data_backed", "forced_dynamic", "data_backed_save"}) {
		t.Fatalf("dynamic inputs %v", got)
	}
	props := pb.Tasks[0].Properties["properties"].(map[string]any)
	if props[":message"] != "hello world" || pb.Tasks[0].Tries != 2 {
		t.Fatalf("task %+v", pb.Tasks[0])
	}
	if pb.PreTask[0].TrySleep.Seconds() != 30 || !pb.PreTask[0].FailOK {
		t.Fatalf("pre_task %+v", pb.PreTask[0])
	}
	if lb, _ := pb.NodeSet("load_balancers"); lb.Limit != 1 || lb.WhenEmpty == "" || lb.Properties["discovery_method"] != "choria" {
		t.Fatalf("node set %+v", lb)
	}
}

func TestCompatSpecIllegal(t *testing.T) {
	_, err := ParseFile(filepath.Join(compatDir, "spec-illegal.yaml"))
	probs := problemsOf(t, err)
	var got []string
	for _, p := range probs {
		got = append(got, p.Path)
	}
	sort.Strings(got)
	want := []string{"author", "data_stores", "description", "foo", "hooks", "inputs", "locks", "loglevel", "name", "nodes", "run_as", "tasks", "uses", "version"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problem paths\n got %v\nwant %v\n%v", got, want, err)
	}
}

func TestCompatAppUpgrade(t *testing.T) {
	pb, err := ParseFile(filepath.Join(compatDir, "docs-app_upgrade.yaml"))
	if err != nil {
		t.Fatalf("docs-app_upgrade.yaml must validate: %v", err)
	}
	if len(pb.Warnings) != 1 || pb.Warnings[0].Path != "inputs.target_version.require" || pb.Warnings[0].Line != 27 {
		t.Fatalf("want the require warning, got %v", pb.Warnings)
	}
	if in, _ := pb.Input("target_version"); !in.Required {
		t.Fatal("require: true must make the input required")
	}
	if len(pb.Tasks) != 7 || len(pb.OnSuccess) != 2 || len(pb.OnFail) != 2 {
		t.Fatalf("task counts %d %d %d", len(pb.Tasks), len(pb.OnSuccess), len(pb.OnFail))
	}
	ns, _ := pb.NodeSet("servers")
	msg, err := RenderString(ns.WhenEmpty, Scope{Inputs: map[string]any{"cluster": "alpha"}})
	if err != nil || msg != "No servers running Acme in cluster alpha could be found" {
		t.Fatalf("input.cluster alias: %q %v", msg, err)
	}
}

// fragmentWrap says how a docs fragment is placed into a playbook.
type fragmentWrap struct {
	kind    string   // section, tasks, hooks, rpcprops, dataprops, document, skip
	inputs  []string // inputs to declare
	nodes   []string // node sets to declare
	stores  []string // data stores to declare
	suffix  string   // text appended to the fragment
	fixTail string   // completes a fragment truncated in the docs extraction
}

var fragmentWraps = map[string]fragmentWrap{
	"data-01.yaml":      {kind: "section"},
	"data-02.yaml":      {kind: "section"},
	"data-03.yaml":      {kind: "section"},
	"data-04.yaml":      {kind: "section"},
	"data-05.yaml":      {kind: "section"},
	"data-06.yaml":      {kind: "skip"}, // Hiera gem dependency settings
	"data-07.yaml":      {kind: "section"},
	"data-08.yaml":      {kind: "skip"}, // Hiera gem dependency settings
	"data-09.yaml":      {kind: "section"},
	"data-10.yaml":      {kind: "section", stores: []string{"local_consul"}},
	"data-11.yaml":      {kind: "section", stores: []string{"consul_store"}},
	"data-12.yaml":      {kind: "section", stores: []string{"pb_consul"}},
	"inputs-01.yaml":    {kind: "section"},
	"inputs-02.yaml":    {kind: "section"},
	"inputs-03.yaml":    {kind: "section"},
	"inputs-04.yaml":    {kind: "section", stores: []string{"local"}},
	"inputs-05.yaml":    {kind: "section", stores: []string{"local"}},
	"node_sets-01.yaml": {kind: "section"},
	"node_sets-02.yaml": {kind: "section"},
	"node_sets-03.yaml": {kind: "section"},
	"node_sets-04.yaml": {kind: "skip"}, // content of a yaml node source file
	"node_sets-05.yaml": {kind: "section"},
	"node_sets-06.yaml": {kind: "section", inputs: []string{"country"}},
	"node_sets-07.yaml": {kind: "section"},
	"node_sets-08.yaml": {kind: "section"},
	"tasks-01.yaml":     {kind: "section", nodes: []string{"servers"}},
	"tasks-02.yaml":     {kind: "skip"}, // Hiera gem dependency settings
	"tasks-03.yaml":     {kind: "tasks", nodes: []string{"dev"}},
	"tasks-04.yaml":     {kind: "tasks", nodes: []string{"dev"}},
	"tasks-05.yaml":     {kind: "section", nodes: []string{"test_servers"}},
	"tasks-06.yaml":     {kind: "section"},
	"tasks-07.yaml":     {kind: "tasks", inputs: []string{"version"}, nodes: []string{"web_servers"}},
	"tasks-08.yaml":     {kind: "tasks", inputs: []string{"release", "cluster"}},
	"tasks-09.yaml":     {kind: "hooks", fixTail: "{{{ previous_task.msg }}}\"\n"},
	"templates-01.yaml": {kind: "rpcprops", nodes: []string{"webservers"}},
	"templates-02.yaml": {kind: "rpcprops"},
	"templates-03.yaml": {kind: "dataprops", nodes: []string{"webservers"}},
	"templates-04.yaml": {kind: "dataprops"},
	"templates-05.yaml": {kind: "document"},
	"templates-06.yaml": {kind: "section"},
	"templates-07.yaml": {kind: "section", nodes: []string{"servers"}, suffix: "      action: puppet.status\n"},
	"templates-08.yaml": {kind: "tasks", inputs: []string{"version"}, nodes: []string{"servers"}},
	"templates-09.yaml": {kind: "section", nodes: []string{"dev"}, fixTail: "{{{ previous_task.msg }}}\"\n"},
	"templates-10.yaml": {kind: "dataprops"},
	"templates-11.yaml": {kind: "dataprops"},
	"templates-12.yaml": {kind: "tasks", inputs: []string{"version"}, nodes: []string{"servers"}},
	"templates-13.yaml": {kind: "dataprops"},
	"tips-01.yaml":      {kind: "section"},
	"tips-02.yaml":      {kind: "section", inputs: []string{"version"}, nodes: []string{"servers"}},
	"tips-03.yaml":      {kind: "section", inputs: []string{"version"}, nodes: []string{"servers"}},
}

// indent prefixes every non-empty line of s with n spaces.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// wrapFragment builds a minimal valid playbook around a docs fragment.
func wrapFragment(frag string, w fragmentWrap) string {
	if w.fixTail != "" {
		frag = strings.TrimRight(frag, "\n") + w.fixTail
	}
	frag += w.suffix
	if w.kind == "document" {
		return frag
	}
	var b strings.Builder
	b.WriteString(header)
	if len(w.inputs) > 0 {
		b.WriteString("inputs:\n")
		for _, n := range w.inputs {
			b.WriteString("  " + n + ":\n    type: String\n")
		}
	}
	if len(w.nodes) > 0 {
		b.WriteString("nodes:\n")
		for _, n := range w.nodes {
			b.WriteString("  " + n + ":\n    type: shell\n    script: /bin/nodes\n")
		}
	}
	if len(w.stores) > 0 {
		b.WriteString("data_stores:\n")
		for _, n := range w.stores {
			b.WriteString("  " + n + ":\n    type: consul\n")
		}
	}
	switch w.kind {
	case "section":
		b.WriteString(frag)
	case "tasks":
		b.WriteString("tasks:\n" + frag)
	case "hooks":
		b.WriteString("hooks:\n" + indent(frag, 2))
	case "rpcprops":
		b.WriteString("tasks:\n  - rpc:\n      action: a.b\n" + indent(frag, 6))
	case "dataprops":
		b.WriteString("tasks:\n  - webhook:\n      uri: http://x\n      data:\n" + indent(frag, 8))
	}
	return b.String()
}

func TestCompatDocsFragments(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(compatDir, "docs-fragments", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fragments: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			w, ok := fragmentWraps[name]
			if !ok {
				t.Fatalf("fragment %s has no wrapping rule; add one", name)
			}
			if w.kind == "skip" {
				t.Skip("not playbook text")
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc := wrapFragment(string(src), w)
			pb, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("fragment refused: %v\n--- document ---\n%s", err, doc)
			}
			if len(pb.Warnings) != 0 {
				t.Fatalf("warnings: %v", pb.Warnings)
			}
		})
	}
	if len(files) != len(fragmentWraps) {
		t.Errorf("%d fragment files but %d wrapping rules", len(files), len(fragmentWraps))
	}
}

func TestCompatFragmentsKeepTheirMeaning(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(compatDir, "docs-fragments", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pb := mustParse(t, wrapFragment(read("tasks-04.yaml"), fragmentWraps["tasks-04.yaml"]))
	if pb.Tasks[0].Type != TypeRPCAssert || pb.Tasks[0].TypeAlias != "mcollective_assert" || pb.Tasks[0].Tries != 10 {
		t.Fatalf("mcollective_assert %+v", pb.Tasks[0])
	}
	pb = mustParse(t, wrapFragment(read("tips-03.yaml"), fragmentWraps["tips-03.yaml"]))
	if h := pb.OnSuccess[0].Properties["headers"].(map[string]any); h["X-Acme-Token"] != "TOKEN" || pb.OnSuccess[0].Properties["method"] != "POST" {
		t.Fatalf("macro merge lost: %v", pb.OnSuccess[0].Properties)
	}
	pb = mustParse(t, wrapFragment(read("tips-01.yaml"), fragmentWraps["tips-01.yaml"]))
	if pb.Inputs[0].Type != InputArray {
		t.Fatalf("\":array\" input type: %+v", pb.Inputs[0])
	}
	pb = mustParse(t, wrapFragment(read("data-12.yaml"), fragmentWraps["data-12.yaml"]))
	if len(pb.Tasks) != 3 || pb.Tasks[1].Type != TypeData || len(pb.PreBook) != 1 {
		t.Fatalf("data tasks: %+v", pb.Tasks)
	}
}
