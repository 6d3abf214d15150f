package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// everySeventhFails answers rpc jobs for nodes named n<number>: the nodes whose number is a
// multiple of 7 fail, the others succeed, each with its number as data.
func everySeventhFails(job *protocol.Job) protocol.Result {
	if job.Type != protocol.TaskRPC {
		return protocol.Result{Success: true, Msg: "ok"}
	}
	res := protocol.Result{Success: true, Nodes: map[string]protocol.NodeResult{}}
	for _, id := range job.Targets {
		i := nodeNumber(id)
		ok := i%7 != 0
		res.Nodes[id] = protocol.NodeResult{Success: ok, Msg: map[bool]string{true: "OK", false: "no reply"}[ok], Data: map[string]any{"i": i}}
		res.Success = res.Success && ok
	}
	return res
}

// nodeNumber is the number in a test node's identity: 12 of n0012 and of web-000012.prod.example.net.
func nodeNumber(id string) int {
	digits := strings.TrimLeftFunc(id, func(r rune) bool { return r < '0' || r > '9' })
	if end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
		digits = digits[:end]
	}
	i, _ := strconv.Atoi(digits)
	return i
}

// rpcBook is a playbook of one rpc step to n nodes named n0000, n0001, ...
func rpcBook(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%04d", i)
	}
	return header + "tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: [" + strings.Join(names, ", ") + "]\n"
}

// everySeventhRun runs one rpc step to n nodes in batches of chunk, every 7th node failing, and
// returns its env, id and report.
func everySeventhRun(t *testing.T, n, chunk int) (*env, string, *protocol.Report) {
	t.Helper()
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithRPCChunk(chunk))
	e.startTestWorker(everySeventhFails)
	id := e.submit(rpcBook(n), nil)
	return e, id, e.waitFinal(id, 60*time.Second)
}

// allRunNodes pages through every node req matches, limit at a time, checking each page's
// counts agree.
func allRunNodes(t *testing.T, c *Client, req protocol.RunNodesRequest) ([]protocol.RunNode, *protocol.RunNodesResponse) {
	t.Helper()
	var out []protocol.RunNode
	var last *protocol.RunNodesResponse
	for pages := 0; ; pages++ {
		resp, err := c.ListRunNodes(context.Background(), req)
		if err != nil {
			t.Fatalf("runs.nodes at offset %d: %v", req.Offset, err)
		}
		if last != nil && (resp.TotalMatching != last.TotalMatching || resp.OK != last.OK || resp.Failed != last.Failed) {
			t.Fatalf("counts changed between pages: %+v then %+v", last, resp)
		}
		if pages > resp.TotalMatching+1 {
			t.Fatalf("paging does not end: %d pages for %d nodes", pages, resp.TotalMatching)
		}
		last = resp
		out = append(out, resp.Nodes...)
		if resp.NextOffset == 0 {
			return out, last
		}
		if resp.NextOffset != req.Offset+len(resp.Nodes) {
			t.Fatalf("next_offset %d after %d nodes from %d", resp.NextOffset, len(resp.Nodes), req.Offset)
		}
		req.Offset = resp.NextOffset
	}
}

// An rpc step to 5,000 nodes keeps every node's outcome: paging through them all yields each
// once, in batch order then by identity, though the record keeps 1,000; outcome and search
// filter them.
func TestRunNodesPagesEveryNode(t *testing.T) {
	const n = 5000
	e, id, r := everySeventhRun(t, n, 700)
	if r.Status != protocol.StatusFailed || len(r.Tasks) != 1 || len(r.Tasks[0].Nodes) != maxRecordedNodes {
		t.Fatalf("status %s, %d tasks; want failed with the record's %d nodes", r.Status, len(r.Tasks), maxRecordedNodes)
	}
	wantFailed := (n + 6) / 7

	nodes, last := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Limit: 1000})
	if len(nodes) != n || last.TotalMatching != n || last.OK != n-wantFailed || last.Failed != wantFailed || !last.Complete {
		t.Fatalf("%d nodes paged, total %d, %d ok, %d failed, complete %v; want %d, %d failed, complete",
			len(nodes), last.TotalMatching, last.OK, last.Failed, last.Complete, n, wantFailed)
	}
	for i, nd := range nodes {
		if want := fmt.Sprintf("n%04d", i); nd.Identity != want {
			t.Fatalf("node %d is %s, want %s (each node once, in batch order then by identity)", i, nd.Identity, want)
		}
		data, _ := nd.Data.(map[string]any)
		if nd.Success != (i%7 != 0) || data["i"] != float64(i) {
			t.Fatalf("node %s: %+v", nd.Identity, nd)
		}
	}

	failed, last := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Outcome: protocol.OutcomeFailed, Limit: 1000})
	if len(failed) != wantFailed || last.TotalMatching != wantFailed {
		t.Fatalf("%d failed nodes paged (total %d), want %d", len(failed), last.TotalMatching, wantFailed)
	}
	for _, nd := range failed {
		if i, _ := strconv.Atoi(nd.Identity[1:]); nd.Success || i%7 != 0 {
			t.Fatalf("outcome=failed yields %+v", nd)
		}
	}
	ok, _ := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Outcome: protocol.OutcomeOK})
	if len(ok) != n-wantFailed || slices.ContainsFunc(ok, func(nd protocol.RunNode) bool { return !nd.Success }) {
		t.Fatalf("outcome=ok yields %d nodes, want %d, all ok", len(ok), n-wantFailed)
	}

	found, last := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Search: "n01"})
	if len(found) != 100 || last.TotalMatching != 100 || found[0].Identity != "n0100" || found[99].Identity != "n0199" {
		t.Fatalf("search n01 yields %d nodes (total %d), want n0100..n0199", len(found), last.TotalMatching)
	}
	both, _ := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Search: "n01", Outcome: protocol.OutcomeFailed})
	if len(both) != 14 { // 105, 112, ..., 196
		t.Fatalf("search n01 among failures yields %d nodes, want 14", len(both))
	}
}

// A step whose nodes reply large data completes (the record keeps the data of the first nodes
// up to maxRecordedNodeData, and the nodes past it without their data), and runs.nodes answers
// every node's data in pages under the server's payload limit.
func TestRunNodesLargeReplies(t *testing.T) {
	const n = 100
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1", WithRPCChunk(10))
	big := strings.Repeat("x", maxRecordedData)
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		res := protocol.Result{Success: true, Nodes: map[string]protocol.NodeResult{}}
		for _, id := range job.Targets {
			res.Nodes[id] = protocol.NodeResult{Success: true, Data: big}
		}
		return res
	})
	id := e.submit(rpcBook(n), nil)
	r := e.waitFinal(id, 30*time.Second)
	if r.Status != protocol.StatusSuccess || len(r.Tasks[0].Nodes) != n {
		t.Fatalf("status %s, %d nodes in the report: %s", r.Status, len(r.Tasks[0].Nodes), r.Error)
	}
	withData := 0
	for _, nr := range r.Tasks[0].Nodes {
		if nr.Data != nil {
			withData++
		}
	}
	if want := maxRecordedNodeData / (len(big) + 2); withData != want {
		t.Errorf("the report keeps the data of %d nodes, want %d", withData, want)
	}
	first, err := e.client.ListRunNodes(context.Background(), protocol.RunNodesRequest{RunID: id, Seq: 1, Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(first)
	if len(first.Nodes) == n || first.NextOffset != len(first.Nodes) || int64(len(body)) > e.nc.MaxPayload() {
		t.Fatalf("a page of %d nodes of %d bytes each: %d nodes, next %d, %d bytes (limit %d)",
			n, len(big), len(first.Nodes), first.NextOffset, len(body), e.nc.MaxPayload())
	}
	nodes, _ := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Limit: n})
	if len(nodes) != n || slices.ContainsFunc(nodes, func(nd protocol.RunNode) bool { return nd.Data != big }) {
		t.Fatalf("%d nodes paged, want %d, each with its data", len(nodes), n)
	}
}

// A page stays under its byte budget however large the nodes' replies: it holds fewer nodes,
// and the next page goes on where it stopped.
func TestRunNodesPageFitsItsBudget(t *testing.T) {
	big := strings.Repeat("x", 1000)
	one, _ := json.Marshal(protocol.RunNode{Identity: "n0000", Success: true, Data: big})
	for _, tc := range []struct {
		name          string
		offset, limit int
		budget        int
		want, next    int
	}{
		{"the limit first", 0, 3, 100 * len(one), 3, 3},
		{"the budget first", 0, 10, 5*len(one) + 5, 5, 5},
		{"from an offset", 7, 10, 5*len(one) + 5, 3, 0},
		{"one node over the budget still goes", 0, 10, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &nodePage{req: protocol.RunNodesRequest{Offset: tc.offset}, limit: tc.limit, budget: tc.budget}
			for i := range 10 {
				p.add(fmt.Sprintf("n%04d", i), protocol.NodeResult{Success: true, Data: big})
			}
			resp := p.response(true)
			if len(resp.Nodes) != tc.want || resp.NextOffset != tc.next || resp.TotalMatching != 10 || resp.OK != 10 {
				t.Fatalf("%d nodes, next %d, total %d, ok %d; want %d nodes, next %d, total 10",
					len(resp.Nodes), resp.NextOffset, resp.TotalMatching, resp.OK, tc.want, tc.next)
			}
			if resp.Nodes[0].Identity != fmt.Sprintf("n%04d", tc.offset) {
				t.Errorf("page starts at %s, want offset %d", resp.Nodes[0].Identity, tc.offset)
			}
		})
	}
}

// A run whose results are gone (past the results' max age, or from before results were kept)
// answers the nodes its record kept, and says the list is not complete.
func TestRunNodesFromTheRecordWhenResultsAreGone(t *testing.T) {
	const n = 1500
	e, id, _ := everySeventhRun(t, n, 500)
	st, err := e.js.Stream(context.Background(), protocol.ResultsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(context.Background(), jetstream.WithPurgeSubject(fmt.Sprintf(protocol.ResultsRunWildcardPattern, id))); err != nil {
		t.Fatal(err)
	}
	nodes, last := allRunNodes(t, e.client, protocol.RunNodesRequest{RunID: id, Seq: 1, Limit: 1000})
	wantFailed := (n + 6) / 7
	if last.Complete || len(nodes) != maxRecordedNodes || last.Failed != wantFailed {
		t.Fatalf("%d nodes, %d failed, complete %v; want the record's %d with every one of the %d failures, incomplete",
			len(nodes), last.Failed, last.Complete, maxRecordedNodes, wantFailed)
	}
	if !slices.IsSortedFunc(nodes, func(a, b protocol.RunNode) int { return strings.Compare(a.Identity, b.Identity) }) {
		t.Error("the record's nodes are not in identity order")
	}
}

// A runs.nodes request out of bounds is refused naming the field; an unknown run or step is
// not found.
func TestRunNodesRefusesBadRequests(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(everySeventhFails)
	id := e.submit(rpcBook(3), nil)
	e.waitFinal(id, 30*time.Second)
	for _, tc := range []struct {
		name, body, code, want string
	}{
		{"no run", `{"seq":1}`, protocol.CodeBadRequest, "run_id"},
		{"bad run id", `{"run_id":"a.b","seq":1}`, protocol.CodeBadRequest, "run_id"},
		{"no step", `{"run_id":"` + id + `"}`, protocol.CodeBadRequest, "seq"},
		{"bad outcome", `{"run_id":"` + id + `","seq":1,"outcome":"broken"}`, protocol.CodeBadRequest, "outcome"},
		{"limit too big", `{"run_id":"` + id + `","seq":1,"limit":1001}`, protocol.CodeBadRequest, "limit"},
		{"negative offset", `{"run_id":"` + id + `","seq":1,"offset":-1}`, protocol.CodeBadRequest, "offset"},
		{"unknown field", `{"run_id":"` + id + `","seq":1,"limt":10}`, protocol.CodeBadRequest, "limt"},
		{"unknown run", `{"run_id":"nosuchrun","seq":1}`, protocol.CodeNotFound, "nosuchrun"},
		{"unknown step", `{"run_id":"` + id + `","seq":2}`, protocol.CodeNotFound, "seq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp protocol.RunNodesResponse
			err := e.client.call(context.Background(), protocol.RunNodesSubject, json.RawMessage(tc.body), &resp)
			var apiErr *protocol.ErrorResponse
			if !errors.As(err, &apiErr) || apiErr.Code != tc.code || !strings.Contains(apiErr.Message, tc.want) {
				t.Fatalf("got %v, want %s naming %q", err, tc.code, tc.want)
			}
		})
	}
}

// Only who may read a run's playbook reads its nodes: an unsigned caller, an identity the
// policy does not know, a deployer of other playbooks and a forged signature are refused, and
// learn nothing of the nodes.
func TestRunNodesRights(t *testing.T) {
	e := newPolicyEnv(t)
	e.startTestWorker(everySeventhFails)
	web := strings.Replace(rpcBook(20), "name: flow", "name: web-fleet", 1)
	db := strings.Replace(rpcBook(20), "name: flow", "name: db-fleet", 1)
	var ids []string
	for _, doc := range []string{web, db} {
		resp, err := e.submitAs(e.admin, doc)
		if err != nil {
			t.Fatal(err)
		}
		e.waitFinal(resp.RunID, 30*time.Second)
		ids = append(ids, resp.RunID)
	}
	webID, dbID := ids[0], ids[1]
	ctx := context.Background()
	ask := func(c *Client, id string) (*protocol.RunNodesResponse, error) {
		return c.ListRunNodes(ctx, protocol.RunNodesRequest{RunID: id, Seq: 1})
	}
	_, err := ask(e.unsigned, webID)
	forbidden(t, err, "unsigned", "read")
	_, err = ask(e.nobody, webID)
	forbidden(t, err, "is not one of the policy's identities")
	_, err = ask(e.deployer, dbID)
	forbidden(t, err, "deployer", "read", "db-fleet")
	for _, tc := range []struct {
		name string
		c    *Client
		id   string
	}{{"the deployer its own playbook", e.deployer, webID}, {"the viewer any", e.viewer, dbID}} {
		if resp, err := ask(tc.c, tc.id); err != nil || len(resp.Nodes) != 20 || resp.Failed != 3 {
			t.Errorf("%s: %v %+v", tc.name, err, resp)
		}
	}

	body, _ := json.Marshal(protocol.RunNodesRequest{Version: protocol.SubmitVersion, RunID: dbID, Seq: 1})
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	forged := signer(e.keys["deployer"], protocol.RunNodesSubject, ts, body)
	forbidden(t, e.sendSigned(protocol.RunNodesSubject, body, e.viewerKey, ts, forged), "does not verify for key "+e.viewerKey)
	moved := signer(e.keys["viewer"], protocol.GetRunSubject, ts, body)
	forbidden(t, e.sendSigned(protocol.RunNodesSubject, body, e.viewerKey, ts, moved), "does not verify")
	if n := len(findAudit(e.auditRecords(), "read", protocol.DecisionDeny, "")); n != 5 {
		t.Errorf("%d read refusals audited, want 5", n)
	}
}

// seq is the task's number as the report gives it: a node set's discovery, a step of the record
// before the task, is not counted.
func TestRunNodesNumbersTasksAsTheReport(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	e.startCoordinator("c1")
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.Type == protocol.TaskDiscover {
			return protocol.Result{Success: true, Data: []any{"n0001", "n0002", "n0007"}}
		}
		return everySeventhFails(job)
	})
	doc := header + "nodes:\n  web:\n    type: yaml\n    source: fleet.yaml\n    group: web\n" +
		"tasks:\n  - rpc:\n      action: rpcutil.ping\n      nodes: \"{{{ nodes.web }}}\"\n"
	id := e.submit(doc, nil)
	if r := e.waitFinal(id, 30*time.Second); len(r.Tasks) != 1 || r.Tasks[0].Number != 1 {
		t.Fatalf("report tasks %+v", r.Tasks)
	}
	resp, err := e.client.ListRunNodes(context.Background(), protocol.RunNodesRequest{RunID: id, Seq: 1})
	if err != nil || len(resp.Nodes) != 3 || resp.Failed != 1 || resp.Nodes[2].Identity != "n0007" {
		t.Fatalf("task 1's nodes: %v %+v", err, resp)
	}
	_, err = e.client.ListRunNodes(context.Background(), protocol.RunNodesRequest{RunID: id, Seq: 2})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeNotFound {
		t.Fatalf("task 2 of a run of one task: %v", err)
	}
}

// A page built skipping the batches whose counts are known is the page built reading them all,
// whatever the offset, limit and outcome, and wherever the page ends against batch ends.
func TestRunNodesSkippedBatchesChangeNothing(t *testing.T) {
	// Batches of 4, 1, 0 (all failed before any node... here: empty), 6 and 3 nodes.
	var batches [][]protocol.NodeResult
	var ids [][]string
	k := 0
	for _, size := range []int{4, 1, 0, 6, 3} {
		var b []protocol.NodeResult
		var names []string
		for range size {
			b = append(b, protocol.NodeResult{Success: k%3 != 0, Msg: strconv.Itoa(k)})
			names = append(names, fmt.Sprintf("n%04d", k))
			k++
		}
		batches, ids = append(batches, b), append(ids, names)
	}
	page := func(req protocol.RunNodesRequest, limit int, known bool) *protocol.RunNodesResponse {
		p := &nodePage{req: req, limit: limit, budget: 1 << 20}
		for i, b := range batches {
			n := batchCount{}
			for _, nr := range b {
				if nr.Success {
					n.ok++
				} else {
					n.failed++
				}
			}
			if known && p.skips(n) {
				continue
			}
			for j, nr := range b {
				p.add(ids[i][j], nr)
			}
		}
		return p.response(true)
	}
	for _, outcome := range []string{"", protocol.OutcomeOK, protocol.OutcomeFailed} {
		for _, limit := range []int{1, 2, 3, 4, 5, 7, 100} {
			for offset := range k + 2 {
				req := protocol.RunNodesRequest{Outcome: outcome, Offset: offset}
				want, _ := json.Marshal(page(req, limit, false))
				got, _ := json.Marshal(page(req, limit, true))
				if string(got) != string(want) {
					t.Fatalf("outcome %q limit %d offset %d: skipping gives %s, reading all %s", outcome, limit, offset, got, want)
				}
			}
		}
	}
}
