package discover

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
)

// discoverRPCVersion is the RPCRequest version the connectivity test speaks.
const discoverRPCVersion = 1

// statusHeader and noRespondersStatus make the status reply NATS sends when nobody subscribes to
// a request's subject (nats.go keeps its names for them unexported).
const (
	statusHeader       = "Status"
	noRespondersStatus = "503"
)

// ping sends rpcutil ping (with the job's any-node grant, when it has one) to every node at once over core NATS and waits up to pingTimeout (or
// ctx's end) for the replies, which all come to one subscription. Nodes that do not answer, or
// answer with a failure, fail discovery, each one named.
func (d *discoverer) ping(ctx context.Context, nodes []string) error {
	inbox := d.nc.NewInbox()
	// A channel subscription sees NATS's "no responders" status replies (a node with no agent
	// listening) as messages carrying the reply subject, so such a node fails at once; NextMsg
	// would turn them into an error that does not say which node it was. The buffer holds a reply
	// from every node, so none is dropped as a slow consumer.
	replies := make(chan *nats.Msg, len(nodes)+16)
	sub, err := d.nc.ChanSubscribe(inbox+".*", replies)
	if err != nil {
		return fmt.Errorf("connectivity test: subscribing for replies: %w", err)
	}
	defer sub.Unsubscribe()

	requestIDs := make([]string, len(nodes))
	pending := make(map[int]bool, len(nodes))
	for i, id := range nodes {
		// A signed ping's id is fixed by its job and node (agents refuse any other); an unsigned
		// one is fresh, so a discovery repeated within the agents' replay memory is not answered
		// from it.
		if d.grant != nil {
			requestIDs[i] = trust.RequestID(d.grant.JobID, id)
		} else {
			requestIDs[i] = uuid.NewString()
		}
		data, err := json.Marshal(protocol.RPCRequest{
			Version: discoverRPCVersion, RequestID: requestIDs[i], Agent: trust.PingAgent, Action: trust.PingAction,
			Caller: d.caller, Grant: d.grant,
		})
		if err != nil {
			return fmt.Errorf("connectivity test: encoding the request: %w", err)
		}
		if err := d.nc.PublishRequest(protocol.NodeRPCSubject(id), inbox+"."+strconv.Itoa(i), data); err != nil {
			return fmt.Errorf("connectivity test: sending ping to %s: %w", id, err)
		}
		pending[i] = true
	}

	wctx, cancel := context.WithTimeout(ctx, d.pingTimeout)
	defer cancel()
	reasons := map[int]string{}
	for len(pending) > 0 {
		var msg *nats.Msg
		select {
		case msg = <-replies:
		case <-wctx.Done():
		}
		if msg == nil {
			break
		}
		i, err := strconv.Atoi(msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:])
		if err != nil || !pending[i] {
			continue
		}
		if msg.Header.Get(statusHeader) == noRespondersStatus {
			delete(pending, i)
			reasons[i] = "no node agent is listening"
			continue
		}
		if e := msg.Header.Get(protocol.ErrorHeader); e != "" {
			delete(pending, i)
			reasons[i] = "ping failed: " + e
			continue
		}
		var reply protocol.RPCReply
		if err := json.Unmarshal(msg.Data, &reply); err != nil || (reply.RequestID != "" && reply.RequestID != requestIDs[i]) {
			continue // not an answer to this request: keep waiting for the real one
		}
		delete(pending, i)
		if !reply.Success {
			reasons[i] = "ping failed: " + reply.Msg
		}
	}
	for i := range pending {
		reasons[i] = "no answer within " + d.pingTimeout.Round(time.Millisecond).String()
	}
	var failed []string
	for i, id := range nodes {
		if r, ok := reasons[i]; ok {
			failed = append(failed, fmt.Sprintf("%s (%s)", id, r))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("connectivity test failed for %d of %d nodes: %s", len(failed), len(nodes), listProblems(failed))
	}
	return nil
}
