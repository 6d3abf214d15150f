package datastore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

func TestCanLock(t *testing.T) {
	for typ, want := range map[string]bool{"": true, "kv": true, "etcd": true, "consul": true, "memory": false, "environment": false, "file": false, "shell": false} {
		if CanLock(typ) != want {
			t.Errorf("CanLock(%q) = %v", typ, !want)
		}
	}
	err := LockUnsupported("prefs", "file")
	if !errors.Is(err, ErrLockUnsupported) || !strings.Contains(err.Error(), "data store prefs") {
		t.Errorf("LockUnsupported: %v", err)
	}
	_, err = OpenLocker(context.Background(), nil, protocol.StoreSpec{Name: "pb_env", Type: "environment"}, "r1")
	if !errors.Is(err, ErrLockUnsupported) || !strings.Contains(err.Error(), "pb_env") {
		t.Errorf("OpenLocker on environment: %v", err)
	}
}
