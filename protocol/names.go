package protocol

import (
	"fmt"
	"strings"
)

// Streams.
const (
	// RunsStreamName is the work-queue stream that holds one run message per accepted run. The
	// coordinator driving a run holds that message (in-progress heartbeats) until the run ends; if
	// the coordinator dies the message is redelivered and another coordinator takes the run over.
	RunsStreamName = "FLEETBOOK_RUNS"
	// RunsSubjectPattern is the printf pattern of a run message subject: run id.
	RunsSubjectPattern = "fleetbook.runs.%s"
	// RunsSubjectWildcard matches every run message.
	RunsSubjectWildcard = "fleetbook.runs.>"
	// RunsConsumerName is the durable consumer shared by every coordinator.
	RunsConsumerName = "coordinators"

	// JobsStreamName is the work-queue stream of step jobs waiting for, or held by, a worker.
	JobsStreamName = "FLEETBOOK_JOBS"
	// JobsSubjectPattern is the printf pattern of a job subject: pool, run id, step sequence,
	// attempt, batch.
	JobsSubjectPattern = "fleetbook.jobs.%s.%s.%d.%d.%d"
	// JobsSubjectWildcard matches every job of every pool.
	JobsSubjectWildcard = "fleetbook.jobs.>"
	// JobsPoolWildcardPattern is the printf pattern matching every job of one pool: pool.
	JobsPoolWildcardPattern = "fleetbook.jobs.%s.>"
	// JobsConsumerPattern is the printf pattern of the durable consumer shared by the workers of one
	// pool: pool.
	JobsConsumerPattern = "workers_%s"
	// DefaultPool is the worker pool jobs go to when a task names none.
	DefaultPool = "default"

	// ResultsStreamName is the stream of job results. Results are kept (limits retention) so that a
	// coordinator taking a run over can find every result published while nobody was listening;
	// they are purged when the run ends.
	ResultsStreamName = "FLEETBOOK_RESULTS"
	// ResultsSubjectPattern is the printf pattern of a result subject: run id, step sequence,
	// attempt, batch. It mirrors the job subject so a job's result is found by subject.
	ResultsSubjectPattern = "fleetbook.results.%s.%d.%d.%d"
	// ResultsRunWildcardPattern is the printf pattern matching every result of one run: run id.
	ResultsRunWildcardPattern = "fleetbook.results.%s.>"
	// ResultsSubjectWildcard matches every result.
	ResultsSubjectWildcard = "fleetbook.results.>"

	// EventsStreamName is the stream of run events: the live progress of a run and, afterwards, its
	// execution log.
	EventsStreamName = "FLEETBOOK_EVENTS"
	// EventsSubjectPattern is the printf pattern of a run's event subject: run id.
	EventsSubjectPattern = "fleetbook.events.%s"
	// EventsSubjectWildcard matches every event.
	EventsSubjectWildcard = "fleetbook.events.>"

	// AuditStreamName is the stream of audit records: one per submit, cancel and prune the
	// coordinators decided on, and one per refusal (limits retention, kept for a max age).
	AuditStreamName = "FLEETBOOK_AUDIT"
	// AuditSubjectPattern is the printf pattern of an audit record's subject: the action
	// (submit, cancel, prune, read, audit, schedule).
	AuditSubjectPattern = "fleetbook.audit.%s"
	// AuditSubjectWildcard matches every audit record.
	AuditSubjectWildcard = "fleetbook.audit.>"
)

// Key-value buckets.
const (
	// RunsBucket holds one record per run, keyed by run id. Every change is a compare-and-set on
	// the record's revision.
	RunsBucket = "fleetbook_runs"
	// SubmissionsBucket maps an idempotency key (hashed) to the run it created, for as long as the
	// run record lives: a resubmission with the same key gives the same run, however late it comes.
	SubmissionsBucket = "fleetbook_submissions"
	// NodesBucket is the node registry: one NodeInfo per live node agent, keyed by identity.
	NodesBucket = "fleetbook_nodes"
	// LocksBucket holds playbook locks on the kv store: one key per lock, with a TTL lease.
	LocksBucket = "fleetbook_locks"
	// DataBucket is the default data store (type kv), shared between runs.
	DataBucket = "fleetbook_data"
)

// Cancellation (core NATS): the coordinator driving a cancelled run publishes on the run's cancel
// subject, and workers kill whatever they run for that run.
const (
	// CancelSubjectPattern is the printf pattern of a run's cancel subject: run id.
	CancelSubjectPattern = "fleetbook.cancel.%s"
	// CancelSubjectWildcard matches every run's cancel subject.
	CancelSubjectWildcard = "fleetbook.cancel.*"
	// JobsRunWildcardPattern is the printf pattern matching every job of one run in every pool: run id.
	JobsRunWildcardPattern = "fleetbook.jobs.*.%s.>"
)

// CancelSubject is the subject that tells workers to stop run id's jobs.
func CancelSubject(runID string) string { return fmt.Sprintf(CancelSubjectPattern, runID) }

// Node agents (core NATS request/reply).
const (
	// NodeRPCSubjectPattern is the printf pattern of the subject a node agent answers RPC
	// requests on: identity.
	NodeRPCSubjectPattern = "fleetbook.node.%s.rpc"
)

// NodeRPCSubject is the subject node identity answers RPC requests on.
func NodeRPCSubject(identity string) string { return fmt.Sprintf(NodeRPCSubjectPattern, identity) }

// Service API (a NATS micro service; every coordinator serves it in one queue group).
const (
	// ServiceName is the micro service name coordinators register.
	ServiceName = "fleetbook"
	// WorkerServiceName is the micro service name every worker answers pings for, on
	// $SRV.PING.fleetbook_worker only (no endpoints, no INFO or STATS), so the workers alive can
	// be counted; its reply's metadata names the worker (WorkerMetadataName) and its pool
	// (WorkerMetadataPool).
	WorkerServiceName = "fleetbook_worker"
	// WorkerServiceVersion is the version a worker's ping reply announces: that of its shape
	// (the metadata keys below), not of the build.
	WorkerServiceVersion = "1.0.0"
	// CoordinatorMetadataName is the key of the coordinator's name in the metadata of each of
	// its instances of the ServiceName service.
	CoordinatorMetadataName = "coordinator"
	// WorkerMetadataName and WorkerMetadataPool are the metadata keys of a worker's
	// WorkerServiceName instance: its name and its pool.
	WorkerMetadataName = "worker"
	WorkerMetadataPool = "pool"
	// APIPrefix is the subject prefix of every API endpoint.
	APIPrefix = "fleetbook.api.v1"
	// SubmitSubject accepts a SubmitRequest and answers a SubmitResponse.
	SubmitSubject = APIPrefix + ".runs.submit"
	// GetRunSubject accepts a GetRunRequest and answers a Report.
	GetRunSubject = APIPrefix + ".runs.get"
	// ListRunsSubject accepts a ListRunsRequest and answers a ListRunsResponse.
	ListRunsSubject = APIPrefix + ".runs.list"
	// CancelRunSubject accepts a CancelRunRequest and answers the run's Report.
	CancelRunSubject = APIPrefix + ".runs.cancel"
	// PruneRunsSubject accepts a PruneRunsRequest and answers a PruneRunsResponse.
	PruneRunsSubject = APIPrefix + ".runs.prune"
	// RunNodesSubject accepts a RunNodesRequest and answers a RunNodesResponse: a page of one
	// step's per-node outcomes.
	RunNodesSubject = APIPrefix + ".runs.nodes"
	// ListNodesSubject accepts a ListNodesRequest and answers a ListNodesResponse.
	ListNodesSubject = APIPrefix + ".nodes.list"
	// AuditListSubject accepts an AuditListRequest and answers an AuditListResponse.
	AuditListSubject = APIPrefix + ".audit.list"
)

// Headers.
const (
	// MsgIDHeader is JetStream's de-duplication header.
	MsgIDHeader = "Nats-Msg-Id"
	// ErrorCodeHeader and ErrorHeader are set by the micro framework on an error reply.
	ErrorCodeHeader = "Nats-Service-Error-Code"
	// ErrorHeader carries the error text of an error reply.
	ErrorHeader = "Nats-Service-Error"

	// IdentityKeyHeader carries the public nkey (a user key, "U...") of the caller that signed an
	// API request.
	IdentityKeyHeader = "Fleetbook-Identity"
	// TimestampHeader carries when an API request was signed, RFC 3339 with nanoseconds, UTC.
	TimestampHeader = "Fleetbook-Timestamp"
	// SignatureHeader carries the ed25519 signature of an API request, unpadded base64url, over
	// SignedRequestPayload(subject, reply, timestamp, body).
	SignatureHeader = "Fleetbook-Signature"
	// SessionHeader carries a session grant (see SessionGrant) on an API request a console sends
	// on behalf of the identity that signed in to it.
	SessionHeader = "Fleetbook-Session"
	// RunSummaryHeader carries, on every write of a run record, the record's RunSummary as JSON:
	// a headers-only consumer of the runs bucket reads every run's summary without its record,
	// which is what the runs listing is served from (kvstore.RunIndex).
	RunSummaryHeader = "Fleetbook-Run-Summary"
)

// RunSubject is the subject of run id's run message.
func RunSubject(runID string) string { return fmt.Sprintf(RunsSubjectPattern, runID) }

// JobSubject is the subject of a job in pool.
func JobSubject(pool string, id JobID) string {
	return fmt.Sprintf(JobsSubjectPattern, pool, id.RunID, id.Step, id.Attempt, id.Batch)
}

// ResultSubject is the subject of the result of job id.
func ResultSubject(id JobID) string {
	return fmt.Sprintf(ResultsSubjectPattern, id.RunID, id.Step, id.Attempt, id.Batch)
}

// AuditSubject is the subject of the audit records of action.
func AuditSubject(action string) string { return fmt.Sprintf(AuditSubjectPattern, action) }

// EventSubject is the subject of run id's events.
func EventSubject(runID string) string { return fmt.Sprintf(EventsSubjectPattern, runID) }

// JobsConsumer is the durable consumer name of pool.
func JobsConsumer(pool string) string { return fmt.Sprintf(JobsConsumerPattern, pool) }

// ValidToken reports whether s may be used as one subject token (a run id, a pool name): not empty,
// and free of the characters NATS gives meaning to.
func ValidToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}
