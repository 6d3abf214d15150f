package coordinator

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// DefaultRequestWindow is how far a signed request's timestamp may be from the coordinator's
// clock, either way, before the request is refused as a replay (or a clock that is off).
const DefaultRequestWindow = 2 * time.Minute

// signRequest sets the signature headers of an API request: the caller's public key, the time
// and the signature of (subject, reply subject, time, sha256(body)) made with kp.
func signRequest(kp nkeys.KeyPair, msg *nats.Msg, now time.Time) error {
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	payload := protocol.SignedRequestPayload(msg.Subject, msg.Reply, ts, msg.Data)
	if session := msg.Header.Get(protocol.SessionHeader); session != "" {
		payload = protocol.SignedSessionRequestPayload(msg.Subject, msg.Reply, ts, session, msg.Data)
	}
	sig, err := kp.Sign(payload)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(protocol.IdentityKeyHeader, pub)
	msg.Header.Set(protocol.TimestampHeader, ts)
	msg.Header.Set(protocol.SignatureHeader, base64.RawURLEncoding.EncodeToString(sig))
	return nil
}

// identify returns who sent an API request: the identity whose signature the headers carry, or
// "unsigned" for a request with none of the signature headers. A request whose signature is
// incomplete, malformed, stale or forged is refused; the identity returned with that error is
// the key the request claims, which nothing proves.
func (c *Coordinator) identify(subject, reply string, h micro.Headers, body []byte, now time.Time) (protocol.Identity, error) {
	key, ts, sig := h.Get(protocol.IdentityKeyHeader), h.Get(protocol.TimestampHeader), h.Get(protocol.SignatureHeader)
	if key == "" && ts == "" && sig == "" {
		return protocol.Identity{Name: protocol.UnsignedIdentity}, nil
	}
	claimed := protocol.Identity{Key: key}
	if key == "" || ts == "" || sig == "" {
		return claimed, fmt.Errorf("%w: a signed request carries all of the headers %s, %s and %s", ErrBadSignature,
			protocol.IdentityKeyHeader, protocol.TimestampHeader, protocol.SignatureHeader)
	}
	if !nkeys.IsValidPublicUserKey(key) {
		return claimed, fmt.Errorf("%w: header %s: %q is not a public user nkey", ErrBadSignature, protocol.IdentityKeyHeader, key)
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return claimed, fmt.Errorf("%w: header %s: %q is not an RFC 3339 time", ErrBadSignature, protocol.TimestampHeader, ts)
	}
	if skew := now.Sub(at); skew > c.opts.requestWindow || -skew > c.opts.requestWindow {
		return claimed, fmt.Errorf("%w: header %s: signed at %s, %s from this coordinator's clock, outside the ±%s window (a replay, or a clock that is off)",
			ErrBadSignature, protocol.TimestampHeader, ts, skew.Round(time.Second), c.opts.requestWindow)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return claimed, fmt.Errorf("%w: header %s is not unpadded base64url", ErrBadSignature, protocol.SignatureHeader)
	}
	kp, err := nkeys.FromPublicKey(key)
	if err != nil {
		return claimed, fmt.Errorf("%w: header %s: %v", ErrBadSignature, protocol.IdentityKeyHeader, err)
	}
	payload := protocol.SignedRequestPayload(subject, reply, ts, body)
	if session := h.Get(protocol.SessionHeader); session != "" {
		payload = protocol.SignedSessionRequestPayload(subject, reply, ts, session, body)
	}
	if kp.Verify(payload, raw) != nil {
		return claimed, fmt.Errorf("%w: header %s does not verify for key %s", ErrBadSignature, protocol.SignatureHeader, key)
	}
	return protocol.Identity{Name: c.nameOf(key), Key: key}, nil
}

// nameOf is the policy's name for a verified key; without a policy keys have no names.
func (c *Coordinator) nameOf(key string) string {
	if c.opts.policy == nil {
		return ""
	}
	return c.opts.policy.NameOf(key)
}

// policyID is who as the policy knows callers: a key, or policy.Unsigned.
func policyID(who protocol.Identity) string {
	if who.Key == "" {
		return policy.Unsigned
	}
	return who.Key
}
