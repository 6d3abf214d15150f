package trust

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/protocol"
)

// The built-in read-only action an any-node grant may authorise: discovery's connectivity test
// pings nodes the coordinator has not seen yet (worker/agent's built-in rpcutil agent).
const (
	PingAgent  = "rpcutil"
	PingAction = "ping"
)

// ClockSkew is how far a verifier's clock may differ from the signer's: a grant is accepted from
// ClockSkew before its issue time until ClockSkew after its expiry.
const ClockSkew = 30 * time.Second

// grantDomain starts the signed bytes, so a grant signature is never valid for anything else
// the key signs (nkeys also sign NATS nonces).
const grantDomain = "fleetbook grant v1\x00"

// tokenDomain labels the derivation of the result-token key from the signer's seed.
const tokenDomain = "fleetbook result token v1"

// RequestID is the request id of identity's request in the job jobID (a JobID.String()): fixed
// per job and node, so a redelivered job is recognised by the agents' replay memory and a worker
// cannot mint fresh ids to get past it.
func RequestID(jobID, identity string) string { return jobID + "/" + identity }

// ArgsDigest is the hex sha256 of args' canonical JSON: encoded, decoded as JSON values and
// encoded again (sorted keys, numbers as float64), so the coordinator's rendered values and the
// agent's decoded copy give the same digest. No arguments and an empty object are the same.
func ArgsDigest(args map[string]any) (string, error) {
	canon := []byte("null")
	if len(args) > 0 {
		raw, err := json.Marshal(args)
		if err != nil {
			return "", fmt.Errorf("arguments: %w", err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", fmt.Errorf("arguments: %w", err)
		}
		if canon, err = json.Marshal(v); err != nil {
			return "", fmt.Errorf("arguments: %w", err)
		}
	}
	h := sha256.Sum256(canon)
	return hex.EncodeToString(h[:]), nil
}

// signedBytes is the canonical encoding of every field of g but the signature: each field
// length-prefixed, so no two grants share an encoding.
func signedBytes(g *protocol.Grant) []byte {
	b := []byte(grantDomain)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(n int64) { b = binary.AppendVarint(b, n) }
	num(int64(g.Version))
	str(g.JobID)
	str(g.Agent)
	str(g.Action)
	str(g.ArgsSHA256)
	str(g.Targets)
	num(int64(g.TargetCount))
	num(g.IssuedAt.Unix())
	num(g.ExpiresAt.Unix())
	str(g.Signer)
	return b
}

// Signer signs grants and makes result tokens with a coordinator's key.
type Signer struct {
	kp       nkeys.KeyPair
	pub      string
	tokenKey []byte
}

// NewSigner returns a Signer for kp, which must hold its seed (a key pair made from a public key
// alone cannot sign).
func NewSigner(kp nkeys.KeyPair) (*Signer, error) {
	if kp == nil {
		return nil, fmt.Errorf("%w: signer: nil key pair", ErrInvalidKey)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("%w: signer: the key pair has no seed: %w", ErrInvalidKey, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: signer: %w", ErrInvalidKey, err)
	}
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte(tokenDomain))
	return &Signer{kp: kp, pub: pub, tokenKey: mac.Sum(nil)}, nil
}

// PublicKey is the key agents must trust (WithTrustedSigners).
func (s *Signer) PublicKey() string { return s.pub }

// RPCGrant signs the grant of rpc job id: agent#action with args, to targets, valid from issued
// for life.
func (s *Signer) RPCGrant(id protocol.JobID, agent, action string, args map[string]any, targets []string, issued time.Time, life time.Duration) (*protocol.Grant, error) {
	digest, err := ArgsDigest(args)
	if err != nil {
		return nil, fmt.Errorf("grant of %s: %w", id, err)
	}
	tree := NewTree(targets)
	return s.sign(&protocol.Grant{JobID: id.String(), Agent: agent, Action: action, ArgsSHA256: digest,
		Targets: tree.Root(), TargetCount: tree.Len()}, issued, life)
}

// PingGrant signs an any-node grant for the built-in ping of discover job id's connectivity
// test, whose nodes are not known before the worker discovers them.
func (s *Signer) PingGrant(id protocol.JobID, issued time.Time, life time.Duration) (*protocol.Grant, error) {
	digest, err := ArgsDigest(nil)
	if err != nil {
		return nil, err
	}
	return s.sign(&protocol.Grant{JobID: id.String(), Agent: PingAgent, Action: PingAction, ArgsSHA256: digest,
		Targets: protocol.AnyNode}, issued, life)
}

func (s *Signer) sign(g *protocol.Grant, issued time.Time, life time.Duration) (*protocol.Grant, error) {
	g.Version = protocol.GrantVersion
	// Whole seconds, in UTC: what is signed survives the JSON round trip exactly.
	g.IssuedAt = issued.UTC().Truncate(time.Second)
	g.ExpiresAt = issued.Add(life).UTC().Truncate(time.Second)
	g.Signer = s.pub
	sig, err := s.kp.Sign(signedBytes(g))
	if err != nil {
		return nil, fmt.Errorf("sign grant of %s: %w", g.JobID, err)
	}
	g.Signature = base64.RawURLEncoding.EncodeToString(sig)
	return g, nil
}

// ResultToken is the token that binds the result of job id to it: HMAC-SHA256 of the job id
// under the key derived from the signer's seed. The run's epoch is deliberately not part of it:
// a job outlives the coordinator that published it, and the coordinator taking the run over must
// accept its result.
func (s *Signer) ResultToken(id protocol.JobID) string {
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte(id.String()))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckResult refuses, with ErrUnboundResult, a result whose token was not made for its job id.
// The comparison takes constant time.
func (s *Signer) CheckResult(res *protocol.Result) error {
	if res.Token == "" {
		return fmt.Errorf("%w: result of %s has no token", ErrUnboundResult, res.ID)
	}
	if !hmac.Equal([]byte(res.Token), []byte(s.ResultToken(res.ID))) {
		return fmt.Errorf("%w: result of %s has a token made for another job, or forged", ErrUnboundResult, res.ID)
	}
	return nil
}

// Verifier checks requests against the coordinator keys it trusts. It is safe for concurrent use.
type Verifier struct {
	keys map[string]nkeys.KeyPair
	// verified remembers the grants whose signature checked out (by the sha256 of their signed
	// bytes and signature): every node of a job carries the same grant, and an agent serving
	// thousands of nodes would otherwise verify one ed25519 signature per node.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
	// decoded holds the grants DecodeGrant parsed, by their encoding, for the same reason.
	decoded map[string]*protocol.Grant
}

// maxVerified bounds the verified-grant and decoded-grant memories; each is emptied when full.
const maxVerified = 4096

// MaxGrantSize bounds an encoded grant DecodeGrant accepts: a coordinator's grant is about 500
// bytes.
const MaxGrantSize = 4096

// NewVerifier trusts the grants signed by any of pubkeys (nkeys public keys); at least one.
func NewVerifier(pubkeys ...string) (*Verifier, error) {
	if len(pubkeys) == 0 {
		return nil, fmt.Errorf("%w: trusted signers: none given", ErrInvalidKey)
	}
	v := &Verifier{keys: make(map[string]nkeys.KeyPair, len(pubkeys)), verified: map[[sha256.Size]byte]struct{}{},
		decoded: map[string]*protocol.Grant{}}
	for _, pk := range pubkeys {
		kp, err := nkeys.FromPublicKey(pk)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted signer %q is not an nkeys public key: %w", ErrInvalidKey, pk, err)
		}
		v.keys[pk] = kp
	}
	return v, nil
}

// Verify reports why identity must not act on req at now, or nil: the grant is signed by a
// trusted key and valid at now (within ClockSkew); the request's agent, action and arguments are
// the grant's; its request id is RequestID(grant's job, identity); and identity is proven among
// the grant's targets (an any-node grant passes only for PingAgent#PingAction).
func (v *Verifier) Verify(req *protocol.RPCRequest, identity string, now time.Time) error {
	g := req.Grant
	if g == nil {
		return ErrUnsigned
	}
	kp, ok := v.keys[g.Signer]
	if !ok {
		return fmt.Errorf("%w: signer %q", ErrUntrustedSigner, g.Signer)
	}
	if err := v.checkSignature(kp, g); err != nil {
		return err
	}
	switch {
	case g.Version != protocol.GrantVersion:
		return fmt.Errorf("%w: grant version %d (this agent speaks %d)", ErrMismatch, g.Version, protocol.GrantVersion)
	case now.After(g.ExpiresAt.Add(ClockSkew)):
		return fmt.Errorf("%w: expired at %s", ErrExpired, g.ExpiresAt.Format(time.RFC3339))
	case now.Before(g.IssuedAt.Add(-ClockSkew)):
		return fmt.Errorf("%w: not valid before %s (issued_at is in the future)", ErrExpired, g.IssuedAt.Format(time.RFC3339))
	case req.Agent != g.Agent || req.Action != g.Action:
		return fmt.Errorf("%w: request asks for %s#%s, grant signed %s#%s", ErrMismatch, req.Agent, req.Action, g.Agent, g.Action)
	case req.RequestID != RequestID(g.JobID, identity):
		return fmt.Errorf("%w: request_id %q is not %q", ErrMismatch, req.RequestID, RequestID(g.JobID, identity))
	}
	digest, err := ArgsDigest(req.Data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	if digest != g.ArgsSHA256 {
		return fmt.Errorf("%w: data differs from the signed arguments", ErrMismatch)
	}
	if g.Targets == protocol.AnyNode {
		if g.Agent != PingAgent || g.Action != PingAction {
			return fmt.Errorf("%w: grant of %s#%s", ErrAnyNode, g.Agent, g.Action)
		}
		return nil
	}
	if !verifyProof(g.Targets, g.TargetCount, identity, req.Proof) {
		return fmt.Errorf("%w: no valid proof for %q in targets %s", ErrNotTargeted, identity, g.Targets)
	}
	return nil
}

// DecodeGrant parses a request's encoded grant. Every request of a job carries the same bytes, so
// a grant seen recently is parsed once; the grant returned is shared and must not be modified.
func (v *Verifier) DecodeGrant(raw []byte) (*protocol.Grant, error) {
	if len(raw) > MaxGrantSize {
		// Bounds what the cache can be made to hold by anyone who can reach the agent.
		return nil, fmt.Errorf("%w: grant of %d bytes is larger than %d", ErrBadSignature, len(raw), MaxGrantSize)
	}
	v.mu.Lock()
	g, ok := v.decoded[string(raw)]
	v.mu.Unlock()
	if ok {
		return g, nil
	}
	g = &protocol.Grant{}
	if err := json.Unmarshal(raw, g); err != nil {
		return nil, fmt.Errorf("%w: grant is not valid JSON: %w", ErrBadSignature, err)
	}
	v.mu.Lock()
	if len(v.decoded) >= maxVerified {
		clear(v.decoded)
	}
	v.decoded[string(raw)] = g
	v.mu.Unlock()
	return g, nil
}

// checkSignature verifies g's signature by kp, once per distinct grant.
func (v *Verifier) checkSignature(kp nkeys.KeyPair, g *protocol.Grant) error {
	msg := signedBytes(g)
	key := sha256.Sum256(append(append(msg, 0), g.Signature...))
	v.mu.Lock()
	_, seen := v.verified[key]
	v.mu.Unlock()
	if seen {
		return nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(g.Signature)
	if err != nil {
		return fmt.Errorf("%w: sig is not base64: %w", ErrBadSignature, err)
	}
	if err := kp.Verify(msg, sig); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerified {
		clear(v.verified)
	}
	v.verified[key] = struct{}{}
	v.mu.Unlock()
	return nil
}

// RememberUntil is how long an agent must remember a request id accepted under g to refuse its
// replays: until no clock within ClockSkew accepts g any more.
func RememberUntil(g *protocol.Grant) time.Time { return g.ExpiresAt.Add(ClockSkew) }
