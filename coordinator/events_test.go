package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// runEvents reads every event of run id from the events stream, in order, and how many messages
// they came in.
func (e *env) runEvents(id string) ([]protocol.Event, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := e.js.OrderedConsumer(ctx, protocol.EventsStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{protocol.EventSubject(id)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var evs []protocol.Event
	msgs := 0
	for {
		batch, err := cons.FetchNoWait(100)
		if err != nil {
			e.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			got, err := protocol.DecodeEvents(m.Data())
			if err != nil {
				e.t.Fatalf("event message %q: %v", m.Data(), err)
			}
			evs, msgs, n = append(evs, got...), msgs+1, n+1
		}
		if n == 0 {
			return evs, msgs
		}
	}
}

// A run's events that come together are stored together: a 3-step run of quick steps has every
// event, in order, in fewer messages than events, and what the CLI follows is the same.
func TestEventsOfARunPublishedTogether(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(succeed)
	id := e.submit(header+"tasks:\n"+shell("one")+shell("two")+shell("three"), nil)
	var followed []protocol.EventType
	r, err := e.client.Follow(context.Background(), id, time.Second, func(ev protocol.Event) { followed = append(followed, ev.Type) })
	if err != nil || r.Status != protocol.StatusSuccess {
		t.Fatalf("follow: %v", err)
	}
	want := []protocol.EventType{protocol.EventRunStarted,
		protocol.EventTaskStarted, protocol.EventTaskFinished, protocol.EventTaskStarted, protocol.EventTaskFinished,
		protocol.EventTaskStarted, protocol.EventTaskFinished, protocol.EventRunFinished}
	evs, msgs := e.runEvents(id)
	var stored []protocol.EventType
	for _, ev := range evs {
		stored = append(stored, ev.Type)
		if ev.RunID != id {
			t.Errorf("event of run %s in run %s's stream", ev.RunID, id)
		}
	}
	for name, got := range map[string][]protocol.EventType{"stored": stored, "followed": followed} {
		if len(got) != len(want) {
			t.Fatalf("%s events %v, want %v", name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s events %v, want %v", name, got, want)
			}
		}
	}
	if msgs >= len(evs) {
		t.Errorf("%d events in %d messages: none published together", len(evs), msgs)
	}
}

// An event waits for company only briefly: the start of a task that runs on is in the stream
// while the task still runs, long before it ends.
func TestEventOfALongTaskPublishedWhileItRuns(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	release := make(chan struct{})
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		<-release
		return succeed(job)
	})
	defer close(release)
	id := e.submit(header+"tasks:\n"+shell("long"), nil)
	natstest.Eventually(t, time.Minute, func() error {
		evs, _ := e.runEvents(id)
		for _, ev := range evs {
			if ev.Type == protocol.EventTaskStarted {
				return nil
			}
		}
		return errNotYet
	})
}
