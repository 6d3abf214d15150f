package coordinator

import (
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/protocol"
)

// A coordinator listens for what concerns the runs it drives (their jobs' results, their
// cancellations) on one wildcard subscription each, and hands every message to the driver of its
// run: a subscription and an unsubscription per run would cost the client and the server a
// protocol exchange each, and the server an update of its subscription index.

// routes maps the runs driven here to what their drivers are handed. The zero value is ready to
// use.
type routes[T any] struct {
	mu   sync.Mutex
	runs map[string]T
}

// add routes runID to to until the returned function is called.
func (r *routes[T]) add(runID string, to T) (remove func()) {
	r.mu.Lock()
	if r.runs == nil {
		r.runs = map[string]T{}
	}
	r.runs[runID] = to
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.runs, runID)
		r.mu.Unlock()
	}
}

// get is where runID is routed to, if it is driven here.
func (r *routes[T]) get(runID string) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	to, ok := r.runs[runID]
	return to, ok
}

// of is where the run a subject names is routed to: the subject is prefix, the run id, and
// possibly more tokens.
func (r *routes[T]) of(subject, prefix string) (T, bool) {
	rest, ok := strings.CutPrefix(subject, prefix)
	if !ok {
		var none T
		return none, false
	}
	runID, _, _ := strings.Cut(rest, ".")
	return r.get(runID)
}

// subscribeAll subscribes handle to subject on nc, with no pending limit (nothing is dropped
// here); the subscription is known to the server when it returns.
func subscribeAll(nc *nats.Conn, subject string, handle nats.MsgHandler) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(subject, handle)
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	return sub, nc.Flush()
}

// resultRouter hands the results workers publish to the drivers of their runs.
type resultRouter struct{ routes[chan *nats.Msg] }

// subscribe starts routing on nc; the subscription is known to the server when it returns.
func (r *resultRouter) subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	return subscribeAll(nc, protocol.ResultsSubjectWildcard, r.route)
}

var resultsPrefix = strings.TrimSuffix(protocol.ResultsSubjectWildcard, ">")

// route delivers one result to its run's driver. A result for a run not driven here belongs to
// another coordinator. A result that finds the driver's channel full is dropped, as a channel
// subscription would drop it: reconciliation finds it again in the stream.
func (r *resultRouter) route(m *nats.Msg) {
	if ch, ok := r.of(m.Subject, resultsPrefix); ok {
		select {
		case ch <- m:
		default:
		}
	}
}

// cancelRouter hands the cancellations announced on the runs' cancel subjects to the drivers of
// those runs (see watchHalt): each is called with the reason announced.
type cancelRouter struct{ routes[func(reason string)] }

// subscribe starts routing on nc; the subscription is known to the server when it returns.
func (r *cancelRouter) subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	return subscribeAll(nc, protocol.CancelSubjectWildcard, r.route)
}

var cancelPrefix = strings.TrimSuffix(protocol.CancelSubjectWildcard, "*")

func (r *cancelRouter) route(m *nats.Msg) {
	if cancel, ok := r.of(m.Subject, cancelPrefix); ok {
		cancel(string(m.Data))
	}
}
