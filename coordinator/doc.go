// Package coordinator accepts playbook runs and drives them to completion.
//
// A coordinator serves the fleetbook API (a NATS micro service; every coordinator joins the same
// queue group) and pulls run messages from the RUNS work-queue stream. Holding a run message is
// holding the run: the coordinator sends in-progress heartbeats on it for as long as it drives the
// run and acknowledges it when the run ends. If the coordinator dies the message is redelivered
// after the lease (the consumer's AckWait) and another coordinator takes the run over.
//
// Invariants:
//
//   - The run record in KV is the truth. Every change is a compare-and-set on its revision, and
//     the record names its owner and an epoch that grows with every takeover: a coordinator that
//     lost its run (paused past its lease, say) fails its next write, sees it no longer owns the
//     run, and stops without touching the run message.
//   - Driving is replay. The task lists are walked by plain sequential code; a step already
//     recorded as done returns its recorded result instead of running again, so a coordinator
//     taking over re-walks the playbook from the top and continues where the record ends.
//   - A step attempt is recorded (with its rendered job) before its job is published, and the
//     job's Nats-Msg-Id and subject are derived from run, step, attempt and batch. On takeover an
//     attempt in flight is looked up, job stream first and result stream second, and published
//     again only if neither holds it: so a job is never run twice because of a coordinator crash.
//   - A result is applied once: only the result of the attempt in flight moves the step on.
//   - Writes are coalesced where the streams already hold the truth: the claim and the end of a
//     step whose result a worker published are staged and stored with the next write (record.go).
package coordinator
