package datastore

import (
	"errors"
	"testing"
)

func TestParsePathAndLock(t *testing.T) {
	for _, tc := range []struct {
		entry, store, key string
		ok                bool
	}{
		{"team_kv", "team_kv", "choria/locks/playbook/deploy", true},
		{"team_kv/locks/queue-maintenance", "team_kv", "locks/queue-maintenance", true},
		{"bad store/key", "", "", false},
		{"store/", "", "", false},
		{"", "", "", false},
	} {
		store, key, err := ParseLock(tc.entry, "deploy")
		if (err == nil) != tc.ok || store != tc.store || key != tc.key {
			t.Errorf("ParseLock(%q) = %q, %q, %v", tc.entry, store, key, err)
		}
	}
	if _, _, err := ParsePath("nokey"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ParsePath without a slash: %v", err)
	}
	if s, k, err := ParsePath("pb_consul/choria/kv/cluster"); err != nil || s != "pb_consul" || k != "choria/kv/cluster" {
		t.Errorf("ParsePath: %q %q %v", s, k, err)
	}
}
