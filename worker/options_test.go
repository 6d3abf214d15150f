package worker

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/worker/discover"
)

func TestWithPuppetDB(t *testing.T) {
	var o options
	if err := WithPuppetDB("ftp://x")(&o); err == nil {
		t.Error("ftp URL accepted")
	}
	t.Setenv("FLEETBOOK_PUPPETDB_URL", "")
	if got := o.puppetDBURL(); got != discover.DefaultPuppetDB {
		t.Errorf("default %q, want %q", got, discover.DefaultPuppetDB)
	}
	t.Setenv("FLEETBOOK_PUPPETDB_URL", "https://pdb.example:8081")
	if got := o.puppetDBURL(); got != "https://pdb.example:8081" {
		t.Errorf("from environment %q", got)
	}
	if err := WithPuppetDB("http://pdb.example:8080")(&o); err != nil || o.puppetDBURL() != "http://pdb.example:8080" {
		t.Errorf("option: %v, %q", err, o.puppetDBURL())
	}
}

func TestWithSlackAPI(t *testing.T) {
	if _, err := New(nil, WithSlackAPI("slack.com")); err == nil {
		t.Error("nil connection accepted")
	}
	o := defaultOptions()
	_ = WithSlackAPI("slack.com/api")(&o)
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "Slack API URL") {
		t.Errorf("bad WithSlackAPI: %v", err)
	}
}

func TestWithSecretsKey(t *testing.T) {
	for _, key := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		var o options
		if err := WithSecretsKey(key)(&o); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "secrets key") {
			t.Errorf("%d-byte key: %v", len(key), err)
		}
	}
	var o options
	if err := WithSecretsKey(make([]byte, 32), make([]byte, 32))(&o); err != nil || o.keys == nil {
		t.Errorf("32-byte keys: %v", err)
	}
}
