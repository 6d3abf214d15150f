package protocol

import "time"

// Task and job types a worker executes, beyond TaskShell. A job carries its rendered task in
// Properties unless the type has a typed spec (Shell, Store, Discover, RPC).
const (
	// TaskWebhook calls an HTTP endpoint (GET or POST).
	TaskWebhook = "webhook"
	// TaskSlack posts a chat message (chat.postMessage).
	TaskSlack = "slack"
	// TaskGraphiteEvent posts an event to Graphite.
	TaskGraphiteEvent = "graphite_event"
	// TaskData reads, writes or deletes a key of a data store; the job's Store names the store.
	TaskData = "data"
	// TaskRPC sends one agent action to one batch of nodes (Job.Targets) and collects the replies.
	TaskRPC = "rpc"
	// TaskDiscover resolves a node set (Job.Discover) into node identities: Result.Data is a
	// []string.
	TaskDiscover = "discover"
	// TaskNoop succeeds at once on a worker, with Properties["msg"] as its message.
	TaskNoop = "noop"
	// TaskPluginPrefix is not a type: plugin task types are any other name that a worker finds
	// in its plugin directory.
)

// StoreSpec declares a data store, as the playbook's data_stores entry gives it, rendered.
type StoreSpec struct {
	// Name is the store's name in the playbook.
	Name string `json:"name"`
	// Type is kv, memory, environment, file, shell, etcd or consul.
	Type string `json:"type"`
	// Properties are the type's own keys (bucket, file, command, url, prefix, ...).
	Properties map[string]any `json:"properties,omitempty"`
}

// DataOp is a data task's operation on one key of a store.
type DataOp struct {
	// Action is read, write or delete.
	Action string `json:"action"`
	Key    string `json:"key"`
	// Value is written by write.
	Value any `json:"value,omitempty"`
}

// DiscoverSpec is a node set to resolve, rendered.
type DiscoverSpec struct {
	// Name is the node set's name in the playbook.
	Name string `json:"name"`
	// Type is the node set's type: fleet (alias mcollective), yaml, shell, terraform, pql, or
	// one of the sources of truth consul, etcd, data and http (playbooks.Nodes*).
	Type string `json:"type"`
	// Properties are the type's own keys (source, group, script, query, identities, facts, ...).
	Properties map[string]any `json:"properties,omitempty"`
	// Test asks for the discovered nodes to be pinged; those that do not answer fail discovery.
	Test bool `json:"test,omitempty"`
	// Uses maps agent names to the SemVer ranges every discovered node must satisfy.
	Uses map[string]string `json:"uses,omitempty"`
	// Limit, when positive, keeps only the first Limit nodes before Test and Uses are checked, so
	// nodes that limit drops are neither pinged nor audited.
	Limit int `json:"limit,omitempty"`
}

// RPCSpec is a rendered rpc task, for one batch of targets.
type RPCSpec struct {
	Agent  string `json:"agent"`
	Action string `json:"action"`
	// Properties are the action's input arguments.
	Properties map[string]any `json:"properties,omitempty"`
	// Timeout bounds the wait for replies; a node that has not answered by then failed.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Assert is evaluated against each reply's data; a reply that does not satisfy it failed.
	Assert string `json:"assert,omitempty"`
}

// NodeInfo is a node agent's registration, stored in NodesBucket under its identity and
// refreshed while the agent lives (the bucket's TTL expires dead nodes).
type NodeInfo struct {
	Version  int            `json:"version"`
	Identity string         `json:"identity"`
	Facts    map[string]any `json:"facts,omitempty"`
	Classes  []string       `json:"classes,omitempty"`
	Agents   []AgentInfo    `json:"agents,omitempty"`
	// Seen is when the agent last refreshed its registration.
	Seen time.Time `json:"seen"`
	// Registered is when the agent serving the node first registered it (since it started).
	Registered time.Time `json:"registered,omitzero"`
}

// ListNodesRequest asks for a page of the node registry, the most recently seen first.
type ListNodesRequest struct {
	Version int `json:"version"`
	// Limit caps the nodes returned (0: the server's default); Offset skips that many first.
	Limit  int `json:"limit,omitempty"`
	Offset int `json:"offset,omitempty"`
	// Search, when set, keeps only the nodes whose identity contains it.
	Search string `json:"search,omitempty"`
}

// NodeSummary is one node of a ListNodesResponse: its registration without the facts'
// values, which are the node's own business and can be large.
type NodeSummary struct {
	Identity string      `json:"identity"`
	Agents   []AgentInfo `json:"agents"`
	// Facts is how many facts the node has; FactNames are their names, sorted.
	Facts     int      `json:"facts"`
	FactNames []string `json:"fact_names,omitempty"`
	Classes   []string `json:"classes,omitempty"`
	// Seen is when the node's agent last refreshed its registration; Registered when it first
	// registered the node (since it started; absent for an agent older than this field).
	Seen       time.Time `json:"seen"`
	Registered time.Time `json:"registered,omitzero"`
}

// ListNodesResponse answers a ListNodesRequest.
type ListNodesResponse struct {
	Version int           `json:"version"`
	Nodes   []NodeSummary `json:"nodes"`
	// Total is the number of nodes that match the request's Search.
	Total int `json:"total"`
	// NextOffset, when not 0, is the Offset of the next page.
	NextOffset int `json:"next_offset,omitempty"`
}

// AgentInfo names an agent a node runs.
type AgentInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// RPCRequest asks one node's agent to perform an action. Agents remember recent request ids, so
// a repeated request returns the first reply instead of acting twice.
type RPCRequest struct {
	Version int `json:"version"`
	// RequestID is deterministic for a job's node (run/step/attempt/batch/identity) so a
	// redelivered batch does not act twice.
	RequestID string         `json:"request_id"`
	Agent     string         `json:"agent"`
	Action    string         `json:"action"`
	Data      map[string]any `json:"data,omitempty"`
	// Caller names who asked (the run id), for the agent's logs.
	Caller string `json:"caller,omitempty"`
	// Grant is the coordinator's signed authorisation of the job this request belongs to,
	// forwarded unchanged by the worker; Proof shows the receiving node is among its targets. An
	// agent with trusted signers refuses a request without them (see package trust).
	Grant *Grant       `json:"grant,omitempty"`
	Proof *TargetProof `json:"proof,omitempty"`
}

// RPCReply is a node's answer to an RPCRequest.
type RPCReply struct {
	Version   int    `json:"version"`
	RequestID string `json:"request_id"`
	Identity  string `json:"identity"`
	Success   bool   `json:"success"`
	Msg       string `json:"msg,omitempty"`
	Data      any    `json:"data,omitempty"`
}
