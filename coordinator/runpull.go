package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/jspull"
	"github.com/fleetbook/fleetbook/protocol"
)

// runPrefetch bounds the run messages a coordinator pulls ahead of a free slot. They wait in the
// client only while every one of its maxRuns slots is busy; a message left there beyond the
// lease is redelivered, and the epoch CAS of the run's first write fences the two copies.
const runPrefetch = 16

// runPullExpiry is how long one pull request lives on the server; an idle coordinator sends one
// pull request per expiry. Nothing waits for it to run out (TestRunPullNeverWaitsForExpiry makes
// it a minute to check that, so it is a variable).
var runPullExpiry = time.Second

// runPullHeartbeat is the idle heartbeat of a pull request: a request the server no longer holds
// is noticed after two missed heartbeats, and replaced.
const runPullHeartbeat = 250 * time.Millisecond

// runPullRetry is the pause after a pull request that could not be sent.
const runPullRetry = 200 * time.Millisecond

// runPullDrainWait bounds how long a stopping coordinator waits for the run messages the server
// sent before it stopped delivering to this coordinator. It is normally one round trip.
const runPullDrainWait = 5 * time.Second

// handBackDelay is how long a run message handed back at shutdown waits before the server
// delivers it again: long enough for the stopping coordinator to be gone, so that the message
// goes to another one (or to this one, restarted).
const handBackDelay = time.Second

// handBack gives a run message back to the stream, for another coordinator, when this one stops.
func handBack(msg jetstream.Msg) { _ = msg.NakWithDelay(handBackDelay) }

// pullRuns creates the coordinators' consumer and starts pulling from it until ctx ends: up to
// runPrefetch run messages a request, handed over one by one as slots free (jspull).
func (c *Coordinator) pullRuns(ctx context.Context) (*jspull.Puller, error) {
	if _, err := c.runsConsumer(ctx); err != nil {
		return nil, err
	}
	return jspull.Start(ctx, c.nc, jspull.Config{
		Stream: protocol.RunsStreamName, Consumer: protocol.RunsConsumerName,
		Batch:  func(int, bool) int { return runPrefetch },
		Expiry: runPullExpiry, Heartbeat: runPullHeartbeat, Retry: runPullRetry, DrainWait: runPullDrainWait,
		HandBack: handBack,
		Ensure: func(ctx context.Context) error {
			_, err := c.runsConsumer(ctx)
			return err
		},
		Log:      c.opts.log,
		Requests: &c.runPulls, Silent: &c.runPullsSilent,
	})
}

// runsConsumer creates (or finds) the coordinators' durable consumer on the RUNS stream.
func (c *Coordinator) runsConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, protocol.RunsStreamName, jetstream.ConsumerConfig{
		Durable:       protocol.RunsConsumerName,
		Description:   "fleetbook coordinators; holding a run message is driving the run",
		FilterSubject: protocol.RunsSubjectWildcard,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opts.lease,
		MaxDeliver:    -1,
		MaxAckPending: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", protocol.RunsConsumerName, err)
	}
	return cons, nil
}
