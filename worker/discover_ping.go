package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fleetbook/fleetbook/protocol"
)

// discoverRPCVersion is the RPCRequest version the connectivity test speaks.
const discoverRPCVersion = 1

// ping sends rpcutil ping to every node at once over core NATS and waits up to pingTimeout (or
// ctx's end) for the replies, which all come to one subscription. Nodes that do not answer, or
// answer with a failure, fail discovery, each one named.
func (d *discoverer) ping(ctx context.Context, nodes []string) error {
	inbox := d.nc.NewInbox()
	sub, err := d.nc.SubscribeSync(inbox + ".*")
	if err != nil {
		return fmt.Errorf("connectivity test: subscribing for replies: %w", err)
	}
	defer sub.Unsubscribe()
	// Thousands of replies may arrive before they are read: never drop one as a slow consumer.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return fmt.Errorf("connectivity test: %w", err)
	}

	requestIDs := make([]string, len(nodes))
	pending := make(map[int]bool, len(nodes))
	for i, id := range nodes {
		requestIDs[i] = uuid.NewString()
		data, err := json.Marshal(protocol.RPCRequest{
			Version: discoverRPCVersion, RequestID: requestIDs[i], Agent: "rpcutil", Action: "ping", Caller: d.caller,
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
		msg, err := sub.NextMsgWithContext(wctx)
		if err != nil {
			break
		}
		i, err := strconv.Atoi(msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:])
		if err != nil || !pending[i] {
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
