package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// oneShotTimeout bounds one one-shot process: a hang fails the benchmark instead.
const oneShotTimeout = 2 * time.Minute

// oneShot measures a whole one-shot process, `COMMAND run BOOK --embedded --data-dir DIR` of the
// one-step no-op playbook (start, the run, shutdown), n times in a data dir that already exists
// (made by one untimed run first), and returns the median. The baseline is what such a process
// cannot avoid: an embedded JetStream server started on an existing store, one message stored
// and consumed, and the server shut down, in this process, n times.
func oneShot(ctx context.Context, command []string, n int) (Result, string, error) {
	dir, err := os.MkdirTemp("", "fleetbook-bench-oneshot-")
	if err != nil {
		return Result{}, "", err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	book := filepath.Join(dir, "book.yaml")
	if err := os.WriteFile(book, []byte(NoopPlaybook), 0o600); err != nil {
		return Result{}, "", err
	}
	state := filepath.Join(dir, "state")
	once := func() (time.Duration, error) {
		rctx, cancel := context.WithTimeout(ctx, oneShotTimeout)
		defer cancel()
		args := append(append([]string{}, command[1:]...), "run", book, "--embedded", "--data-dir", state)
		cmd := exec.CommandContext(rctx, command[0], args...)
		cmd.Dir = dir
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("one-shot run: %w\n%s", err, out)
		}
		return time.Since(start), nil
	}
	if _, err := once(); err != nil {
		return Result{}, "", err
	}
	var runs []time.Duration
	for range n {
		d, err := once()
		if err != nil {
			return Result{}, "", err
		}
		runs = append(runs, d)
	}
	raw, err := rawOneShot(ctx, filepath.Join(dir, "raw"), n)
	if err != nil {
		return Result{}, "", err
	}
	med, rawMed := percentile(runs, 50), percentile(raw, 50)
	note := fmt.Sprintf("embedded one-shot: `run --embedded` of the one-step no-op playbook, reused data dir, median of %d whole processes %s (fastest %s); raw: embedded server start on a store, one message, shutdown, median %s",
		n, med.Round(time.Millisecond), runs[0].Round(time.Millisecond), rawMed.Round(time.Millisecond))
	return newResult("embedded_one_shot_seconds", "s", med.Seconds(), rawMed.Seconds()), note, nil
}

// rawOneShot times n rounds of: start an embedded server on the store in dir, publish one
// message to a work-queue stream and consume it, stop the server. A first untimed round makes
// the store.
func rawOneShot(ctx context.Context, dir string, n int) ([]time.Duration, error) {
	round := func() (time.Duration, error) {
		start := time.Now()
		env, err := StartEnv(dir, false)
		if err != nil {
			return 0, err
		}
		err = rawOneMessage(ctx, env)
		env.Close()
		return time.Since(start), err
	}
	if _, err := round(); err != nil {
		return nil, fmt.Errorf("raw one-shot: %w", err)
	}
	var out []time.Duration
	for range n {
		d, err := round()
		if err != nil {
			return nil, fmt.Errorf("raw one-shot: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// rawOneMessage stores one message in a work-queue stream and consumes it.
func rawOneMessage(ctx context.Context, env *Env) error {
	const stream, subject = "BENCH_RAW_ONESHOT", "bench.oneshot"
	_, js, err := env.Connect("bench raw one-shot")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	}); err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: payload}); err != nil {
		return err
	}
	msg, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		return err
	}
	return msg.DoubleAck(ctx)
}
