package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// RunIndex is a view of every stored run's summary, newest first, kept in memory from a
// headers-only consumer of the runs bucket: every record write carries its summary in the
// RunSummaryHeader, so the view reads no record and its cost per write is one small message.
// A listing served from it reads nothing per stored run, however many there are.
//
// The view follows the bucket; Sync makes it as new as the bucket was when Sync was called, so a
// listing after a write sees it. Create one with NewRunIndex, then Start it.
type RunIndex struct {
	js   jetstream.JetStream
	runs *Runs

	mu sync.RWMutex
	// byID holds the live entries; order holds entries by CreatedAt then ID, oldest first, dead
	// ones (removed runs) among them until compact drops them.
	byID  map[string]*indexEntry
	order []*indexEntry
	dead  int
	// applied is the stream sequence of the last message applied; changed is closed and
	// replaced after every message, for Sync's waiters.
	applied uint64
	changed chan struct{}
	// current is a stream sequence up to which nothing is left to apply: messages above applied
	// and at or below it were removed before the view saw them (see Sync).
	current uint64

	cons jetstream.ConsumeContext
	// stream is the runs bucket's stream, whose newest message Sync asks for.
	stream jetstream.Stream
}

// indexEntry is one run in the view.
type indexEntry struct {
	sum protocol.RunSummary
	// raw is the header the summary was decoded from: a write that leaves the summary as it was
	// (most step writes) is recognised without decoding it.
	raw  string
	dead bool
}

// NewRunIndex returns a view of the runs in runs' bucket; it holds nothing until Start.
func NewRunIndex(js jetstream.JetStream, runs *Runs) *RunIndex {
	return &RunIndex{js: js, runs: runs, byID: map[string]*indexEntry{}, changed: make(chan struct{})}
}

// Start begins following the bucket: the last write of every key first, then every new one.
// The view is usable once Sync returns.
func (x *RunIndex) Start(ctx context.Context) error {
	stream, err := x.js.Stream(ctx, protocol.BucketStreamName(protocol.RunsBucket))
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	cons, err := x.js.OrderedConsumer(ctx, protocol.BucketStreamName(protocol.RunsBucket), jetstream.OrderedConsumerConfig{
		// Every key, the records' parts too, though only records carry a summary: Sync then
		// knows the view is current once it has applied the stream's newest message, which the
		// server tells in constant time. (Asked for the newest record instead, a wildcard
		// last-by-subject, the server searched every key: 3.5 ms a listing at 100,000 runs.)
		FilterSubjects: []string{protocol.BucketSubject(protocol.RunsBucket, ">")},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		HeadersOnly:    true,
	})
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	cc, err := cons.Consume(x.apply)
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	x.mu.Lock()
	x.cons, x.stream = cc, stream
	x.mu.Unlock()
	return nil
}

// Stop stops following the bucket. The view keeps what it holds.
func (x *RunIndex) Stop() {
	x.mu.Lock()
	cc := x.cons
	x.cons = nil
	x.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
}

// syncIdle is how long Sync waits for the view to move before it asks whether the messages it
// waits for still exist: while they arrive, it asks nothing.
const syncIdle = 20 * time.Millisecond

// Sync waits until the view holds every record write stored before it was called, or ctx ends.
// Every write acknowledged before Sync is at or below the stream's last sequence, which Sync asks
// for; the view is current once it has applied every message up to it that still exists. A
// message removed since (a pruned run's part, an expired purge marker) never comes, so when the
// view stops moving short of the last sequence, Sync asks for the next message after the last
// one applied, and remembers the answer for the Syncs after it.
func (x *RunIndex) Sync(ctx context.Context) error {
	x.mu.RLock()
	stream := x.stream
	x.mu.RUnlock()
	if stream == nil {
		return errors.New("run index: not started")
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("run index: %w", err)
	}
	target := info.State.LastSeq
	idle := time.NewTimer(syncIdle)
	defer idle.Stop()
	for {
		x.mu.RLock()
		applied, current, changed := x.applied, x.current, x.changed
		x.mu.RUnlock()
		if applied >= target || current >= target {
			return nil
		}
		idle.Reset(syncIdle)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed: // every applied message closes it
			continue
		case <-idle.C:
		}
		next, err := stream.GetMsg(ctx, applied+1, jetstream.WithGetMsgSubject(protocol.BucketSubject(protocol.RunsBucket, ">")))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound), err == nil && next.Sequence > target:
			// Nothing between the last applied and target is left to come.
			x.mu.Lock()
			x.current = max(x.current, target)
			x.mu.Unlock()
			return nil
		case err != nil:
			return fmt.Errorf("run index: %w", err)
		}
	}
}

// Newest calls fn with each run's summary, newest first, until fn returns false. fn must not keep
// the summary's pointer, nor call the view.
func (x *RunIndex) Newest(fn func(*protocol.RunSummary) bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i := len(x.order) - 1; i >= 0; i-- {
		if e := x.order[i]; !e.dead && !fn(&e.sum) {
			return
		}
	}
}

// Len is how many runs the view holds.
func (x *RunIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// apply takes one message of the bucket into the view.
func (x *RunIndex) apply(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	key := strings.TrimPrefix(m.Subject(), protocol.BucketSubject(protocol.RunsBucket, ""))
	if protocol.IsRunPartKey(key) {
		x.advance(meta.Sequence.Stream) // a record's part: nothing of the view
		return
	}
	h := m.Headers()
	raw := h.Get(protocol.RunSummaryHeader)
	var sum *protocol.RunSummary
	switch {
	case h.Get(kvOperationHeader) != "" || h.Get(jetstream.MarkerReasonHeader) != "":
		// Deleted or purged: sum stays nil.
	case raw != "":
		x.mu.RLock()
		e := x.byID[key]
		same := e != nil && e.raw == raw
		x.mu.RUnlock()
		if same {
			x.advance(meta.Sequence.Stream)
			return
		}
		var s protocol.RunSummary
		if json.Unmarshal([]byte(raw), &s) == nil && s.ID == key {
			sum = &s
		}
	default:
		// A record written before writes carried their summary: read it once.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rec, _, err := x.runs.Get(ctx, key)
		cancel()
		if err == nil {
			s := rec.Summary()
			sum = &s
		}
	}
	x.mu.Lock()
	if sum == nil {
		x.remove(key)
	} else {
		x.upsert(key, *sum, raw)
	}
	x.mu.Unlock()
	x.advance(meta.Sequence.Stream)
}

// advance records that the message at stream sequence seq is applied and wakes Sync's waiters.
func (x *RunIndex) advance(seq uint64) {
	x.mu.Lock()
	if seq > x.applied {
		x.applied = seq
	}
	close(x.changed)
	x.changed = make(chan struct{})
	x.mu.Unlock()
}

// upsert stores sum under key; x.mu is held.
func (x *RunIndex) upsert(key string, sum protocol.RunSummary, raw string) {
	if e := x.byID[key]; e != nil && e.sum.CreatedAt.Equal(sum.CreatedAt) {
		e.sum, e.raw = sum, raw
		return
	}
	x.remove(key)
	e := &indexEntry{sum: sum, raw: raw}
	x.byID[key] = e
	// New runs are the newest: appended, without a search.
	n := len(x.order)
	if n == 0 || !entryBefore(e, x.order[n-1]) {
		x.order = append(x.order, e)
		return
	}
	i := sort.Search(n, func(i int) bool { return entryBefore(e, x.order[i]) })
	x.order = append(x.order, nil)
	copy(x.order[i+1:], x.order[i:])
	x.order[i] = e
}

// remove drops key from the view; x.mu is held.
func (x *RunIndex) remove(key string) {
	e := x.byID[key]
	if e == nil {
		return
	}
	delete(x.byID, key)
	e.dead = true
	x.dead++
	// Compacting when half is dead keeps a burst of removals (a prune) linear.
	if x.dead > len(x.order)/2 {
		live := x.order[:0]
		for _, e := range x.order {
			if !e.dead {
				live = append(live, e)
			}
		}
		clear(x.order[len(live):])
		x.order, x.dead = live, 0
	}
}

// entryBefore orders entries oldest first: by CreatedAt, then by ID.
func entryBefore(a, b *indexEntry) bool {
	if !a.sum.CreatedAt.Equal(b.sum.CreatedAt) {
		return a.sum.CreatedAt.Before(b.sum.CreatedAt)
	}
	return a.sum.ID < b.sum.ID
}

// Get returns the summary of run id, if the view holds it.
func (x *RunIndex) Get(id string) (protocol.RunSummary, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if e := x.byID[id]; e != nil {
		return e.sum, true
	}
	return protocol.RunSummary{}, false
}
