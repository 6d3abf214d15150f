package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// progress prints a run's events as they come: each task as it starts and ends, with its
// duration and outcome.
type progress struct {
	w io.Writer
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) event(ev protocol.Event) {
	ts := ev.Time.Local().Format("15:04:05")
	task := fmt.Sprintf("%s %s %q", ev.List, ev.TaskType, ev.Description)
	switch ev.Type {
	case protocol.EventRunStarted:
		fmt.Fprintf(p.w, "%s run %s started (coordinator %s)\n", ts, ev.RunID, ev.Coordinator)
	case protocol.EventTaskStarted:
		try := ""
		if ev.Attempt > 1 {
			try = fmt.Sprintf(" (try %d)", ev.Attempt)
		}
		fmt.Fprintf(p.w, "%s   start %s%s\n", ts, task, try)
	case protocol.EventTaskRetry:
		fmt.Fprintf(p.w, "%s   retry %s: %s\n", ts, task, ev.Msg)
	case protocol.EventTaskFinished:
		fmt.Fprintf(p.w, "%s   %-5s %s in %s: %s\n", ts, outcome(ev.Success), task, round(ev.Duration), ev.Msg)
	case protocol.EventTaskProgress:
		fmt.Fprintf(p.w, "%s   ...   %s: %d/%d nodes answered, %d ok, %d failed\n", ts, task,
			ev.NodesOK+ev.NodesFailed, ev.NodesTotal, ev.NodesOK, ev.NodesFailed)
	case protocol.EventLog:
		fmt.Fprintf(p.w, "%s   log   %s\n", ts, ev.Msg)
	case protocol.EventRunFinished:
		fmt.Fprintf(p.w, "%s run %s %s in %s\n", ts, ev.RunID, ev.Status, round(ev.Duration))
	}
}

func outcome(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// printReport prints a report: one JSON document, or text for people.
func printReport(w io.Writer, r *protocol.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "Run %s: %s %s\n", r.ID, r.Playbook.Name, r.Playbook.Version)
	fmt.Fprintf(w, "Status:  %s\n", r.Status)
	if r.SubmittedBy != (protocol.Identity{}) {
		fmt.Fprintf(w, "Submitted by: %s\n", r.SubmittedBy)
	}
	if r.CancelledBy != (protocol.Identity{}) {
		fmt.Fprintf(w, "Cancelled by: %s\n", r.CancelledBy)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "Error:   %s\n", r.Error)
	}
	if !r.StartedAt.IsZero() {
		fmt.Fprintf(w, "Started: %s\n", r.StartedAt.Local().Format(time.RFC3339))
	}
	if !r.EndedAt.IsZero() {
		fmt.Fprintf(w, "Ended:   %s (%s)\n", r.EndedAt.Local().Format(time.RFC3339), round(r.EndedAt.Sub(r.StartedAt)))
	}
	ok := 0
	for _, t := range r.Tasks {
		if t.Success {
			ok++
		}
	}
	fmt.Fprintf(w, "Tasks:   %d run, %d ok, %d failed\n", len(r.Tasks), ok, len(r.Tasks)-ok)
	for i, t := range r.Tasks {
		fmt.Fprintf(w, "\n%2d. [%s] %s %q: %s, tries %d, %s\n", i+1, t.List, t.Type, t.Description, outcome(t.Success), t.Tries, round(t.EndedAt.Sub(t.StartedAt)))
		fmt.Fprintf(w, "    %s\n", t.Msg)
		if t.Child != "" {
			fmt.Fprintf(w, "    child run: %s\n", t.Child)
		}
		printData(w, t.Data)
		for _, id := range slices.Sorted(maps.Keys(t.Nodes)) {
			nr := t.Nodes[id]
			fmt.Fprintf(w, "    %-5s %s: %s", outcome(nr.Success), id, nr.Msg)
			if nr.Data != nil {
				b, _ := json.Marshal(nr.Data)
				fmt.Fprintf(w, " %s", b)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// printData prints a task's output: text line by line, anything else as compact JSON.
func printData(w io.Writer, data any) {
	switch v := data.(type) {
	case nil:
	case string:
		if strings.TrimSpace(v) == "" {
			return
		}
		for _, line := range strings.Split(strings.TrimRight(v, "\n"), "\n") {
			fmt.Fprintf(w, "    | %s\n", line)
		}
	default:
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "    | %s\n", b)
	}
}
