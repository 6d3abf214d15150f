package coordinator

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// runIndexIdle is how long a coordinator keeps its run index after the last listing it served:
// the index costs one small message per record write while it follows the bucket, so a
// coordinator nobody lists runs from does not keep one.
const runIndexIdle = 10 * time.Minute

// runIndexWait bounds how long a listing waits for the run index to catch up (at start, it reads
// the summary of every stored run) before it reads the records instead.
const runIndexWait = 5 * time.Second

// listIndex is a coordinator's run index, started by the first listing and stopped when idle.
type listIndex struct {
	mu       sync.Mutex
	idx      *kvstore.RunIndex
	lastUsed time.Time
	stopIdle chan struct{}
}

// handleList lists the newest runs the caller may read: a run of a playbook it may not read is
// left out, so a listing can hold fewer runs than its limit.
func (c *Coordinator) handleList(ctx context.Context, r apiRequest) (any, *protocol.ErrorResponse) {
	var req protocol.ListRunsRequest
	if len(r.data) > 0 {
		if err := json.Unmarshal(r.data, &req); err != nil {
			return nil, apiError(protocol.CodeBadRequest, "decode list request: %v", err)
		}
	}
	if _, apiErr := c.permit(ctx, r.who, policy.Read, nil, ""); apiErr != nil {
		return nil, apiErr
	}
	limit := req.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	for _, st := range req.Status {
		if st != protocol.StatusPending && st != protocol.StatusRunning && !st.Final() {
			return nil, apiError(protocol.CodeBadRequest, "status: unknown run status %q (pending, running, success, failed or cancelled)", st)
		}
	}
	l := runLister{c: c, who: r.who, req: req, limit: limit, readable: map[string]bool{},
		resp: protocol.ListRunsResponse{Version: protocol.SubmitVersion, Runs: []protocol.RunSummary{}}}
	idx := c.syncedIndex(ctx)
	if req.Before != "" {
		var apiErr *protocol.ErrorResponse
		if l.cursor, apiErr = c.cursorOf(ctx, idx, req.Before); apiErr != nil {
			return nil, apiErr
		}
	}
	if idx != nil {
		if req.WithCounts {
			l.resp.Counts = map[protocol.RunStatus]int{}
		}
		idx.Newest(l.take)
		return l.resp, nil
	}
	// No index to hand: a filtered or counted listing reads every record (newest first); an
	// unfiltered one reads only the newest limit (+1 to know whether there is a next page).
	read := limit + 1
	if listFiltered(req) || req.WithCounts {
		read = 0
	}
	recs, err := c.runs.List(ctx, read)
	if err != nil {
		return nil, apiError(protocol.CodeInternal, "list runs: %v", err)
	}
	if req.WithCounts {
		l.resp.Counts = map[protocol.RunStatus]int{}
	}
	for _, rec := range recs {
		sum := rec.Summary()
		if !l.take(&sum) {
			break
		}
	}
	return l.resp, nil
}

// runLister builds one listing from run summaries given newest first.
type runLister struct {
	c     *Coordinator
	who   protocol.Identity
	req   protocol.ListRunsRequest
	limit int
	// cursor is where the page starts (req.Before), nil for the first page.
	cursor *listCursor
	full   bool
	// readable caches the policy's answer by playbook (name and tags), as a listing asks it for
	// every run it looks at.
	readable map[string]bool
	resp     protocol.ListRunsResponse
}

// take looks at one run; it returns false once the listing needs no more.
func (l *runLister) take(sum *protocol.RunSummary) bool {
	counting := l.resp.Counts != nil
	more := counting || !l.full
	// The counts by status match every filter but the status one, and ignore the page.
	if !listMatches(l.req, sum) || !l.mayRead(&sum.Playbook) {
		return more
	}
	if counting {
		l.resp.Counts[sum.Status]++
	}
	switch {
	case l.full:
	case l.cursor != nil && !l.cursor.after(sum):
		// The page starts after its cursor's place, whether or not that run is still there.
	case len(l.req.Status) > 0 && !slices.Contains(l.req.Status, sum.Status):
	case len(l.resp.Runs) == l.limit:
		l.resp.Next, l.full = l.resp.Runs[l.limit-1].ID, true
	default:
		l.resp.Runs = append(l.resp.Runs, *sum)
	}
	return counting || !l.full
}

// listCursor is a place in the listing's order: a page starts with the runs after it.
type listCursor struct {
	at time.Time
	id string
}

// after reports whether sum comes after the cursor, newest first: it was created earlier.
func (lc *listCursor) after(sum *protocol.RunSummary) bool {
	if !sum.CreatedAt.Equal(lc.at) {
		return sum.CreatedAt.Before(lc.at)
	}
	return sum.ID < lc.id
}

// cursorOf places the cursor run id: at its creation time, read from the index or its record,
// or, for a run removed since, from the time its id carries (run ids are UUIDv7).
func (c *Coordinator) cursorOf(ctx context.Context, idx *kvstore.RunIndex, id string) (*listCursor, *protocol.ErrorResponse) {
	if idx != nil {
		if sum, ok := idx.Get(id); ok {
			return &listCursor{at: sum.CreatedAt, id: id}, nil
		}
	} else if rec, _, err := c.runs.Get(ctx, id); err == nil {
		return &listCursor{at: rec.CreatedAt, id: id}, nil
	}
	at, ok := kvstore.CreatedAt(id)
	if !ok {
		return nil, apiError(protocol.CodeBadRequest, "before: %q is not a run id", id)
	}
	// The id says only the millisecond: the page starts with that millisecond's runs, so none
	// is skipped (one shown on the last page may come again).
	return &listCursor{at: at.Add(time.Millisecond), id: ""}, nil
}

// mayRead reports whether the caller may read runs of pb.
func (l *runLister) mayRead(pb *protocol.PlaybookRef) bool {
	key := pb.Name + "\x00" + strings.Join(pb.Tags, "\x00")
	ok, seen := l.readable[key]
	if !seen {
		ok = l.c.decide(l.who, policy.Read, pb).Allowed
		l.readable[key] = ok
	}
	return ok
}

// syncedIndex returns the coordinator's run index, started if need be and as new as the bucket,
// or nil when it cannot be had in runIndexWait (the listing then reads the records).
func (c *Coordinator) syncedIndex(ctx context.Context) *kvstore.RunIndex {
	c.list.mu.Lock()
	c.list.lastUsed = time.Now()
	idx := c.list.idx
	if idx == nil {
		idx = kvstore.NewRunIndex(c.js, c.runs)
		if err := idx.Start(ctx); err != nil {
			c.list.mu.Unlock()
			c.opts.log.Warn("run index: listing from the records", "error", err)
			return nil
		}
		c.list.idx, c.list.stopIdle = idx, make(chan struct{})
		go c.stopIndexWhenIdle(c.list.stopIdle)
	}
	c.list.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, runIndexWait)
	defer cancel()
	if err := idx.Sync(wctx); err != nil {
		c.opts.log.Warn("run index: listing from the records", "error", err)
		return nil
	}
	return idx
}

// stopIndexWhenIdle stops the run index once no listing used it for runIndexIdle, or when stop
// is closed.
func (c *Coordinator) stopIndexWhenIdle(stop chan struct{}) {
	t := time.NewTicker(runIndexIdle / 10)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.list.mu.Lock()
			idle := time.Since(c.list.lastUsed) > runIndexIdle
			if idle {
				c.list.idx.Stop()
				c.list.idx = nil
			}
			c.list.mu.Unlock()
			if idle {
				return
			}
		}
	}
}

// stopIndex stops the run index, when the coordinator stops.
func (c *Coordinator) stopIndex() {
	c.list.mu.Lock()
	defer c.list.mu.Unlock()
	if c.list.idx != nil {
		c.list.idx.Stop()
		close(c.list.stopIdle)
		c.list.idx = nil
	}
}

// listFiltered reports whether req filters or pages the listing.
func listFiltered(req protocol.ListRunsRequest) bool {
	return req.Schedule != "" || len(req.Status) > 0 || req.Playbook != "" || req.Submitter != "" ||
		!req.Since.IsZero() || !req.Until.IsZero() || req.Before != ""
}

// listMatches reports whether sum passes every filter of req but its status filter.
func listMatches(req protocol.ListRunsRequest, sum *protocol.RunSummary) bool {
	switch {
	case req.Schedule != "" && sum.Schedule != req.Schedule:
		return false
	case req.Playbook != "" && sum.Playbook.Name != req.Playbook:
		return false
	case req.Submitter != "" && sum.SubmittedBy.Name != req.Submitter && sum.SubmittedBy.Key != req.Submitter:
		return false
	case !req.Since.IsZero() && sum.CreatedAt.Before(req.Since):
		return false
	case !req.Until.IsZero() && !sum.CreatedAt.Before(req.Until):
		return false
	}
	return true
}
