package metrics

import "time"

// The outcomes of a node in an rpc fan-out (the outcome label of NodeReplies).
const (
	// NodeOK: the node answered with success (and the assertion, if any, held).
	NodeOK = "ok"
	// NodeFailed: the node answered with a failure, or the assertion did not hold.
	NodeFailed = "failed"
	// NodeNoReply: no answer within the timeout.
	NodeNoReply = "no_reply"
	// NodeNoAgent: nothing listens for the node's identity.
	NodeNoAgent = "no_agent"
	// NodeInvalid: the identity or the reply could not be used.
	NodeInvalid = "invalid"
)

// NodeReplied counts one node's outcome in an rpc fan-out and, when it answered (latency > 0),
// observes how long the answer took. The worker's fan-out calls it once per node and fan-out.
func (m *Metrics) NodeReplied(outcome string, latency time.Duration) {
	if m == nil {
		return
	}
	m.nodeReplies.WithLabelValues(outcome).Inc()
	if latency > 0 {
		m.rpcLatency.Observe(latency.Seconds())
	}
}
