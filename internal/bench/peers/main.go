// Command peers measures a peer of fleetbook on the same kind of embedded server as `fleetbook
// bench`, and prints its results in the shape of `fleetbook bench --json`: today
// choria-io/asyncjobs, no-op tasks in a closed loop.
//
// It is a Go module of its own so that fleetbook's go.mod never depends on a peer (asyncjobs
// v0.1.2 wants an old nats.go and nats-server). compare.sh alternates it with `fleetbook bench`.
//
//	go run . -tasks 5000 -inflight 100
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	aj "github.com/choria-io/asyncjobs"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/internal/bench/peers/report"
)

// taskTimeout bounds the wait for one task: a peer that hangs fails instead.
const taskTimeout = time.Minute

func main() {
	var (
		tasks       = flag.Int("tasks", 5000, "no-op tasks to complete")
		inflight    = flag.Int("inflight", 100, "tasks enqueued and not yet completed, at most (a closed loop per slot)")
		concurrency = flag.Int("concurrency", 0, "asyncjobs client concurrency (task handlers at once); 0 is asyncjobs' default (10)")
		storage     = flag.String("storage", "file", "server storage: file (like fleetbook bench) or memory")
	)
	flag.Parse()
	if *tasks <= 0 || *inflight <= 0 || *concurrency < 0 {
		fail(errors.New("-tasks and -inflight must be positive, -concurrency not negative"))
	}
	if *storage != "file" && *storage != "memory" {
		fail(fmt.Errorf("-storage must be file or memory, got %q", *storage))
	}
	res, note, err := asyncjobsTasks(*tasks, *inflight, *concurrency, *storage == "memory")
	if err != nil {
		fail(err)
	}
	fmt.Fprintln(os.Stderr, "note:", note)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(report.Report{Benchmarks: []report.Result{res}}); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peers:", err)
	os.Exit(1)
}

// startServer starts an embedded JetStream server the way fleetbook bench does: file storage
// in a new temporary directory, no listener, in-process connections.
func startServer() (*server.Server, func(), error) {
	dir, err := os.MkdirTemp("", "fleetbook-peer-")
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "fleetbook-peer", JetStream: true, StoreDir: dir, DontListen: true, NoLog: true, NoSigs: true,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		_ = os.RemoveAll(dir)
		return nil, nil, errors.New("embedded server not ready within 30 s")
	}
	return srv, func() { srv.Shutdown(); srv.WaitForShutdown(); _ = os.RemoveAll(dir) }, nil
}

// asyncjobsTasks completes n no-op asyncjobs tasks, inflight at a time: each slot enqueues a
// task and waits for its "complete" state event (published once the task's state is stored,
// just before its work item is acked) before it enqueues the next. The rate is tasks completed
// per second of the whole loop.
func asyncjobsTasks(n, inflight, concurrency int, memory bool) (report.Result, string, error) {
	srv, stop, err := startServer()
	if err != nil {
		return report.Result{}, "", err
	}
	defer stop()
	connect := func(name string) (*nats.Conn, error) {
		// asyncjobs v0.1.2 refuses a connection with the new request style.
		return nats.Connect("", nats.InProcessServer(srv), nats.Name(name), nats.UseOldRequestStyle())
	}
	nc, err := connect("asyncjobs peer")
	if err != nil {
		return report.Result{}, "", err
	}
	defer nc.Close()

	waiting := &waiters{ch: map[string]chan struct{}{}}
	evsub, err := nc.Subscribe(fmt.Sprintf(aj.TaskStateChangeEventSubjectPattern, "*"), waiting.event)
	if err != nil {
		return report.Result{}, "", err
	}
	defer func() { _ = evsub.Unsubscribe() }()

	opts := []aj.ClientOpt{aj.NatsConn(nc), aj.CustomLogger(quiet{})}
	if memory {
		opts = append(opts, aj.MemoryStorage())
	}
	if concurrency > 0 {
		opts = append(opts, aj.ClientConcurrency(concurrency))
	}
	client, err := aj.NewClient(opts...)
	if err != nil {
		return report.Result{}, "", fmt.Errorf("asyncjobs client: %w", err)
	}
	router := aj.NewTaskRouter()
	if err := router.HandleFunc("noop", func(context.Context, aj.Logger, *aj.Task) (any, error) { return nil, nil }); err != nil {
		return report.Result{}, "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- client.Run(ctx, router) }()

	var started atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	begin := time.Now()
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for started.Add(1) <= int64(n) {
				if err := oneTask(ctx, client, waiting); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if err, _ := firstErr.Load().(error); err != nil {
		return report.Result{}, "", err
	}
	cancel()
	<-ran
	storage := "file"
	if memory {
		storage = "memory"
	}
	note := fmt.Sprintf("asyncjobs v0.1.2: %d no-op tasks, %d in flight, client concurrency %s, %s storage, in %s",
		n, inflight, orDefault(concurrency), storage, elapsed.Round(time.Millisecond))
	return report.Result{Name: "steps_per_second", Value: float64(n) / elapsed.Seconds(), Unit: "tasks/s"}, note, nil
}

func orDefault(c int) string {
	if c == 0 {
		return "default (10)"
	}
	return fmt.Sprint(c)
}

// oneTask enqueues a no-op task and waits until it is complete.
func oneTask(ctx context.Context, client *aj.Client, w *waiters) error {
	task, err := aj.NewTask("noop", nil)
	if err != nil {
		return err
	}
	done := w.add(task.ID)
	if err := client.EnqueueTask(ctx, task); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(taskTimeout):
		return fmt.Errorf("task %s not complete within %s", task.ID, taskTimeout)
	}
}

// waiters are the tasks waited for, each closed when its "complete" state event arrives.
type waiters struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (w *waiters) add(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := make(chan struct{})
	w.ch[id] = c
	return c
}

// event takes a task state change event: a task that completed is no longer waited for.
func (w *waiters) event(m *nats.Msg) {
	var ev aj.TaskStateChangeEvent
	if json.Unmarshal(m.Data, &ev) != nil || ev.State != aj.TaskStateCompleted {
		return
	}
	w.mu.Lock()
	c, ok := w.ch[ev.TaskID]
	delete(w.ch, ev.TaskID)
	w.mu.Unlock()
	if ok {
		close(c)
	}
}

// quiet is an asyncjobs logger that prints warnings and errors only, and not the pollers'
// "context canceled" of the peer's own shutdown.
type quiet struct{}

func (quiet) Debugf(string, ...any)             {}
func (quiet) Infof(string, ...any)              {}
func (quiet) Warnf(format string, args ...any)  { say(format, args...) }
func (quiet) Errorf(format string, args ...any) { say(format, args...) }

func say(format string, args ...any) {
	if msg := strings.TrimSpace(fmt.Sprintf(format, args...)); !strings.Contains(msg, context.Canceled.Error()) {
		fmt.Fprintln(os.Stderr, "asyncjobs:", msg)
	}
}
