package main

import (
	"strings"
	"testing"
)

// bench refuses flags it cannot work with before starting anything, naming the flag.
func TestBenchRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--only", "throughput,bogus"}, `--only: unknown group "bogus"`},
		{[]string{"bench", "--inflight", "-1"}, "--inflight and --steps must not be negative"},
		{[]string{"bench", "--sync", "never"}, "--sync must be default or always"},
	} {
		r := cli(t, "", tc.args...)
		if r.code != exitRefused || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, exitRefused, tc.want)
		}
	}
}
