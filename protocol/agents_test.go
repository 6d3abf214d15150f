package protocol

import "testing"

func TestAgentKey(t *testing.T) {
	for _, tc := range []struct{ name, version, want string }{
		{"puppet", "1.2.0", "puppet.1.2.0"},
		{"appmgr", "2.0.0-rc.1", "appmgr.2.0.0-rc.1"},
		{"appmgr", "2.0.0+build.7", "appmgr.2.0.0_build.7"},
		{"nrpe", "v1 beta*", "nrpe.v1_beta_"},
		{"x", "1..2.", "x.1._2"},
		{"x", "...", "x._"},
	} {
		if got := AgentKey(tc.name, tc.version); got != tc.want {
			t.Errorf("AgentKey(%q, %q) = %q, want %q", tc.name, tc.version, got, tc.want)
		}
	}
}
