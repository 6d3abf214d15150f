package metrics

// Every metric fleetbook exports, by name. docs/operations.md ("Metrics and health") lists them
// with their labels; examples/grafana/fleetbook.json queries them, and its test checks that
// every name it uses is one of these.
const (
	// RunsSubmitted counts runs accepted by the API (a repeated idempotency key is not a new
	// run). Labels: playbook.
	RunsSubmitted = "fleetbook_runs_submitted_total"
	// RunsStarted counts runs a coordinator began driving for the first time (a takeover is not
	// a start). Labels: playbook.
	RunsStarted = "fleetbook_runs_started_total"
	// RunsFinished counts runs whose final status was stored. Labels: playbook, status
	// (success, failed, cancelled).
	RunsFinished = "fleetbook_runs_finished_total"
	// RunDuration is the time from a run's start to its end, in seconds. Labels: status.
	RunDuration = "fleetbook_run_duration_seconds"
	// StepDuration is the time from a step's start to its end, all tries included, in seconds.
	// Labels: type (the task type), outcome (success, failed).
	StepDuration = "fleetbook_step_duration_seconds"
	// StepRetries counts failed tries that were tried again. Labels: type.
	StepRetries = "fleetbook_step_retries_total"

	// JobsQueued is how many jobs wait in a pool's queue, not yet delivered to a worker (the
	// pool consumer's pending count, read when scraped). Labels: pool.
	JobsQueued = "fleetbook_jobs_queued"
	// JobsInFlight is how many jobs of a pool were delivered to a worker and not yet
	// acknowledged (the pool consumer's ack-pending count, read when scraped). Labels: pool.
	JobsInFlight = "fleetbook_jobs_in_flight"
	// WorkerJobsRunning is how many jobs this worker process runs now. Labels: pool.
	WorkerJobsRunning = "fleetbook_worker_jobs_running"
	// WorkerJobs counts the jobs this worker ran to their end and published the result of (a job
	// stopped because its run was cancelled is not counted). Labels: pool, type, outcome.
	WorkerJobs = "fleetbook_worker_jobs_total"

	// NodeReplies counts the outcome for each node of an rpc fan-out. Labels: outcome (ok;
	// failed: the node answered with a failure or the assertion did not hold; no_reply: no
	// answer within the timeout; no_agent: nothing listens for the node; invalid: the reply or
	// the identity was unusable).
	NodeReplies = "fleetbook_node_replies_total"
	// RPCLatency is the time from sending a node its request to its reply, in seconds, for the
	// nodes that replied.
	RPCLatency = "fleetbook_rpc_latency_seconds"

	// ScheduleSlots counts schedule slots decided and stored. Labels: outcome (fired, skipped,
	// missed, refused).
	ScheduleSlots = "fleetbook_schedule_slots_total"

	// LockWaits counts the waits for playbook locks. Labels: outcome (acquired, failed).
	LockWaits = "fleetbook_lock_waits_total"
	// LockWait is how long a run waited for a playbook lock, in seconds.
	LockWait = "fleetbook_lock_wait_seconds"

	// Coordinators is how many coordinators answer the API service's ping (read when scraped).
	Coordinators = "fleetbook_coordinators"
	// Workers is how many workers answer the worker service's ping, by pool (read when scraped).
	// Labels: pool.
	Workers = "fleetbook_workers"
	// ClusterUp is 1 when the last scrape could read the cluster gauges above, 0 when it could
	// not (no connection, a timeout, a permission refused).
	ClusterUp = "fleetbook_cluster_up"
)
