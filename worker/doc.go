// Package worker pulls step jobs from the JOBS work-queue stream, executes them and publishes
// their results to the RESULTS stream. Workers scale horizontally: every worker of a pool binds to
// the pool's one durable consumer, and the server hands each job to one of them.
//
// This package is the job loop: pulling (worker.go, with jspull), the lease and its heartbeat (heartbeat.go),
// settling a job and publishing its result (job.go), holding a job through its attempt record
// (attempt.go), run cancellation (cancel.go), and secret reveal and scrubbing (secrets.go). The executors of the
// task types are in worker/task, the node sources in worker/discover, process-group execution in
// worker/process and the node agent in worker/agent.
//
// Each of a worker's slots runs one job at a time, and asks for its next one as soon as it takes
// one (worker.go, pullJobs): a job pulled ahead of its slot waits for it at most 20 ms and then
// goes back to the pool, so a job waiting in the stream is available to an idle worker but for
// those milliseconds, and a slot running long jobs holds none. While a job runs its slot sends
// InProgress every third of AckWait.
//
// Invariants:
//
//   - Delivery is at least once. A job is acknowledged only after its Result is stored (published
//     with the job id as Nats-Msg-Id, then acknowledged); anything else leaves it to come back.
//     A lost acknowledgement only brings back a job whose result exists (see the next point).
//   - A job whose Result exists is never run again. Only the holder of a job's attempt record
//     stores its result, so a delivery that creates the record runs the job at once; one that
//     finds the record looks the result up by subject first, and if the previous holder stored it
//     and died before acknowledging, the job is acknowledged without running.
//   - A job runs on one worker at a time: the one holding its attempt record, created with KV
//     Create before anything of the job runs and renewed by every heartbeat. A job delivered
//     again while its holder lives waits for the holder's result, however slow the holder or the
//     server is; it is taken over (compare-and-set, so by one worker) only once the record has
//     stayed unchanged for the takeover wait (3×AckWait, at least 5 s), and the old holder's next
//     renewal fails and stops its copy (attempt.go).
//   - Every job ends in an answer. A job that cannot be decoded, has an unknown type or was
//     started MaxDeliveries times (every worker that ran it died) is answered with a failed
//     Result (when its id is known) and terminated, so no coordinator waits forever and no poison
//     job circulates.
//   - A job runs under a context of its own, ended at the end of the shutdown grace, when its
//     run is cancelled or when another worker took it over; no context is kept in a struct. The executors
//     stop with it (see worker/task); a result publish does not, and keeps trying until
//     publishPatience passes or the grace ends.
//   - Secret values reach a job only as it starts, and never leave the worker: every result is
//     scrubbed of them before it is published.
//
// Shutdown: when Run's context is cancelled the slots stop pulling; running jobs get the shutdown
// grace to finish and are then settled as usual. After the grace, their process groups are killed
// and the jobs are released and Nak'd, so another worker starts them at once.
//
// kill -9 of a worker: each of its commands receives SIGKILL too (Pdeathsig, worker/process), so
// a command does not run on unobserved; processes a command put in the background survive it,
// since nothing is left to kill their group. The jobs the worker held are redelivered after
// AckWait to another worker, which takes them over once their records have been silent for the
// takeover wait and runs them again unless their result was already stored.
// Results are never lost: they are in the stream before the job is acknowledged.
package worker
