package discover

import (
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

// filterNodes is a small fleet for the filter tables.
var filterNodes = []protocol.NodeInfo{
	{
		Identity: "web1.uk.example.net",
		Facts: map[string]any{
			"country": "uk", "cores": float64(8), "env": "prod", "os": map[string]any{"family": "Debian", "release": map[string]any{"major": "12"}},
			"os.name": "Debian GNU/Linux", "roles": []any{"web", "cache"}, "virtual": true,
		},
		Classes: []string{"apache", "role::web"},
		Agents:  []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "2.1.0"}},
	},
	{
		Identity: "web2.de.example.net",
		Facts:    map[string]any{"country": "de", "cores": float64(16), "env": "prod", "os": map[string]any{"family": "RedHat", "release": map[string]any{"major": "9"}}},
		Classes:  []string{"nginx", "role::web"},
		Agents:   []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}},
	},
	{
		Identity: "db1.uk.example.net",
		Facts:    map[string]any{"country": "uk", "cores": "4", "env": "dev"},
		Classes:  []string{"postgres"},
		Agents:   []protocol.AgentInfo{{Name: "rpcutil", Version: "1.0.0"}, {Name: "puppet", Version: "1.5.0"}},
	},
}

// matching lists the identities of filterNodes that every filter accepts.
func matching(filters []nodeFilter) string {
	var ids []string
	for i := range filterNodes {
		ok := true
		for _, f := range filters {
			if !f.match(&filterNodes[i]) {
				ok = false
				break
			}
		}
		if ok {
			ids = append(ids, strings.SplitN(filterNodes[i].Identity, ".", 2)[0])
		}
	}
	return strings.Join(ids, ",")
}

func TestFleetFilters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"no filter matches all", map[string]any{}, "web1,web2,db1"},
		{"identity exact", map[string]any{"identities": []any{"web2.de.example.net"}}, "web2"},
		{"identities are alternatives", map[string]any{"identities": []any{"web2.de.example.net", "/^db/"}}, "web2,db1"},
		{"identity regex", map[string]any{"identities": []any{`/^web\d\./`}}, "web1,web2"},
		{"class exact", map[string]any{"classes": []any{"apache"}}, "web1"},
		{"class regex", map[string]any{"classes": []any{"/^role::/"}}, "web1,web2"},
		{"classes are all required", map[string]any{"classes": []any{"role::web", "nginx"}}, "web2"},
		{"agent", map[string]any{"agents": []any{"puppet"}}, "web1,db1"},
		{"agent regex", map[string]any{"agents": []any{"/^pup/"}}, "web1,db1"},
		{"fact equal", map[string]any{"facts": []any{"country=uk"}}, "web1,db1"},
		{"fact double equal with spaces", map[string]any{"facts": []any{"country == de"}}, "web2"},
		{"fact not equal", map[string]any{"facts": []any{"country!=uk"}}, "web2"},
		{"fact not equal skips nodes without the fact", map[string]any{"facts": []any{"os.family!=Debian"}}, "web2"},
		{"fact numeric less", map[string]any{"facts": []any{"cores<10"}}, "web1,db1"},
		{"fact numeric not lexical", map[string]any{"facts": []any{"cores>9"}}, "web2"},
		{"fact numeric ge le", map[string]any{"facts": []any{"cores>=8", "cores<=8"}}, "web1"},
		{"fact numeric equal", map[string]any{"facts": []any{"cores=8.0"}}, "web1"},
		{"fact string compare", map[string]any{"facts": []any{"country<e"}}, "web2"},
		{"fact regex", map[string]any{"facts": []any{"country=~^u"}}, "web1,db1"},
		{"fact regex slashes", map[string]any{"facts": []any{"env=~/^pr/"}}, "web1,web2"},
		{"fact equal slashes is regex", map[string]any{"facts": []any{"env=/^de/"}}, "db1"},
		{"nested fact", map[string]any{"facts": []any{"os.release.major>=10"}}, "web1"},
		{"literal dotted key wins", map[string]any{"facts": []any{"os.name=Debian GNU/Linux"}}, "web1"},
		{"quoted value", map[string]any{"facts": []any{`os.name="Debian GNU/Linux"`}}, "web1"},
		{"list fact any element", map[string]any{"facts": []any{"roles=cache"}}, "web1"},
		{"bool fact", map[string]any{"facts": []any{"virtual=true"}}, "web1"},
		{"map fact never equal", map[string]any{"facts": []any{"os=Debian"}}, ""},
		{"all kinds ANDed", map[string]any{"facts": []any{"country=uk"}, "agents": []any{"puppet"}, "classes": []any{"apache"}}, "web1"},
		{"single string accepted", map[string]any{"classes": "postgres"}, "db1"},
		{"compound", map[string]any{"compound": "role::web and not country=uk"}, "web2"},
		{"compound with other filters", map[string]any{"compound": "apache or postgres", "facts": []any{"env=dev"}}, "db1"},
		{"empty compound ignored", map[string]any{"compound": "  "}, "web1,web2,db1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := fleetFilters(tc.props)
			if err != nil {
				t.Fatalf("filters: %v", err)
			}
			if got := matching(fs); got != tc.want {
				t.Errorf("matched %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFleetFiltersInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"fact without operator", map[string]any{"facts": []any{"country"}}, `fact filter "country" has no operator`},
		{"fact without name", map[string]any{"facts": []any{"=uk"}}, "has no fact name"},
		{"bad fact regex", map[string]any{"facts": []any{"a=~("}}, "invalid regular expression"},
		{"bad identity regex", map[string]any{"identities": []any{"/(/"}}, `identities entry "/(/"`},
		{"empty class", map[string]any{"classes": []any{""}}, "classes entry must not be empty"},
		{"not a list", map[string]any{"agents": 3}, "agents must be a list of strings"},
		{"list of non-strings", map[string]any{"facts": []any{"a=1", 2}}, "facts[1] must be a string"},
		{"compound not a string", map[string]any{"compound": []any{"x"}}, "compound must be a string"},
		{"compound syntax", map[string]any{"compound": "apache and"}, "compound: expression ends"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fleetFilters(tc.props)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
