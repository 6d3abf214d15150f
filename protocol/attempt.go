package protocol

import "fmt"

// AttemptsBucket holds one record per job that a worker started, keyed by AttemptKey: the job is
// run only by the worker holding that record (created with KV Create before the job's effect,
// renewed by the holder's heartbeats, taken over only by compare-and-set), so a redelivered job
// never runs beside a live copy of itself. Records are kept as long as their run and pruned with it.
const AttemptsBucket = "fleetbook_attempts"

// AttemptVersion is the version of Attempt records.
const AttemptVersion = 1

// Attempt says which worker runs one job, and how often the job was started.
type Attempt struct {
	Version int `json:"version"`
	// Worker is the name of the worker that holds the job.
	Worker string `json:"worker"`
	// Token is unique per start: a worker that cannot tell whether its own create landed finds
	// its token in the record.
	Token string `json:"token"`
	// Starts counts the workers that started the job: 1, plus one per takeover.
	Starts int `json:"starts"`
	// Released is set by a holder that handed the job back without a result (its shutdown grace
	// ran out, or its result could not be stored): the next worker takes it over at once.
	Released bool `json:"released,omitempty"`
}

// AttemptKey is the key of job id's record: run id, step, attempt and batch as dot-separated
// tokens, so that every record of a run sits under "<run id>.>" and is purged in one request.
func AttemptKey(id JobID) string {
	return fmt.Sprintf("%s.%d.%d.%d", id.RunID, id.Step, id.Attempt, id.Batch)
}

// AttemptsRunWildcardPattern is the printf pattern of the KV subject of every attempt record of
// one run: run id.
const AttemptsRunWildcardPattern = "$KV." + AttemptsBucket + ".%s.>"
