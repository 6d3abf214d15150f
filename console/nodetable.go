package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/fleetbook/fleetbook/protocol"
)

// nodeRows is a page of an rpc task's per-node table. Rows are compact, [identity, 1 for ok or 0
// for failed, message], so 10,000 nodes are a few hundred kilobytes the page filters and
// scrolls itself.
type nodeRows struct {
	Seq int `json:"seq"`
	// Total, OK and Failed count every node of the task. Complete says every node's outcome is
	// kept (runs.nodes reads them from the step's results); when it is false, the results are
	// gone and Kept is how many the run's record still holds (every failed one, up to 1,000).
	// Matching is how many the filter and search keep, of which Rows are the ones from Offset.
	Total      int     `json:"total"`
	Complete   bool    `json:"complete"`
	Kept       int     `json:"kept"`
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Matching   int     `json:"matching"`
	Offset     int     `json:"offset"`
	NextOffset int     `json:"next_offset,omitempty"`
	Rows       [][]any `json:"rows"`
}

// runNodesPage is the most nodes one runs.nodes request asks for (the coordinator's cap).
const runNodesPage = 1000

// runNodes answers the per-node outcomes of task seq of the run, sorted by identity, filtered
// by outcome (all, ok, failed) and identity substring (q), paged by offset and limit.
func (c *Console) runNodes(w http.ResponseWriter, r *http.Request, s *userSession) {
	id, q := r.PathValue("id"), r.URL.Query()
	fail := func(err error) { writeJSONError(w, http.StatusBadRequest, err.Error()) }
	if !protocol.ValidToken(id) {
		fail(fmt.Errorf("%w id: %q is not a run id", ErrBadField, id))
		return
	}
	seq, err := strconv.Atoi(q.Get("seq"))
	if err != nil || seq < 1 {
		fail(fmt.Errorf("%w seq: %q is not a task number (from 1)", ErrBadField, q.Get("seq")))
		return
	}
	outcome := q.Get("outcome")
	if outcome == "" {
		outcome = "all"
	}
	if outcome != "all" && outcome != "ok" && outcome != "failed" {
		fail(fmt.Errorf("%w outcome: %q is not all, ok or failed", ErrBadField, outcome))
		return
	}
	offset, limit := 0, c.opts.nodePage
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			fail(fmt.Errorf("%w offset: %q is not a number from 0", ErrBadField, v))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > c.opts.nodePage {
			fail(fmt.Errorf("%w limit: %q is not a number from 1 to %d", ErrBadField, v, c.opts.nodePage))
			return
		}
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	req := protocol.RunNodesRequest{RunID: id, Seq: seq, Search: q.Get("q"), Offset: offset}
	if outcome != "all" {
		req.Outcome = outcome
	}
	page := nodeRows{Seq: seq, Offset: offset, Rows: [][]any{}}
	// A console page is several runs.nodes pages: the coordinator caps each at runNodesPage.
	for len(page.Rows) < limit {
		req.Limit = min(runNodesPage, limit-len(page.Rows))
		resp, err := s.client.ListRunNodes(ctx, req)
		if err != nil {
			writeJSONError(w, apiStatus(err), err.Error())
			return
		}
		page.OK, page.Failed, page.Total = resp.OK, resp.Failed, resp.OK+resp.Failed
		page.Complete, page.Matching = resp.Complete, resp.TotalMatching
		for _, n := range resp.Nodes {
			ok := 0
			if n.Success {
				ok = 1
			}
			page.Rows = append(page.Rows, []any{n.Identity, ok, n.Msg})
		}
		page.NextOffset = resp.NextOffset
		if resp.NextOffset == 0 || len(resp.Nodes) == 0 {
			break
		}
		req.Offset = resp.NextOffset
	}
	page.Kept = page.Total
	if !page.Complete {
		if page.Kept, err = c.keptNodes(ctx, s, id, seq); err != nil {
			writeJSONError(w, apiStatus(err), err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// keptNodes is how many nodes the run's record keeps of task seq, for a task whose results are
// gone: what runs.nodes answers without a filter.
func (c *Console) keptNodes(ctx context.Context, s *userSession, id string, seq int) (int, error) {
	resp, err := s.client.ListRunNodes(ctx, protocol.RunNodesRequest{RunID: id, Seq: seq, Limit: 1})
	if err != nil {
		return 0, err
	}
	return resp.TotalMatching, nil
}
