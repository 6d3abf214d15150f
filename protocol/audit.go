package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// AuditVersion is the version of AuditRecord, AuditListRequest and AuditListResponse.
const AuditVersion = 1

// UnsignedIdentity is the identity name of a caller whose API request carries no signature.
const UnsignedIdentity = "unsigned"

// Identity is who made an API request, as the coordinator verified it: never taken from a
// payload field.
type Identity struct {
	// Name is the identity's name in the coordinator's policy, "unsigned" for a request without a
	// signature, or empty for a signed key the policy does not name (or when there is no policy).
	Name string `json:"name,omitempty"`
	// Key is the public nkey (a user key, "U...") whose signature the request carried; empty when
	// unsigned.
	Key string `json:"key,omitempty"`
}

// Is reports whether nameOrKey names the identity: its policy name or its key.
func (i Identity) Is(nameOrKey string) bool { return i.Name == nameOrKey || i.Key == nameOrKey }

// String names the identity for people: its name, its key, or both.
func (i Identity) String() string {
	switch {
	case i.Name != "" && i.Key != "":
		return i.Name + " (" + i.Key + ")"
	case i.Key != "":
		return i.Key
	case i.Name != "":
		return i.Name
	}
	return UnsignedIdentity
}

// Audit decisions.
const (
	// DecisionAllow: the action was allowed (and then attempted).
	DecisionAllow = "allow"
	// DecisionDeny: the action was refused; nothing was done.
	DecisionDeny = "deny"
)

// AuditRecord is one decision of a coordinator, on the AuditStreamName stream under
// AuditSubject(action). Inputs are never recorded, redacted or not.
type AuditRecord struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	// Identity is who asked; Name and Key as in Identity. For a request a console carried with
	// a session grant, the identity that signed in.
	Identity Identity `json:"identity"`
	// Via is the console that carried the request for Identity (its own signature, with
	// Identity's session grant); absent when Identity sent the request itself.
	Via *Identity `json:"via,omitempty"`
	// Action is the policy action: submit, cancel, prune, read, audit, schedule or console.
	Action string `json:"action"`
	// Playbook is the playbook the action is about, when it is about one.
	Playbook string `json:"playbook,omitempty"`
	// RunID is the run the action is about, when there is one (a submit's new run).
	RunID string `json:"run_id,omitempty"`
	// Parent is the run whose playbook task made this submit, for child runs.
	Parent string `json:"parent,omitempty"`
	// Schedule is the schedule the action is about, or that submitted the run.
	Schedule string `json:"schedule,omitempty"`
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	// Coordinator is the coordinator that decided.
	Coordinator string `json:"coordinator,omitempty"`
}

// AuditListRequest asks for audit records, oldest first. Every filter is optional.
type AuditListRequest struct {
	Version int `json:"version"`
	// Since keeps the records made at or after this time.
	Since time.Time `json:"since,omitzero"`
	// Identity keeps the records of this identity, by name or key: those it made, and those
	// made through it when it is a console (Via).
	Identity string `json:"identity,omitempty"`
	// Action keeps the records of this action.
	Action string `json:"action,omitempty"`
	// Limit keeps the newest Limit matching records; 0 means the server's default.
	Limit int `json:"limit,omitempty"`
}

// AuditListResponse answers an AuditListRequest.
type AuditListResponse struct {
	Version int           `json:"version"`
	Records []AuditRecord `json:"records"`
}

// SignedRequestPayload is what the caller of an API request signs (ed25519, with its nkey) and
// the coordinator verifies: the subject, the reply subject, the timestamp header's text and the
// SHA-256 of the body, one per line after a fixed domain string. A signature made for one
// endpoint, time or body verifies for no other, and a copy of the request replayed with another
// reply subject (to read its answer) does not verify either.
func SignedRequestPayload(subject, reply, timestamp string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte("fleetbook-api-request-v1\n" + subject + "\n" + reply + "\n" + timestamp + "\n" + hex.EncodeToString(sum[:]))
}

// SignedSessionRequestPayload is what a console signs for an API request it sends with a
// session grant (SessionHeader): SignedRequestPayload's lines and the SHA-256 of the grant,
// under another domain string, so the grant cannot be swapped or dropped under the signature.
func SignedSessionRequestPayload(subject, reply, timestamp, session string, body []byte) []byte {
	sum := sha256.Sum256(body)
	grant := sha256.Sum256([]byte(session))
	return []byte("fleetbook-api-session-request-v1\n" + subject + "\n" + reply + "\n" + timestamp + "\n" +
		hex.EncodeToString(sum[:]) + "\n" + hex.EncodeToString(grant[:]))
}
