package coordinator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/protocol"
)

// sessionClockSkew is how far in the future a grant's IssuedAt may be, for clocks that differ.
const sessionClockSkew = DefaultRequestWindow

// maxSessionGrantLen bounds the text of a grant, far above any grant NewSessionGrant makes, so
// an oversized header is refused before it is decoded.
const maxSessionGrantLen = 2048

// NewSessionGrant returns a session grant signed by kp, valid from now for lifetime (at most
// protocol.MaxSessionLifetime): the token an identity gives a console to sign in.
func NewSessionGrant(kp nkeys.KeyPair, lifetime time.Duration, now time.Time) (string, error) {
	if lifetime <= 0 || lifetime > protocol.MaxSessionLifetime {
		return "", fmt.Errorf("%w: lifetime %v is not between 0 and %v", ErrBadSession, lifetime, protocol.MaxSessionLifetime)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("session grant: %w", err)
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("%w: %s is not a user nkey", ErrBadSession, pub)
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("session grant: %w", err)
	}
	now = now.UTC()
	body, err := json.Marshal(protocol.SessionGrant{
		Version: protocol.SessionVersion, Audience: protocol.SessionAudience, Key: pub,
		IssuedAt: now, ExpiresAt: now.Add(lifetime), Nonce: base64.RawURLEncoding.EncodeToString(nonce),
	})
	if err != nil {
		return "", err
	}
	sig, err := kp.Sign(protocol.SessionSigningPayload(body))
	if err != nil {
		return "", fmt.Errorf("session grant: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// VerifySessionGrant returns the grant token carries if it is well formed, signed by the key it
// names, meant for consoles, and valid at now; otherwise an error wrapping ErrBadSession that
// says why. It does not say whether the key may do anything: that is the policy's business.
func VerifySessionGrant(token string, now time.Time) (*protocol.SessionGrant, error) {
	if len(token) > maxSessionGrantLen {
		return nil, fmt.Errorf("%w: %d characters, more than %d", ErrBadSession, len(token), maxSessionGrantLen)
	}
	b64body, b64sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not two base64url parts joined by a dot", ErrBadSession)
	}
	body, err := base64.RawURLEncoding.DecodeString(b64body)
	if err != nil {
		return nil, fmt.Errorf("%w: grant is not base64url: %v", ErrBadSession, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(b64sig)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url: %v", ErrBadSession, err)
	}
	var g protocol.SessionGrant
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: grant does not decode: %v", ErrBadSession, err)
	}
	switch {
	case g.Version != protocol.SessionVersion:
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadSession, g.Version, protocol.SessionVersion)
	case g.Audience != protocol.SessionAudience:
		return nil, fmt.Errorf("%w: audience %q is not %q", ErrBadSession, g.Audience, protocol.SessionAudience)
	case !nkeys.IsValidPublicUserKey(g.Key):
		return nil, fmt.Errorf("%w: key %q is not a public user nkey", ErrBadSession, g.Key)
	}
	pk, err := nkeys.FromPublicKey(g.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrBadSession, err)
	}
	if err := pk.Verify(protocol.SessionSigningPayload(body), sig); err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify for %s", ErrBadSession, g.Key)
	}
	switch {
	case !g.ExpiresAt.After(g.IssuedAt) || g.ExpiresAt.Sub(g.IssuedAt) > protocol.MaxSessionLifetime:
		return nil, fmt.Errorf("%w: valid from %s to %s, not a lifetime between 0 and %v", ErrBadSession,
			g.IssuedAt.Format(time.RFC3339), g.ExpiresAt.Format(time.RFC3339), protocol.MaxSessionLifetime)
	case g.IssuedAt.After(now.Add(sessionClockSkew)):
		return nil, fmt.Errorf("%w: issued at %s, in the future", ErrBadSession, g.IssuedAt.Format(time.RFC3339))
	case !now.Before(g.ExpiresAt):
		return nil, fmt.Errorf("%w: expired at %s", ErrBadSession, g.ExpiresAt.Format(time.RFC3339))
	}
	return &g, nil
}
