package agent

import (
	"container/heap"
	"container/list"
	"sync"
	"time"
)

// dedupe remembers the replies to recent requests, so a repeated request is answered with the
// first reply instead of acting again. Unsigned requests are remembered for ttl and at most max
// of them (the oldest is forgotten first). Signed requests are pinned: remembered until their
// grant can no longer be accepted (trust.RememberUntil), since forgetting one earlier would let
// a replay act again; at most maxPinned of them, beyond which new signed requests are refused
// until old ones expire, so memory stays bounded and the refusal fails closed.
type dedupe struct {
	mu        sync.Mutex
	max       int
	maxPinned int
	ttl       time.Duration
	order     *list.List // of unpinned *dedupeEntry, most recent at the front
	pinned    pinHeap    // pinned entries, the soonest forgotten first
	entries   map[string]*dedupeEntry
}

// dedupeEntry is one request: done is closed once reply is set.
type dedupeEntry struct {
	key string
	at  time.Time
	// until, for a pinned entry, is when it may be forgotten; zero for an unpinned one.
	until time.Time
	el    *list.Element // in order, when unpinned
	index int           // in pinned, when pinned
	done  chan struct{}
	reply []byte
}

// live reports whether e still answers its repeats at now.
func (e *dedupeEntry) live(now time.Time, ttl time.Duration) bool {
	if !e.until.IsZero() {
		return now.Before(e.until)
	}
	return now.Sub(e.at) < ttl
}

func newDedupe(max, maxPinned int, ttl time.Duration) *dedupe {
	return &dedupe{max: max, maxPinned: maxPinned, ttl: ttl, order: list.New(), entries: make(map[string]*dedupeEntry)}
}

// begin claims key; until, when not zero, pins it (a signed request) until then at least. It
// returns (entry, true) when the caller is first and must act, then call finish; otherwise the
// earlier entry, whose done channel closes when its reply is ready. A nil entry means the memory
// of pinned requests is full: the request must be refused.
func (d *dedupe) begin(key string, now, until time.Time) (*dedupeEntry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[key]; ok {
		if e.live(now, d.ttl) {
			return e, false
		}
		d.remove(e)
	}
	e := &dedupeEntry{key: key, at: now, done: make(chan struct{})}
	if until.IsZero() {
		e.el = d.order.PushFront(e)
		for d.order.Len() > d.max {
			d.remove(d.order.Back().Value.(*dedupeEntry))
		}
	} else {
		for len(d.pinned) > 0 && !d.pinned[0].live(now, d.ttl) {
			d.remove(d.pinned[0])
		}
		if len(d.pinned) >= d.maxPinned {
			return nil, false
		}
		// Repeats get the first reply for ttl at least, as unsigned ones do.
		e.until = until
		if u := now.Add(d.ttl); u.After(until) {
			e.until = u
		}
		heap.Push(&d.pinned, e)
	}
	d.entries[key] = e
	return e, true
}

// remove forgets e; d.mu is held.
func (d *dedupe) remove(e *dedupeEntry) {
	delete(d.entries, e.key)
	if e.el != nil {
		d.order.Remove(e.el)
		return
	}
	heap.Remove(&d.pinned, e.index)
}

// finish records e's reply and wakes whoever waits for it.
func (d *dedupe) finish(e *dedupeEntry, reply []byte) {
	d.mu.Lock()
	e.reply = reply
	d.mu.Unlock()
	close(e.done)
}

// pinHeap orders pinned entries by until (container/heap).
type pinHeap []*dedupeEntry

func (h pinHeap) Len() int           { return len(h) }
func (h pinHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h pinHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *pinHeap) Push(x any) {
	e := x.(*dedupeEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *pinHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
