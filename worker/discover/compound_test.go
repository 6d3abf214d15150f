package discover

import (
	"strings"
	"testing"
)

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
			if got := matching([]nodeFilter{f}); got != tc.want {
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
