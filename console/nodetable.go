package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// nodeRows is a page of an rpc task's per-node table. Rows are compact, [identity, 1 for ok or 0
// for failed, message], so 10,000 nodes are a few hundred kilobytes the page filters and
// scrolls itself.
type nodeRows struct {
	Seq int `json:"seq"`
	// Total, OK and Failed count every node of the task; Kept is how many of them the report
	// keeps (every failed one, up to 1,000 in all); Matching those kept that the filter and
	// search keep, of which Rows are the ones from Offset.
	Total      int     `json:"total"`
	Kept       int     `json:"kept"`
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Matching   int     `json:"matching"`
	Offset     int     `json:"offset"`
	NextOffset int     `json:"next_offset,omitempty"`
	Rows       [][]any `json:"rows"`
}

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
	rep, err := s.client.Get(ctx, id)
	if err != nil {
		writeJSONError(w, apiStatus(err), err.Error())
		return
	}
	if seq > len(rep.Tasks) {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("run %s has %d tasks, no task %d", id, len(rep.Tasks), seq))
		return
	}
	t := rep.Tasks[seq-1]
	page := nodePage(seq, t.Nodes, outcome, q.Get("q"), offset, limit)
	page.OK, page.Failed, page.Total = t.NodesOK, t.NodesFailed, t.NodesOK+t.NodesFailed
	writeJSON(w, http.StatusOK, page)
}

// nodePage is the page of nodes that outcome and search keep, from offset, at most limit rows.
func nodePage(seq int, nodes map[string]protocol.NodeResult, outcome, search string, offset, limit int) nodeRows {
	out := nodeRows{Seq: seq, Kept: len(nodes), Offset: offset, Rows: [][]any{}}
	ids := make([]string, 0, len(nodes))
	for identity, n := range nodes {
		if outcome == "ok" && !n.Success || outcome == "failed" && n.Success || !strings.Contains(identity, search) {
			continue
		}
		ids = append(ids, identity)
	}
	slices.Sort(ids)
	out.Matching = len(ids)
	if offset >= len(ids) {
		return out
	}
	end := min(len(ids), offset+limit)
	for _, identity := range ids[offset:end] {
		ok := 0
		if nodes[identity].Success {
			ok = 1
		}
		out.Rows = append(out.Rows, []any{identity, ok, nodes[identity].Msg})
	}
	if end < len(ids) {
		out.NextOffset = end
	}
	return out
}
