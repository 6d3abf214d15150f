package faults

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// idemRig is a server with an in-process coordinator whose streams de-duplicate message ids for
// one second only, so the rows can outlive that window.
func idemRig(t *testing.T) (*rig, jetstream.JetStream) {
	srv := natstest.RunServer(t)
	r := newRig(t, srv.ClientURL())
	// The worker provisions the default window: it goes first, so the coordinator's is the last word.
	w := r.worker("w1")
	natstest.Eventually(t, time.Minute, func() error {
		if !strings.Contains(w.logText(), "worker started") {
			return errors.New("worker not started")
		}
		return nil
	})
	store := kvstore.Config{Duplicates: time.Second}
	nc, js := natstest.Connect(t, srv.ClientURL())
	c, err := coordinator.New(nc, coordinator.WithName("c1"), coordinator.WithStore(store), coordinator.WithLease(r.lease))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("coordinator: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r, js
}

// I1: 100 concurrent submits with one idempotency key, from 10 connections: one run, and every
// reply names it.
func TestI1ConcurrentDuplicateSubmits(t *testing.T) {
	t.Parallel()
	r, _ := idemRig(t)
	doc := book(1, "true")
	var clients []*coordinator.Client
	for range 10 {
		nc, _ := natstest.Connect(t, r.url)
		c, err := coordinator.NewClient(nc)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	ids := make([]string, 100)
	dups := make([]bool, 100)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := clients[i%10].Submit(ctx, protocol.SubmitRequest{Playbook: doc, IdempotencyKey: "one-key",
				Inputs: map[string]any{"ledger": r.ledger}})
			if err != nil {
				t.Errorf("submit %d: %v", i, err)
				return
			}
			ids[i], dups[i] = resp.RunID, resp.Duplicate
		})
	}
	wg.Wait()
	created := 0
	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("reply %d names run %s, reply 0 run %s", i, id, ids[0])
		}
		if !dups[i] {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d replies say they created the run, want 1", created)
	}
	list, err := r.client.List(context.Background(), 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("runs stored: %d (%v), want 1", len(list), err)
	}
	t.Logf("ROW I1: 100 submits, 10 connections, 1 key: 1 run, 1 created + 99 deduplicated replies")
	requireOK(t, "I1", r.check(ids[:1], 1, r.waitFinal(ids[:1], time.Minute)))
}

// I2: the same key resubmitted after 3 times the streams' de-duplication window still gives the
// same run: submissions are de-duplicated in KV, not by the message-id window.
func TestI2DuplicateAfterWindow(t *testing.T) {
	t.Parallel()
	r, js := idemRig(t)
	doc := book(1, "true")
	ctx := context.Background()
	first, err := r.submit(ctx, doc, "late-key", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.waitFinal([]string{first}, time.Minute)
	time.Sleep(3 * time.Second) // 3 × the 1s duplicate window
	st, err := js.Stream(ctx, protocol.RunsStreamName)
	if err != nil || st.CachedInfo().Config.Duplicates != time.Second {
		t.Fatalf("runs stream duplicate window: %v (%v), want 1s", st.CachedInfo().Config.Duplicates, err)
	}
	again, err := r.submit(ctx, doc, "late-key", nil)
	if err != nil || again != first {
		t.Fatalf("resubmit after the window: run %s (%v), want %s", again, err, first)
	}
	t.Logf("ROW I2: resubmit 3s after a 1s duplicate window gave the same run")
	requireOK(t, "I2", r.check([]string{first}, 1, r.waitFinal([]string{first}, time.Minute)))
}

// I3: the same key with other inputs is refused with IDEMPOTENCY_CONFLICT; the first run is
// untouched.
func TestI3SameKeyDifferentBody(t *testing.T) {
	t.Parallel()
	r, _ := idemRig(t)
	doc := book(1, "true")
	ctx := context.Background()
	first, err := r.submit(ctx, doc, "key", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.submit(ctx, doc, "key", map[string]any{"sleep": "9"})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeIdempotencyConflict {
		t.Fatalf("want IDEMPOTENCY_CONFLICT, got %v", err)
	}
	reports := r.waitFinal([]string{first}, time.Minute)
	if reports[first].Inputs["sleep"] != "0" {
		t.Errorf("first run's inputs changed: %v", reports[first].Inputs)
	}
	t.Logf("ROW I3: refused with %s; first run untouched", apiErr.Code)
	requireOK(t, "I3", r.check([]string{first}, 1, reports))
}

// I4: a job published twice with one Nats-Msg-Id is stored once; the second PubAck says
// duplicate.
func TestI4JobPublishDedup(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	if err := kvstore.Provision(ctx, js, kvstore.Config{}); err != nil {
		t.Fatal(err)
	}
	job := protocol.Job{Version: protocol.JobVersion, ID: protocol.JobID{RunID: "r1", Step: 1, Attempt: 1}, Type: protocol.TaskShell,
		Shell: &protocol.ShellSpec{Command: "true"}}
	body, _ := json.Marshal(job)
	var acks []*jetstream.PubAck
	for range 2 {
		ack, err := js.Publish(ctx, protocol.JobSubject(protocol.DefaultPool, job.ID), body, jetstream.WithMsgID(job.ID.String()))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack)
	}
	st, err := js.Stream(ctx, protocol.JobsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acks[0].Duplicate || !acks[1].Duplicate || info.State.Msgs != 1 {
		t.Fatalf("acks %+v %+v, %d messages stored; want the second a duplicate and 1 message", acks[0], acks[1], info.State.Msgs)
	}
	t.Logf("ROW I4: second PubAck duplicate=true, 1 message stored")
}
