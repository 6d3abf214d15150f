package coordinator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/protocol"
)

func TestSessionGrantVerifies(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tok, err := NewSessionGrant(kp, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	g, err := VerifySessionGrant(tok, now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if g.Key != pub || !g.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("grant %+v", g)
	}
}

// Every way a grant can be wrong is refused, and the error says which.
func TestSessionGrantRefusals(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	other, _ := nkeys.CreateUser()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tok, err := NewSessionGrant(kp, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	// A grant re-signed by another key, claiming the first key.
	forged := func(mutate func(*protocol.SessionGrant), signer nkeys.KeyPair) string {
		g, err := VerifySessionGrant(tok, now)
		if err != nil {
			t.Fatal(err)
		}
		mutate(g)
		b, _ := json.Marshal(g)
		s, _ := signer.Sign(protocol.SessionSigningPayload(b))
		return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s)
	}
	otherPub, _ := other.PublicKey()
	cases := map[string]struct {
		token string
		at    time.Time
		want  string
	}{
		"expired":              {tok, now.Add(time.Hour), "expired"},
		"not yet issued":       {tok, now.Add(-time.Hour), "in the future"},
		"no dot":               {body + sig, now, "joined by a dot"},
		"not base64":           {"!!." + sig, now, "not base64url"},
		"signature of another": {forged(func(*protocol.SessionGrant) {}, other), now, "does not verify"},
		"key swapped":          {forged(func(g *protocol.SessionGrant) { g.Key = otherPub }, kp), now, "does not verify"},
		"other audience":       {forged(func(g *protocol.SessionGrant) { g.Audience = "nats" }, kp), now, "audience"},
		"too long a lifetime":  {forged(func(g *protocol.SessionGrant) { g.ExpiresAt = g.IssuedAt.Add(48 * time.Hour) }, kp), now, "lifetime"},
		"oversized":            {strings.Repeat("a", 5000), now, "more than"},
		"tampered body":        {base64.RawURLEncoding.EncodeToString([]byte(`{"version":1}`)) + "." + sig, now, "audience"},
	}
	for name, c := range cases {
		_, err := VerifySessionGrant(c.token, c.at)
		if !errors.Is(err, ErrBadSession) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrBadSession saying %q", name, err, c.want)
		}
	}
	if _, err := NewSessionGrant(kp, 25*time.Hour, now); !errors.Is(err, ErrBadSession) {
		t.Errorf("a 25 h grant was made: %v", err)
	}
}
