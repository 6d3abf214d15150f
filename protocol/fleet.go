package protocol

import "strings"

// Versions of the fleet wire types.
const (
	// NodeInfoVersion is the version of NodeInfo.
	NodeInfoVersion = 1
	// RPCVersion is the version of RPCRequest and RPCReply.
	RPCVersion = 1
)

// Subjects of node agents beyond NodeRPCSubjectPattern.
const (
	// NodeRPCSubjectWildcard matches every node's RPC subject. Identities may contain dots
	// (web01.example.net), so one '*' token cannot match them: a process serving many simulated
	// nodes subscribes to this and dispatches by NodeFromRPCSubject.
	NodeRPCSubjectWildcard = "fleetbook.node.>"

	nodeRPCPrefix = "fleetbook.node."
	nodeRPCSuffix = ".rpc"
)

// NodeFromRPCSubject returns the identity an RPC subject is addressed to, and false when the
// subject is not a node RPC subject.
func NodeFromRPCSubject(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, nodeRPCPrefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, nodeRPCSuffix)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}
