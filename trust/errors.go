package trust

import "errors"

// Refusals of Verify and CheckResult; callers test them with errors.Is. Each wrapping error says
// which field or value was refused.
var (
	// ErrUnsigned indicates a request that carries no grant.
	ErrUnsigned = errors.New("request is not signed")
	// ErrUntrustedSigner indicates a grant signed by a key the verifier does not trust.
	ErrUntrustedSigner = errors.New("grant signer is not trusted")
	// ErrBadSignature indicates a grant whose signature does not match its fields.
	ErrBadSignature = errors.New("grant signature is invalid")
	// ErrExpired indicates a grant used after its expiry (or before its issue time), beyond the
	// allowed clock skew.
	ErrExpired = errors.New("grant is expired")
	// ErrNotTargeted indicates a request whose node is not proven to be among the grant's targets.
	ErrNotTargeted = errors.New("node is not among the grant's targets")
	// ErrAnyNode indicates an any-node grant used for something other than the built-in ping.
	ErrAnyNode = errors.New("any-node grant is only valid for " + PingAgent + "#" + PingAction)
	// ErrMismatch indicates a request whose agent, action, arguments or request id differ from
	// what the grant signed.
	ErrMismatch = errors.New("request does not match its grant")
	// ErrUnboundResult indicates a result whose token was not made for its job.
	ErrUnboundResult = errors.New("result is not bound to its job")
	// ErrInvalidKey indicates a signer or trusted key that cannot be used.
	ErrInvalidKey = errors.New("invalid key")
)
