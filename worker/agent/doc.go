// Package agent is fleetbook's node agent: it answers RPC requests for the agents a node runs,
// and keeps the node registered in the registry while it lives.
//
// One Server serves one node (a real machine) or many (a simulated fleet) on one NATS
// connection. Requests arrive on core NATS at protocol.NodeRPCSubject(identity); a server of many
// nodes subscribes once to protocol.NodeRPCSubjectWildcard and dispatches by identity, so ten
// thousand nodes cost one subscription and no goroutine each.
//
// Invariants:
//   - A request is checked against the agent's definition (action, inputs, types, validation,
//     defaults) before anything runs; a refused request has run nothing.
//   - A request id seen recently gets the first reply again, even while the first is still
//     running: a redelivered batch never acts twice on a node.
//   - A request for an identity this server does not serve gets no reply at all, because another
//     process may serve it.
package agent
