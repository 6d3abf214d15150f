package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// visible renders s for a terminal so that it can only be read, never obeyed: control
// characters (C0 but tab, DEL, C1) become \xHH or \uHHHH, newlines and carriage returns \n and
// \r (one field never spans or rewrites lines), invalid UTF-8 bytes \xHH, and bidirectional
// controls and line separators \uHHHH. Everything printed for people goes through it (progress,
// reports, run lists, errors): node replies, command output and messages come from machines, not
// from validation. JSON output does not: encoding/json escapes what JSON must.
func visible(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 && r != '\t' || r >= 0x7f && needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteByte('\t')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape reports whether a rune from U+007F up must not reach a terminal raw.
func needsEscape(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || r == 0x2028 || r == 0x2029 || playbooks.IsBidiControl(r)
}

// visibleLines is visible for text that may span lines: each line is rendered on its own.
func visibleLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = visible(l)
	}
	return strings.Join(lines, "\n")
}

// progress prints a run's events as they come: each task as it starts and ends, with its
// duration and outcome.
type progress struct {
	w io.Writer
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) event(ev protocol.Event) {
	ts := ev.Time.Local().Format("15:04:05")
	task := fmt.Sprintf("%s %s %q", visible(ev.List), visible(ev.TaskType), ev.Description) // %q escapes what it must
	switch ev.Type {
	case protocol.EventRunStarted:
		fmt.Fprintf(p.w, "%s run %s started (coordinator %s)\n", ts, visible(ev.RunID), visible(ev.Coordinator))
	case protocol.EventTaskStarted:
		try := ""
		if ev.Attempt > 1 {
			try = fmt.Sprintf(" (try %d)", ev.Attempt)
		}
		fmt.Fprintf(p.w, "%s   start %s%s\n", ts, task, try)
	case protocol.EventTaskRetry:
		fmt.Fprintf(p.w, "%s   retry %s: %s\n", ts, task, visible(ev.Msg))
	case protocol.EventTaskFinished:
		fmt.Fprintf(p.w, "%s   %-5s %s in %s: %s\n", ts, outcome(ev.Success), task, round(ev.Duration), visible(ev.Msg))
	case protocol.EventTaskProgress:
		fmt.Fprintf(p.w, "%s   ...   %s: %d/%d nodes answered, %d ok, %d failed\n", ts, task,
			ev.NodesOK+ev.NodesFailed, ev.NodesTotal, ev.NodesOK, ev.NodesFailed)
	case protocol.EventLog:
		fmt.Fprintf(p.w, "%s   log   %s\n", ts, visible(ev.Msg))
	case protocol.EventRunFinished:
		fmt.Fprintf(p.w, "%s run %s %s in %s\n", ts, visible(ev.RunID), visible(string(ev.Status)), round(ev.Duration))
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
	fmt.Fprintf(w, "Run %s: %s %s\n", visible(r.ID), visible(r.Playbook.Name), visible(r.Playbook.Version))
	fmt.Fprintf(w, "Status:  %s\n", visible(string(r.Status)))
	if r.SubmittedBy != (protocol.Identity{}) {
		fmt.Fprintf(w, "Submitted by: %s\n", visible(r.SubmittedBy.String()))
	}
	if r.CancelledBy != (protocol.Identity{}) {
		fmt.Fprintf(w, "Cancelled by: %s\n", visible(r.CancelledBy.String()))
	}
	if r.Error != "" {
		fmt.Fprintf(w, "Error:   %s\n", visible(r.Error))
	}
	if r.Schedule != "" {
		fmt.Fprintf(w, "Schedule: %s, slot %s\n", visible(r.Schedule), r.ScheduledFor.Local().Format(time.RFC3339))
	}
	if r.Parent != "" {
		fmt.Fprintf(w, "Parent:  %s\n", visible(r.Parent))
	}
	if !r.StartedAt.IsZero() {
		fmt.Fprintf(w, "Started: %s\n", r.StartedAt.Local().Format(time.RFC3339))
	}
	if !r.EndedAt.IsZero() {
		fmt.Fprintf(w, "Ended:   %s (%s)\n", r.EndedAt.Local().Format(time.RFC3339), round(r.EndedAt.Sub(r.StartedAt)))
	} else if !r.StartedAt.IsZero() {
		fmt.Fprintf(w, "Running: for %s\n", round(time.Since(r.StartedAt)))
	}
	if len(r.Inputs) > 0 {
		fmt.Fprintln(w, "Inputs:")
		for _, k := range slices.Sorted(maps.Keys(r.Inputs)) {
			v, _ := json.Marshal(r.Inputs[k])
			fmt.Fprintf(w, "  %s = %s\n", visible(k), visible(string(v)))
		}
	}
	counts := map[protocol.StepState]int{}
	for _, t := range r.Tasks {
		counts[t.State]++
	}
	fmt.Fprintf(w, "Tasks:   %d", len(r.Tasks))
	for _, st := range []protocol.StepState{protocol.StepSuccess, protocol.StepFailed, protocol.StepCancelled, protocol.StepRunning, protocol.StepRetrying, protocol.StepPending} {
		if counts[st] > 0 {
			fmt.Fprintf(w, ", %d %s", counts[st], st)
		}
	}
	fmt.Fprintln(w)
	for i, t := range r.Tasks {
		n := t.Number
		if n == 0 {
			n = i + 1
		}
		fmt.Fprintf(w, "\n%2d. [%s] %s %q: %s, tries %d, %s\n", n, visible(t.List), visible(t.Type), t.Description, stateWord(t), t.Tries, taskDuration(t))
		if t.Msg != "" {
			fmt.Fprintf(w, "    %s\n", visible(t.Msg))
		}
		if t.Child != "" {
			fmt.Fprintf(w, "    child run: %s\n", visible(t.Child))
		}
		printData(w, t.Data)
		for _, id := range slices.Sorted(maps.Keys(t.Nodes)) {
			nr := t.Nodes[id]
			fmt.Fprintf(w, "    %-5s %s: %s", outcome(nr.Success), visible(id), visible(nr.Msg))
			if nr.Data != nil {
				b, _ := json.Marshal(nr.Data)
				fmt.Fprintf(w, " %s", visible(string(b)))
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// stateWord is a task's state as the text report shows it: ok and FAIL for the ends people
// scan for, the state's own name otherwise.
func stateWord(t protocol.TaskReport) string {
	switch t.State {
	case protocol.StepSuccess:
		return "ok"
	case protocol.StepFailed:
		return "FAIL"
	case "":
		return outcome(t.Success) // a report from a coordinator that sends no state
	}
	return string(t.State)
}

// taskDuration is how long a task took, or, while it runs, how long it has been running; never
// the difference with a zero time.
func taskDuration(t protocol.TaskReport) string {
	switch {
	case t.StartedAt.IsZero():
		return "not started"
	case t.EndedAt.IsZero():
		return "running for " + round(time.Since(t.StartedAt)).String()
	}
	return round(t.EndedAt.Sub(t.StartedAt)).String()
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
			fmt.Fprintf(w, "    | %s\n", visible(line))
		}
	default:
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "    | %s\n", visible(string(b)))
	}
}
