package protocol

import "fmt"

// Job holding (core NATS): before running a job delivered again, a worker asks whether another
// worker still runs it — JetStream redelivers a job whose holder is alive when, for example, the
// jobs consumer moves to another server of a cluster. The holder answers; nobody answering means
// the holder is gone.
const (
	// HeldSubjectPattern is the printf pattern of the subject asking who holds a job: the job id
	// (JobID.String(), one token).
	HeldSubjectPattern = "fleetbook.held.%s"
	// HeldSubjectWildcard matches every such question.
	HeldSubjectWildcard = "fleetbook.held.*"
)

// HeldSubject is the subject asking who holds job id.
func HeldSubject(id JobID) string { return fmt.Sprintf(HeldSubjectPattern, id.String()) }
