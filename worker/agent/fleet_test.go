package agent

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFleet(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // identities
		wantErr    string
	}{
		{"single nodes", "nodes:\n  - identity: a.x\n  - identity: b.x\n", []string{"a.x", "b.x"}, ""},
		{"bare list", "- identity: a.x\n", []string{"a.x"}, ""},
		{"group", "nodes:\n  - count: 3\n    identity: web%02d.sim\n", []string{"web01.sim", "web02.sim", "web03.sim"}, ""},
		{"group start", "nodes:\n  - {count: 2, start: 0, identity: 'n%d'}\n", []string{"n0", "n1"}, ""},
		{"duplicate", "nodes:\n  - identity: a\n  - {count: 2, start: 0, identity: 'a%.0d'}\n", nil, `fleet.yaml: nodes[1]: identity "a" is listed twice`},
		{"bad identity", "nodes:\n  - identity: 'a b'\n", nil, `identity "a b"`},
		{"no identity", "nodes:\n  - facts: {a: 1}\n", nil, "nodes[0]: identity is required"},
		{"group without verb", "nodes:\n  - {count: 2, identity: web}\n", nil, "exactly one %d-style verb"},
		{"huge count", "nodes:\n  - {count: 100000000, identity: 'w%d'}\n", nil, "count must be between"},
		{"unknown field", "nodes:\n  - identity: a\n    fact: {}\n", nil, "field fact not found"},
		{"empty", "nodes: []\n", nil, "at least one node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFleet("fleet.yaml", []byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range f.Nodes {
				got = append(got, n.Identity)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("identities %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadFleet_Example(t *testing.T) {
	f, err := LoadFleet(filepath.Join("..", "..", "examples", "web-cluster", "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.AgentsDir != filepath.Join("..", "..", "examples", "web-cluster", "agents") {
		t.Fatalf("agents dir %q", f.AgentsDir)
	}
	tiers := map[any]int{}
	for _, n := range f.Nodes {
		tiers[n.Facts["cluster"]]++
	}
	if len(f.Nodes) != 7 || tiers["alfa"] != 3 || tiers["bravo"] != 3 {
		t.Fatalf("example fleet: %d nodes, tiers %v", len(f.Nodes), tiers)
	}
	if _, err := LoadDefinitions(f.AgentsDir); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFactsAndClasses(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "facts.json"), `{"cluster":"alfa","cpus":4,"os":{"family":"debian"}}`, 0o644)
	writeFile(t, filepath.Join(dir, "facts.yaml"), "cluster: bravo\ncpus: 2\n", 0o644)
	writeFile(t, filepath.Join(dir, "classes"), "# puppet classes\nroles::web\n\nprofiles::base\n", 0o644)
	writeFile(t, filepath.Join(dir, "bad.yaml"), "- a\n- b\n", 0o644)
	j, err := LoadFacts(filepath.Join(dir, "facts.json"))
	if err != nil || j["cpus"] != float64(4) || j["os"].(map[string]any)["family"] != "debian" {
		t.Fatalf("json facts %v %v", j, err)
	}
	y, err := LoadFacts(filepath.Join(dir, "facts.yaml"))
	if err != nil || y["cluster"] != "bravo" || y["cpus"] != float64(2) {
		t.Fatalf("yaml facts %v %v", y, err)
	}
	if _, err := LoadFacts(filepath.Join(dir, "bad.yaml")); err == nil || !strings.Contains(err.Error(), "must be a mapping") {
		t.Fatalf("list facts: %v", err)
	}
	c, err := LoadClasses(filepath.Join(dir, "classes"))
	if err != nil || strings.Join(c, ",") != "roles::web,profiles::base" {
		t.Fatalf("classes %v %v", c, err)
	}
}
