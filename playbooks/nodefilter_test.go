package playbooks

import (
	"errors"
	"strings"
	"testing"
)

// testNode is a registered node for the filter tables.
type testNode struct {
	identity string
	facts    map[string]any
	classes  []string
	agents   []string
}

func (n testNode) Identity() string      { return n.identity }
func (n testNode) Classes() []string     { return n.classes }
func (n testNode) Agents() []string      { return n.agents }
func (n testNode) Facts() map[string]any { return n.facts }

// filterNodes is a small fleet for the filter tables.
var filterNodes = []testNode{
	{
		identity: "web1.uk.example.net",
		facts: map[string]any{
			"country": "uk", "cores": float64(8), "env": "prod", "os": map[string]any{"family": "Debian", "release": map[string]any{"major": "12"}},
			"os.name": "Debian GNU/Linux", "roles": []any{"web", "cache"}, "virtual": true,
		},
		classes: []string{"apache", "role::web"},
		agents:  []string{"rpcutil", "puppet"},
	},
	{
		identity: "web2.de.example.net",
		facts:    map[string]any{"country": "de", "cores": float64(16), "env": "prod", "os": map[string]any{"family": "RedHat", "release": map[string]any{"major": "9"}}},
		classes:  []string{"nginx", "role::web"},
		agents:   []string{"rpcutil"},
	},
	{
		identity: "db1.uk.example.net",
		facts:    map[string]any{"country": "uk", "cores": "4", "env": "dev"},
		classes:  []string{"postgres"},
		agents:   []string{"rpcutil", "puppet"},
	},
}

// matching lists the identities of filterNodes that f accepts.
func matching(f interface{ Match(FilterNode) bool }) string {
	var ids []string
	for _, n := range filterNodes {
		if f.Match(n) {
			ids = append(ids, strings.SplitN(n.identity, ".", 2)[0])
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
			fs, err := ParseNodeFilter(tc.props)
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
		// expression: the error is a broken expression, not a badly typed property.
		expression bool
	}{
		{"fact without operator", map[string]any{"facts": []any{"country"}}, `fact filter "country" has no operator`, true},
		{"fact without name", map[string]any{"facts": []any{"=uk"}}, "has no fact name", true},
		{"bad fact regex", map[string]any{"facts": []any{"a=~("}}, "invalid regular expression", true},
		{"bad identity regex", map[string]any{"identities": []any{"/(/"}}, `identities entry "/(/"`, true},
		{"empty class", map[string]any{"classes": []any{""}}, "classes entry must not be empty", true},
		{"not a list", map[string]any{"agents": 3}, "agents must be a list of strings", false},
		{"list of non-strings", map[string]any{"facts": []any{"a=1", 2}}, "facts[1] must be a string", false},
		{"compound not a string", map[string]any{"compound": []any{"x"}}, "compound must be a string", false},
		{"compound syntax", map[string]any{"compound": "apache and"}, "compound: expression ends", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseNodeFilter(tc.props)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if tc.expression != errors.Is(err, ErrInvalidExpression) {
				t.Fatalf("error %v: matches ErrInvalidExpression = %v, want %v", err, !tc.expression, tc.expression)
			}
		})
	}
}

func TestCompound(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"apache", "web1"},
		{"/^role/", "web1,web2"},
		{"class:postgres", "db1"},
		{"agent:puppet", "web1,db1"},
		{"agent:/^pup/ and country=uk", "web1,db1"},
		{"identity:/^web/", "web1,web2"},
		{`identity:/^(web1|db1)\./`, "web1,db1"},
		{"identity:db1.uk.example.net", "db1"},
		{"country=uk and cores > 5", "web1"},
		{"country = uk and not apache", "db1"},
		{"apache or nginx", "web1,web2"},
		{"apache || postgres", "web1,db1"},
		{"role::web && !apache", "web2"},
		{"not (apache or nginx)", "db1"},
		{"(country=uk or country=de) and env=prod", "web1,web2"},
		{"country=uk or country=de and env=dev", "web1,db1"},
		{"(country=uk or country=de) and env=dev", "db1"},
		{"not not apache", "web1"},
		{"hostname=~/x/ or env =~ /^d(e)v$/", "db1"},
		{`os.name="Debian GNU/Linux"`, "web1"},
		{"fact:country!=uk", "web2"},
		{"cores >= 8 AND cores <= 16 AND NOT cores = 16", "web1"},
		{"os.release.major>8", "web1,web2"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := parseCompound(tc.expr)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := matching(&NodeFilter{all: []nodeMatcher{f}}); got != tc.want {
				t.Errorf("matched %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCompoundInvalid(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "expression ends"},
		{"apache and", "expression ends"},
		{"apache nginx", `missing and/or before term "nginx"`},
		{"(apache or nginx", "missing ) for ( at offset 0"},
		{"apache)", `unexpected ")"`},
		{"and apache", `unexpected "and"`},
		{"not", "expression ends"},
		{"country=~/(/", "invalid regular expression"},
		{`os.name="Red Hat`, "unterminated quote"},
		{"identity:/web", "unterminated regular expression"},
		{"agent:", "agent must not be empty"},
		{"=uk", "has no fact name"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := parseCompound(tc.expr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
