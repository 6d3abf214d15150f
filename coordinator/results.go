package coordinator

import (
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/protocol"
)

// resultRouter hands the results workers publish to the drivers of their runs. One wildcard
// subscription per coordinator replaces a subscription and an unsubscription per run.
type resultRouter struct {
	mu   sync.Mutex
	runs map[string]chan *nats.Msg
}

func newResultRouter() *resultRouter {
	return &resultRouter{runs: map[string]chan *nats.Msg{}}
}

// subscribe starts routing on nc; the subscription is known to the server when it returns.
func (r *resultRouter) subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(protocol.ResultsSubjectWildcard, r.route)
	if err != nil {
		return nil, err
	}
	// Results are never dropped here; a full driver channel drops them in route.
	_ = sub.SetPendingLimits(-1, -1)
	return sub, nc.Flush()
}

// add routes the results of runID to ch until the returned function is called.
func (r *resultRouter) add(runID string, ch chan *nats.Msg) (remove func()) {
	r.mu.Lock()
	r.runs[runID] = ch
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.runs, runID)
		r.mu.Unlock()
	}
}

var resultsPrefix = strings.TrimSuffix(protocol.ResultsSubjectWildcard, ">")

// route delivers one result to its run's driver. A result for a run not driven here belongs to
// another coordinator. A result that finds the driver's channel full is dropped, as a channel
// subscription would drop it: reconciliation finds it again in the stream.
func (r *resultRouter) route(m *nats.Msg) {
	rest, ok := strings.CutPrefix(m.Subject, resultsPrefix)
	if !ok {
		return
	}
	runID, _, _ := strings.Cut(rest, ".")
	r.mu.Lock()
	ch := r.runs[runID]
	r.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- m:
	default:
	}
}
