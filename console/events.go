package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// sseKeepAlive is how often an idle live stream sends a comment, so that proxies and the
// browser keep the connection.
const sseKeepAlive = 15 * time.Second

// runFinishedGrace is how long a live stream whose run's report is final waits for the
// run_finished event before it ends without it (a coordinator that could not publish it).
const runFinishedGrace = 10 * time.Second

// discoverList is the list of the steps that resolve node sets: they are not tasks of the
// report, so the live stream leaves them out as the report does.
const discoverList = "discover"

// runStatus is the run's status as the live stream sends it (event "status").
type runStatus struct {
	Status  protocol.RunStatus `json:"status"`
	Error   string             `json:"error,omitempty"`
	Started string             `json:"started,omitempty"`
	Ended   string             `json:"ended,omitempty"`
}

// nodeProgress is the progress of an rpc task (event "progress").
type nodeProgress struct {
	Seq         int `json:"seq"`
	NodesOK     int `json:"nodes_ok"`
	NodesFailed int `json:"nodes_failed"`
	NodesTotal  int `json:"nodes_total"`
}

// logLine is a log line of the run (event "log"). N is its place in the events stream, so a
// page that replays the stream after a reconnect shows each line once.
type logLine struct {
	N     uint64 `json:"n"`
	Time  string `json:"time"`
	Level string `json:"level,omitempty"`
	Msg   string `json:"msg"`
	// Task is the number of the task the line is about, 0 for the run.
	Task int `json:"task,omitempty"`
}

// sse writes server-sent events.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func (s sse) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// runEvents streams the run's progress as server-sent events until it finishes: fed by an
// ordered consumer of the run's subject on the events stream, from its first event. Task events
// become "step" and "progress" events at once; when a task or the run finishes (and the
// consumer has caught up) the report is read once for the outputs and the final states, sent
// as "step" and "status" events. "end" is the last event, after the run finished.
//
// The identity must be able to read the run: the stream starts with a read of the run as it.
func (c *Console) runEvents(w http.ResponseWriter, r *http.Request, s *userSession) {
	id := r.PathValue("id")
	if !protocol.ValidToken(id) {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("%v id: %q is not a run id", ErrBadField, id))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeJSONError(w, http.StatusInternalServerError, "streaming is not supported by this connection")
		return
	}
	select {
	case c.streams <- struct{}{}:
		defer func() { <-c.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		writeJSONError(w, http.StatusServiceUnavailable, fmt.Sprintf("this console serves %d live streams already", cap(c.streams)))
		return
	}
	ctx := r.Context()
	rep, err := c.report(ctx, s, id)
	if err != nil {
		writeJSONError(w, apiStatus(err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := sse{w: w, f: flusher}
	live := &liveRun{out: out, sent: map[int]stepView{}}
	// A finished run's events are replayed too, for its log; a run without events (pruned, or
	// from before events were kept) gets its report at once.
	if rep.Status.Final() {
		if n, err := c.eventCount(ctx, id); err != nil || n == 0 {
			_ = live.report(rep)
			_ = out.send("end", struct{}{})
			return
		}
	}
	if err := c.follow(ctx, s, id, live); err != nil && ctx.Err() == nil {
		c.opts.log.Warn("live stream of a run ended", "run_id", id, "error", err)
	}
}

// report reads run id as the session's identity.
func (c *Console) report(ctx context.Context, s *userSession, id string) (*protocol.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.apiTimeout)
	defer cancel()
	return s.client.Get(ctx, id)
}

// eventCount is how many events of run id the events stream holds.
func (c *Console) eventCount(ctx context.Context, id string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.apiTimeout)
	defer cancel()
	st, err := c.js.Stream(ctx, protocol.EventsStreamName)
	if err != nil {
		return 0, err
	}
	subject := protocol.EventSubject(id)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	return info.State.Subjects[subject], nil
}

// follow feeds live from the run's events until the run finished (sending "end") or ctx ends.
func (c *Console) follow(ctx context.Context, s *userSession, id string, live *liveRun) error {
	cons, err := c.js.OrderedConsumer(ctx, protocol.EventsStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{protocol.EventSubject(id)},
	})
	if err != nil {
		return fmt.Errorf("follow events of run %s: %w", id, err)
	}
	// n numbers an event uniquely in the run's stream (a log line's id in the page): several
	// events may share a message. pending counts what follows it.
	type event struct {
		ev         protocol.Event
		n, pending uint64
	}
	events := make(chan event, 256)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		evs, err := protocol.DecodeEvents(m.Data())
		if err != nil {
			return
		}
		var seq, pending uint64
		if md, err := m.Metadata(); err == nil {
			seq, pending = md.Sequence.Stream, md.NumPending
		}
		for i, ev := range evs {
			select {
			case events <- event{ev, seq*maxEventsPerMessage + uint64(i), pending + uint64(len(evs)-1-i)}:
			case <-ctx.Done():
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("follow events of run %s: %w", id, err)
	}
	defer cc.Stop()
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	dirty := false
	// The stream ends with the run_finished event, the run's last (its coordinator publishes it
	// after every other, once the final status is stored): a report that is final already may
	// still have events on their way, the last task's log line say. finalAt is when the report
	// was first seen final, for a run whose run_finished event was lost.
	var finished bool
	var finalAt time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if !finalAt.IsZero() && time.Since(finalAt) > runFinishedGrace {
				return live.out.send("end", struct{}{})
			}
			if _, err := fmt.Fprint(live.out.w, ": keep-alive\n\n"); err != nil {
				return err
			}
			live.out.f.Flush()
		case e := <-events:
			if err := live.event(e.ev, e.n); err != nil {
				return err
			}
			finished = finished || e.ev.Type == protocol.EventRunFinished
			if e.ev.Type == protocol.EventTaskFinished || e.ev.Type == protocol.EventRunFinished || e.ev.Type == protocol.EventRunStarted {
				dirty = true
			}
			// The report is read once the replay has caught up, not once per past event.
			if !dirty || e.pending > 0 {
				continue
			}
			dirty = false
			rep, err := c.report(ctx, s, id)
			if err != nil {
				return err
			}
			if err := live.report(rep); err != nil {
				return err
			}
			switch {
			case rep.Status.Final() && finished:
				return live.out.send("end", struct{}{})
			case rep.Status.Final() && finalAt.IsZero():
				finalAt = time.Now()
			}
		}
	}
}

// liveRun is one live stream: what it sent, and the task numbers of the events' steps.
type liveRun struct {
	out sse
	// seqs are the steps of the events that are tasks of the report, sorted: a step's number in
	// the report is its place here (the report leaves out discovery, as this does).
	seqs []int
	sent map[int]stepView
}

// number is the report's number of the task the event's step is.
func (l *liveRun) number(seq int) int {
	i, found := slices.BinarySearch(l.seqs, seq)
	if !found {
		l.seqs = slices.Insert(l.seqs, i, seq)
	}
	return i + 1
}

// maxEventsPerMessage bounds the events a coordinator publishes in one message (it sends at most
// 64), to number each event of the stream uniquely.
const maxEventsPerMessage = 1000

// event sends what ev, the event numbered id in the stream, says at once.
func (l *liveRun) event(ev protocol.Event, id uint64) error {
	if ev.Type == protocol.EventLog {
		line := logLine{N: id, Time: when(ev.Time), Level: string(ev.Status), Msg: ev.Msg}
		if ev.Step != 0 && ev.List != discoverList {
			line.Task = l.number(ev.Step)
		}
		return l.out.send("log", line)
	}
	if ev.Step == 0 || ev.List == discoverList {
		if ev.Type == protocol.EventRunStarted {
			return l.out.send("status", runStatus{Status: protocol.StatusRunning, Started: when(ev.Time)})
		}
		return nil
	}
	n := l.number(ev.Step)
	name := ev.Description
	switch ev.Type {
	case protocol.EventTaskStarted:
		return l.step(stepView{Seq: n, Name: name, List: ev.List, Type: ev.TaskType, State: protocol.StepRunning, Tries: ev.Attempt})
	case protocol.EventTaskRetry:
		return l.step(stepView{Seq: n, Name: name, List: ev.List, Type: ev.TaskType, State: protocol.StepRetrying, Tries: ev.Attempt, Msg: ev.Msg})
	case protocol.EventTaskFinished:
		state := protocol.StepFailed
		if ev.Success {
			state = protocol.StepSuccess
		}
		return l.step(stepView{Seq: n, Name: name, List: ev.List, Type: ev.TaskType, State: state, Tries: ev.Attempt,
			Msg: ev.Msg, Duration: roundDuration(ev.Duration).String()})
	case protocol.EventTaskProgress:
		return l.out.send("progress", nodeProgress{Seq: n, NodesOK: ev.NodesOK, NodesFailed: ev.NodesFailed, NodesTotal: ev.NodesTotal})
	}
	return nil
}

// step sends v unless it is what was sent last for its task.
func (l *liveRun) step(v stepView) error {
	if old, ok := l.sent[v.Seq]; ok && old == v {
		return nil
	}
	if v.Name == "" {
		if old, ok := l.sent[v.Seq]; ok {
			v.Name = old.Name
		}
	}
	l.sent[v.Seq] = v
	return l.out.send("step", v)
}

// stepEnded reports whether a task in state st has ended (this try, at least).
func stepEnded(st protocol.StepState) bool {
	switch st {
	case protocol.StepSuccess, protocol.StepFailed, protocol.StepCancelled, protocol.StepSkipped:
		return true
	}
	return false
}

// report sends the tasks of rep that changed, with their outputs, and the run's status. A task
// the events already said ended and the report says is still going is left as the events said:
// the coordinator publishes a task's end before the record that stores it lands (a staged
// write), so a report read right after the event can be older than it; a later report has it.
func (l *liveRun) report(rep *protocol.Report) error {
	for _, t := range rep.Tasks {
		v := stepOf(t)
		if old, ok := l.sent[v.Seq]; ok && stepEnded(old.State) && !stepEnded(v.State) {
			continue
		}
		if err := l.step(v); err != nil {
			return err
		}
	}
	return l.out.send("status", runStatus{Status: rep.Status, Error: rep.Error, Started: when(rep.StartedAt), Ended: when(rep.EndedAt)})
}
