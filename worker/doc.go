// Package worker pulls step jobs from the JOBS work-queue stream, executes them and publishes
// their results to the RESULTS stream. Workers scale horizontally: every worker of a pool binds to
// the pool's one durable consumer, and the server hands each job to one of them.
//
// This package is the job loop: pulling (worker.go), the lease and its heartbeat (heartbeat.go),
// settling a job and publishing its result (job.go), answering for held jobs (held.go), run
// cancellation (cancel.go), and secret reveal and scrubbing (secrets.go). The executors of the
// task types are in worker/task, the node sources in worker/discover, process-group execution in
// worker/process and the node agent in worker/agent.
//
// Each of a worker's slots pulls one job at a time (no client-side prefetch), so a job waiting in
// the stream is always available to an idle worker, and a worker never holds a job it is not
// running. While a job runs its slot sends InProgress every third of AckWait.
//
// Invariants:
//
//   - Delivery is at least once. A job is acknowledged only after its Result is stored (published
//     with the job id as Nats-Msg-Id, then acknowledged); anything else leaves it to come back.
//     A lost acknowledgement only brings back a job whose result exists (see the next point).
//   - A job whose Result exists is never run again. Before running a job the worker looks its
//     result up by subject; if the previous holder stored it and died before acknowledging, the
//     job is acknowledged without running. Two workers can still run one job concurrently if the
//     first stops heartbeating (paused past AckWait) and resumes: the duplicate result is dropped
//     by the Nats-Msg-Id window and the coordinator applies a result once.
//   - Every job ends in an answer. A job that cannot be decoded, has an unknown type or was
//     delivered more than MaxDeliveries times is answered with a failed Result (when its id is
//     known) and terminated, so no coordinator waits forever and no poison job circulates.
//   - A job runs under a context of its own, ended at the end of the shutdown grace, when its
//     run is cancelled or when its lease is lost; no context is kept in a struct. The executors
//     stop with it (see worker/task); a result publish does not, and keeps trying until
//     publishPatience passes or the grace ends.
//   - Secret values reach a job only as it starts, and never leave the worker: every result is
//     scrubbed of them before it is published.
//
// Shutdown: when Run's context is cancelled the slots stop pulling; running jobs get the shutdown
// grace to finish and are then settled as usual. After the grace, their process groups are killed
// and the jobs are Nak'd so another worker starts them at once.
//
// kill -9 of a worker: each of its commands receives SIGKILL too (Pdeathsig, worker/process), so
// a command does not run on unobserved; processes a command put in the background survive it,
// since nothing is left to kill their group. The jobs the worker held are redelivered after
// AckWait to another worker, which runs them again unless their result was already stored.
// Results are never lost: they are in the stream before the job is acknowledged.
package worker
