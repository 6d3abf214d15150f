package protocol

import "time"

// GrantVersion is the version of Grant.
const GrantVersion = 1

// AnyNode is Grant.Targets for a grant that names no target list: the coordinator signs one only
// for the built-in read-only ping of discovery's connectivity test (its nodes are not known yet),
// and agents refuse it for any other action.
const AnyNode = "*"

// Grant is what a coordinator authorises one rpc job to do, signed once with its key: one agent
// action with these arguments, for the nodes committed to by Targets, under this job id, until
// ExpiresAt. Workers forward it unchanged in every RPCRequest of the job; agents that trust the
// signer act only on a request that matches it (package trust verifies it).
type Grant struct {
	Version int `json:"version"`
	// JobID is the job's JobID.String(): each node's request id is JobID + "/" + identity.
	JobID  string `json:"job_id"`
	Agent  string `json:"agent"`
	Action string `json:"action"`
	// ArgsSHA256 is the hex sha256 of the arguments' canonical JSON (trust.ArgsDigest).
	ArgsSHA256 string `json:"args_sha256"`
	// Targets is the hex Merkle root of the job's sorted, de-duplicated target identities, or
	// AnyNode. TargetCount is the number of leaves, which a proof's path depends on.
	Targets     string `json:"targets"`
	TargetCount int    `json:"target_count,omitempty"`
	// IssuedAt and ExpiresAt bound the grant's validity, in whole seconds.
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Signer is the nkeys public key that made Signature (base64 raw URL ed25519 signature over
	// trust's canonical encoding of every field above).
	Signer    string `json:"signer"`
	Signature string `json:"sig"`
}

// TargetProof proves that one identity is a leaf of a grant's target Merkle root: the leaf's
// index in the sorted target list and the sibling hashes from the leaf up (log2 of the targets),
// concatenated, 32 bytes each (one base64 string decodes far faster than a list of them, and an
// agent serving thousands of nodes decodes one per node).
type TargetProof struct {
	Index    int    `json:"index"`
	Siblings []byte `json:"siblings,omitempty"`
}
