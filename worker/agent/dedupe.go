package agent

import (
	"container/list"
	"sync"
	"time"
)

// dedupe remembers the replies to recent requests, bounded in entries and in age, so a repeated
// request is answered with the first reply instead of acting again.
type dedupe struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	order   *list.List // of *dedupeEntry, most recent at the front
	entries map[string]*list.Element
}

// dedupeEntry is one request: done is closed once reply is set.
type dedupeEntry struct {
	key   string
	at    time.Time
	done  chan struct{}
	reply []byte
}

func newDedupe(max int, ttl time.Duration) *dedupe {
	return &dedupe{max: max, ttl: ttl, order: list.New(), entries: make(map[string]*list.Element)}
}

// begin claims key. It returns (entry, true) when the caller is first and must act, then call
// finish; otherwise the earlier entry, whose done channel closes when its reply is ready.
func (d *dedupe) begin(key string, now time.Time) (*dedupeEntry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if el, ok := d.entries[key]; ok {
		e := el.Value.(*dedupeEntry)
		if now.Sub(e.at) < d.ttl {
			return e, false
		}
		d.order.Remove(el)
		delete(d.entries, key)
	}
	e := &dedupeEntry{key: key, at: now, done: make(chan struct{})}
	d.entries[key] = d.order.PushFront(e)
	for d.order.Len() > d.max {
		old := d.order.Back()
		d.order.Remove(old)
		delete(d.entries, old.Value.(*dedupeEntry).key)
	}
	return e, true
}

// finish records e's reply and wakes whoever waits for it.
func (d *dedupe) finish(e *dedupeEntry, reply []byte) {
	d.mu.Lock()
	e.reply = reply
	d.mu.Unlock()
	close(e.done)
}
