package protocol

import "time"

// SessionVersion is the version of SessionGrant.
const SessionVersion = 1

// SessionAudience is the audience of a grant to sign in to a fleetbook console.
const SessionAudience = "fleetbook-console"

// MaxSessionLifetime is the longest time a session grant may be valid for.
const MaxSessionLifetime = 24 * time.Hour

// SessionGrant is what an identity signs to let a console act for it until ExpiresAt: the
// console sends it with the API requests it makes for that identity (SessionHeader), and the
// coordinators decide those requests as the identity's own. On the wire a grant is
// base64url(JSON of SessionGrant) "." base64url(ed25519 signature by Key of
// SessionSigningPayload(that JSON)), unpadded.
type SessionGrant struct {
	Version int `json:"version"`
	// Audience is SessionAudience: a grant signs in to consoles and is nothing else.
	Audience string `json:"audience"`
	// Key is the public user nkey of the identity that signed the grant.
	Key       string    `json:"key"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Nonce makes every grant distinct, so one can be told from another in the audit.
	Nonce string `json:"nonce"`
}

// SessionSigningPayload is what the identity signs for a grant whose JSON is grant: a fixed
// domain string first, so no other fleetbook signature can pass for a grant's.
func SessionSigningPayload(grant []byte) []byte {
	return append([]byte("fleetbook-session-grant-v1\n"), grant...)
}
