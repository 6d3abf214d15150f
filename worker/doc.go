// Package worker pulls step jobs from the JOBS work-queue stream, executes them and publishes
// their results to the RESULTS stream. Workers scale horizontally: every worker of a pool binds to
// the pool's one durable consumer, and the server hands each job to one of them.
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
//   - A command never outlives its job. It runs in its own process group, which is killed on
//     timeout, at the end of the shutdown grace, and after the shell exits (background processes
//     included; a process that must survive has to leave the group with setsid).
//
// Shutdown: when Run's context is cancelled the slots stop pulling; running jobs get the shutdown
// grace to finish and are then settled as usual. After the grace, their process groups are killed
// and the jobs are Nak'd so another worker starts them at once.
//
// kill -9 of a worker: each of its shells receives SIGKILL too (Pdeathsig), so a command does not
// run on unobserved; processes a shell put in the background survive it, since nothing is left to
// kill their group. The jobs the worker held are redelivered after AckWait to another worker,
// which runs them again unless their result was already stored. Results are never lost: they are
// in the stream before the job is acknowledged.
package worker
