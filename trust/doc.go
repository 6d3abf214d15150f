// Package trust signs and verifies what a coordinator authorises node agents to do, and binds
// job results to the jobs they answer.
//
// A coordinator with a signer signs one protocol.Grant per rpc job: the agent, the action, a
// sha256 of the rendered arguments, the job id, the issue and expiry times and a Merkle root of
// the job's target identities. Workers forward the grant unchanged and give each node a
// TargetProof (log2 of the targets' sibling hashes), so a 10,000-node job is signed once and no
// request carries the target list. Agents verify the grant with a Verifier before anything runs:
// a worker, or anyone else with publish rights on node subjects, cannot change what is done, to
// whom, or mint fresh request ids past the agents' replay memory.
//
// Results are bound with a ResultToken: an HMAC of the job id under a key derived from the
// coordinator's seed. Every coordinator of a deployment shares the coordinator credential, hence
// the same key, so any of them recognises the results of jobs another published (takeover).
package trust
