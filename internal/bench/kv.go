package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// sampleRecord is the run record of a finished one-step no-op run: what the coordinator writes
// and reads on every state change of such a run.
func sampleRecord() *protocol.RunRecord {
	now := time.Now().UTC()
	return &protocol.RunRecord{
		Version:        protocol.RunVersion,
		ID:             uuid.NewString(),
		Playbook:       protocol.PlaybookRef{Name: "bench_noop", Version: "1.0.0"},
		Document:       NoopPlaybook,
		IdempotencyKey: uuid.NewString(),
		RequestHash:    "0000000000000000000000000000000000000000000000000000000000000000",
		Status:         protocol.StatusSuccess,
		Owner:          "bench-coordinator",
		Epoch:          1,
		RunMessage:     1,
		CreatedAt:      now,
		StartedAt:      now,
		EndedAt:        now,
		Steps: []protocol.StepRecord{{
			Key: "tasks[0]", Seq: 1, List: "tasks", Type: protocol.TaskShell, Description: "true",
			Attempt: 1, Done: true, Success: true, Msg: "exit 0", StartedAt: now, EndedAt: now,
		}},
	}
}

// runRecordKV alternates compare-and-set updates and reads of one run record through
// kvstore.Runs, serially, and returns the operations done (an update and a read are two).
func runRecordKV(ctx context.Context, e *Env, lim limit) (rate, int, error) {
	_, js, err := e.Connect("bench run records")
	if err != nil {
		return rate{}, 0, err
	}
	if err := kvstore.Provision(ctx, js, kvstore.Config{}); err != nil {
		return rate{}, 0, err
	}
	runs, err := kvstore.OpenRuns(ctx, js)
	if err != nil {
		return rate{}, 0, err
	}
	rec := sampleRecord()
	body, err := json.Marshal(rec)
	if err != nil {
		return rate{}, 0, err
	}
	rev, err := runs.Create(ctx, rec)
	if err != nil {
		return rate{}, 0, fmt.Errorf("create bench run record: %w", err)
	}
	start := time.Now()
	n := 0
	for ; !lim.over(n, start); n++ {
		if n%2 == 0 {
			rev, err = runs.Update(ctx, rec, rev)
		} else {
			_, rev, err = runs.Get(ctx, rec.ID)
		}
		if err != nil {
			return rate{}, 0, fmt.Errorf("run record op %d: %w", n, err)
		}
	}
	return rate{ops: n, elapsed: time.Since(start)}, len(body), nil
}

// rawKV alternates puts and gets of one size-byte value in a raw KV bucket shaped like the runs
// bucket, serially.
func rawKV(ctx context.Context, e *Env, size int, lim limit) (rate, error) {
	const bucket = "BENCH_RAW_KV"
	_, js, err := e.Connect("bench raw kv")
	if err != nil {
		return rate{}, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 5, Storage: jetstream.FileStorage})
	if err != nil {
		return rate{}, fmt.Errorf("raw kv bucket: %w", err)
	}
	defer func() { _ = js.DeleteKeyValue(context.WithoutCancel(ctx), bucket) }()
	value := make([]byte, size)
	start := time.Now()
	n := 0
	for ; !lim.over(n, start); n++ {
		if n%2 == 0 {
			_, err = kv.Put(ctx, "key", value)
		} else {
			_, err = kv.Get(ctx, "key")
		}
		if err != nil {
			return rate{}, fmt.Errorf("raw kv op %d: %w", n, err)
		}
	}
	return rate{ops: n, elapsed: time.Since(start)}, nil
}
