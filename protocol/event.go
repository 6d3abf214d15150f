package protocol

import (
	"bytes"
	"encoding/json"
	"time"
)

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

// DecodeEvents decodes one message of a run's event subject: one event, or the events a
// coordinator published together, in order (a JSON array). A coordinator gathers the events of
// a run that come within a few milliseconds into one message: each stored message costs the
// server about what a step's work costs it.
func DecodeEvents(data []byte) ([]Event, error) {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		var evs []Event
		if err := json.Unmarshal(data, &evs); err != nil {
			return nil, err
		}
		return evs, nil
	}
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}
