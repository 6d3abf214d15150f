package protocol

// Outcome filters of a RunNodesRequest.
const (
	// OutcomeOK keeps the nodes the step succeeded on.
	OutcomeOK = "ok"
	// OutcomeFailed keeps the nodes the step failed on (a node that did not answer included).
	OutcomeFailed = "failed"
)

// RunNodesRequest asks for a page of the per-node outcomes of one step of a run: those of the
// step's last attempt, in batch order and, within a batch, by identity.
type RunNodesRequest struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	// Seq is the task's number in the run's report (TaskReport.Number: from 1, in execution
	// order, node discoveries not counted).
	Seq int `json:"seq"`
	// Outcome, when set, keeps only the nodes of that outcome: OutcomeOK or OutcomeFailed.
	Outcome string `json:"outcome,omitempty"`
	// Search, when set, keeps only the nodes whose identity contains it.
	Search string `json:"search,omitempty"`
	// Offset skips that many matching nodes; Limit caps the nodes returned (0: the server's
	// default).
	Offset int `json:"offset,omitempty"`
	Limit  int `json:"limit,omitempty"`
}

// RunNode is one node's outcome in a RunNodesResponse.
type RunNode struct {
	Identity string `json:"identity"`
	Success  bool   `json:"success"`
	Msg      string `json:"msg,omitempty"`
	// Data is the node's reply, capped as the run record caps it.
	Data any `json:"data,omitempty"`
}

// RunNodesResponse answers a RunNodesRequest.
type RunNodesResponse struct {
	Version int       `json:"version"`
	Nodes   []RunNode `json:"nodes"`
	// TotalMatching is how many nodes match the request's Outcome and Search, on every page.
	TotalMatching int `json:"total_matching"`
	// OK and Failed count the step's nodes of each outcome, whatever the filters.
	OK     int `json:"ok"`
	Failed int `json:"failed"`
	// NextOffset, when not 0, is the Offset of the next page. A page can hold fewer than Limit
	// nodes when their replies are large: the next page goes on from NextOffset.
	NextOffset int `json:"next_offset,omitempty"`
	// Complete is false when the step's results are no longer kept (pruned by age, or from a
	// fleetbook before results were kept with their run): the answer is then built from the
	// nodes the run record kept (at most 1,000 per step, failures first).
	Complete bool `json:"complete"`
}
