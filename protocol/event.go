package protocol

import "time"

// EventVersion is the version of Event.
const EventVersion = 1

// EventType says what an Event reports.
type EventType string

// Event types.
const (
	// EventRunStarted: a coordinator started (or took over) driving the run.
	EventRunStarted EventType = "run_started"
	// EventTaskStarted: a task attempt was dispatched.
	EventTaskStarted EventType = "task_started"
	// EventTaskFinished: a task finished, after all its tries.
	EventTaskFinished EventType = "task_finished"
	// EventTaskRetry: a task attempt failed and another will follow.
	EventTaskRetry EventType = "task_retry"
	// EventTaskProgress: a batch of a fanned-out task finished; the counts cover the attempt so far.
	EventTaskProgress EventType = "task_progress"
	// EventLog: a log line of the run.
	EventLog EventType = "log"
	// EventRunFinished: the run reached a final status; it is the last event of a run.
	EventRunFinished EventType = "run_finished"
)

// Event is one entry of a run's event stream.
type Event struct {
	Version int       `json:"version"`
	Type    EventType `json:"type"`
	RunID   string    `json:"run_id"`
	Time    time.Time `json:"time"`
	// Step, List, TaskType and Description identify the task of a task event.
	Step        int    `json:"step,omitempty"`
	Attempt     int    `json:"attempt,omitempty"`
	List        string `json:"list,omitempty"`
	TaskType    string `json:"task_type,omitempty"`
	Description string `json:"description,omitempty"`
	Success     bool   `json:"success,omitempty"`
	Msg         string `json:"msg,omitempty"`
	// Duration is the task's or run's wall time.
	Duration time.Duration `json:"duration,omitempty"`
	// NodesOK, NodesFailed and NodesTotal count per-node outcomes on progress events.
	NodesOK     int `json:"nodes_ok,omitempty"`
	NodesFailed int `json:"nodes_failed,omitempty"`
	NodesTotal  int `json:"nodes_total,omitempty"`
	// Status is the run's status on run events (the level, on log events).
	Status RunStatus `json:"status,omitempty"`
	// Coordinator names the coordinator that published the event.
	Coordinator string `json:"coordinator,omitempty"`
}
