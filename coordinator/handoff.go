package coordinator

import (
	"sync"
	"time"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// A run is submitted and then claimed, most often by the same coordinator a moment later: the
// submit has just parsed the playbook and stored the record, and the claim would read the
// record back and parse the playbook again, a round trip to the server and the largest piece of
// CPU of a short run. The submit therefore hands both to its own coordinator's claim.
//
// Nothing depends on the handoff being there or being current. A claim that finds none (another
// coordinator submitted the run, the entry was evicted, the process restarted) reads the record
// as before. A record changed between submit and claim (a cancellation) is caught by the claim's
// first write, a compare-and-set on the revision handed over: it fails, the record is read
// again, and the run goes on from what is stored (driver.update). The playbook is parsed from the
// very document the record holds, with the same options, and is never changed (see
// parsecache.go).
const (
	// maxHandoffs and maxHandoffBytes (the playbooks and files they hold) bound the entries:
	// beyond either the oldest go (their claims read the record).
	maxHandoffs     = 1024
	maxHandoffBytes = 16 << 20
	// handoffTTL is how long an entry waits for its claim: a run message that another
	// coordinator claimed leaves its entry here until then.
	handoffTTL = 30 * time.Second
)

// handoff is what a submit hands to the claim of its run.
type handoff struct {
	rec *protocol.RunRecord
	rev uint64
	pb  *playbooks.Playbook
	at  time.Time
	// size is what the entry holds of the run's documents, for maxHandoffBytes.
	size int
}

// handoffs holds the handoffs of runs submitted here and not yet claimed. The zero value is
// ready to use.
type handoffs struct {
	mu      sync.Mutex
	entries map[string]handoff
	// bytes is the sum of the entries' sizes.
	bytes int
	// order is the run ids in the order they were put, for evicting the oldest first; ids
	// already taken are skipped when they come up.
	order []string
}

// put keeps the handoff of run rec.ID: rec as stored at revision rev (a copy no one else
// changes) and its parsed playbook.
func (h *handoffs) put(rec *protocol.RunRecord, rev uint64, pb *playbooks.Playbook, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = map[string]handoff{}
	}
	size := len(rec.Document)
	for _, f := range rec.Files {
		size += len(f)
	}
	if size > maxHandoffBytes {
		return
	}
	h.drop(rec.ID)
	for len(h.order) > 0 && (len(h.entries) >= maxHandoffs || h.bytes+size > maxHandoffBytes || h.expired(h.order[0], now)) {
		h.drop(h.order[0])
		h.order = h.order[1:]
	}
	h.entries[rec.ID] = handoff{rec: rec, rev: rev, pb: pb, at: now, size: size}
	h.bytes += size
	h.order = append(h.order, rec.ID)
	if len(h.order) > 2*maxHandoffs {
		// Taken ids pile up in order when claims keep pace: keep only the waiting ones.
		kept := h.order[:0]
		for _, id := range h.order {
			if _, ok := h.entries[id]; ok {
				kept = append(kept, id)
			}
		}
		h.order = kept
	}
}

// drop removes id's entry, if there is one; h.mu is held.
func (h *handoffs) drop(id string) {
	if e, ok := h.entries[id]; ok {
		h.bytes -= e.size
		delete(h.entries, id)
	}
}

// expired reports whether id's entry is gone or older than handoffTTL; h.mu is held.
func (h *handoffs) expired(id string, now time.Time) bool {
	e, ok := h.entries[id]
	return !ok || now.Sub(e.at) > handoffTTL
}

// take removes and returns run id's handoff, if it is here and young enough.
func (h *handoffs) take(id string, now time.Time) (handoff, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.entries[id]
	if !ok {
		return handoff{}, false
	}
	h.drop(id)
	if now.Sub(e.at) > handoffTTL {
		return handoff{}, false
	}
	return e, true
}

// len is how many handoffs wait, for tests.
func (h *handoffs) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}
