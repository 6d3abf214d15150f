package jspull

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
)

// setup starts a server with a work-queue stream of n messages and a durable pull consumer on it.
func setup(t *testing.T, n int) (jetstream.JetStream, jetstream.Consumer, Config) {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "Q", Subjects: []string{"q.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	ccfg := jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour}
	cons, err := js.CreateOrUpdateConsumer(ctx, "Q", ccfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := js.Publish(ctx, fmt.Sprintf("q.%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	return js, cons, Config{
		Stream: "Q", Consumer: "c",
		Expiry: time.Minute, Heartbeat: time.Second, Retry: 100 * time.Millisecond, DrainWait: 5 * time.Second,
		HandBack: func(m jetstream.Msg) { _ = m.Nak() },
		Ensure: func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, "Q", ccfg)
			return err
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func ackPending(t *testing.T, cons jetstream.Consumer) int {
	t.Helper()
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumAckPending
}

// A Puller that asks only for the callers waiting pulls nothing ahead: each message it hands
// over was asked for by the caller that takes it, in the stream's order, and none waits in the
// client (the server has delivered exactly the messages taken).
func TestPullsOnlyForWaitingCallers(t *testing.T) {
	js, cons, cfg := setup(t, 3)
	cfg.Batch = func(waiting int, _ bool) int { return min(waiting, 1) }
	p, err := Start(t.Context(), js.Conn(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 3 {
		m, err := p.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("q.%d", i); m.Subject() != want {
			t.Errorf("message %d is %s, want %s", i, m.Subject(), want)
		}
		if n := ackPending(t, cons); n != i+1 {
			t.Errorf("after %d taken the server has delivered %d", i+1, n)
		}
	}
}

// Close ends a pull that would wait a minute for a message at once, and hands back what was
// received and never taken: the server may deliver it again to somebody else.
func TestCloseHandsBackWhatItHolds(t *testing.T) {
	js, cons, cfg := setup(t, 3)
	var handedBack atomic.Int64
	back := cfg.HandBack
	cfg.HandBack = func(m jetstream.Msg) { handedBack.Add(1); back(m) }
	cfg.Batch = func(int, bool) int { return 5 } // ahead of the callers, as a coordinator pulls
	p, err := Start(t.Context(), js.Conn(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Next(t.Context()); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 20*time.Second, func() error {
		if n := ackPending(t, cons); n != 3 {
			return fmt.Errorf("%d delivered, want all 3", n)
		}
		return nil
	})
	p.Close() // the request for 5 would live a minute: Close must not wait for it
	if n := handedBack.Load(); n != 2 {
		t.Errorf("%d messages handed back, want the 2 never taken", n)
	}
	// The two handed back go to the next puller at once, delivered a second time.
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for m := range batch.Messages() {
		if md, err := m.Metadata(); err == nil && md.NumDelivered == 2 {
			again++
		}
	}
	if again != 2 {
		t.Errorf("%d handed-back messages delivered again, want 2", again)
	}
}

// A config that cannot work is refused: a heartbeat over half the expiry would make the
// server refuse every request, and the Puller ask again for ever.
func TestStartRefusesHeartbeatOverHalfTheExpiry(t *testing.T) {
	js, _, cfg := setup(t, 0)
	cfg.Batch = func(int, bool) int { return 1 }
	cfg.Heartbeat = cfg.Expiry
	if _, err := Start(t.Context(), js.Conn(), cfg); err == nil {
		t.Fatal("a heartbeat as long as the expiry was accepted")
	}
}

// A message pulled ahead of the callers and not taken within the hold is handed back, and the
// Puller then asks only for callers that wait: the message goes to another consumer at once,
// and this one pulls nothing more until a caller comes.
func TestHeldMessageIsHandedBack(t *testing.T) {
	js, cons, cfg := setup(t, 2)
	var handedBack atomic.Int64
	back := cfg.HandBack
	cfg.HandBack = func(m jetstream.Msg) { handedBack.Add(1); back(m) }
	cfg.Hold = 50 * time.Millisecond
	cfg.Batch = func(waiting int, handedBack bool) int {
		if handedBack {
			return min(waiting, 1)
		}
		return 1
	}
	p, err := Start(t.Context(), js.Conn(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	natstest.Eventually(t, 20*time.Second, func() error {
		if n := handedBack.Load(); n != 1 {
			return fmt.Errorf("%d handed back, want 1", n)
		}
		return nil
	})
	// Both messages are free for somebody else: the one handed back and the one never pulled.
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		got++
		_ = m.Ack()
	}
	if got != 2 {
		t.Errorf("another consumer got %d messages, want both", got)
	}
	if n := handedBack.Load(); n != 1 {
		t.Errorf("%d handed back: the Puller kept pulling ahead with nobody waiting", n)
	}
}
