package task

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Data task actions.
const (
	dataRead   = "read"
	dataWrite  = "write"
	dataDelete = "delete"
)

// defaultDataTimeout bounds a data job whose Timeout is 0: every backend call is a network round
// trip or a short program.
const defaultDataTimeout = time.Minute

// runDataJob reads, writes or deletes one key of the job's store. Data is the value read.
func runDataJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	res := env.NewResult(job, time.Now().UTC())
	res.ExitCode = -1
	if job.Store == nil || job.Data == nil {
		res.Msg = "data job has no store or no operation"
		return res, nil
	}
	timeout := job.Timeout
	if timeout <= 0 {
		timeout = defaultDataTimeout
	}
	// Killed with the worker's shutdown like a shell command: a data call is short, and a
	// redelivery repeats it harmlessly (reads and deletes are idempotent, a write writes the
	// same value).
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, msg, err := doData(dctx, env.JS, job)
	res.EndedAt = time.Now().UTC()
	if err != nil {
		if ctx.Err() != nil {
			return res, ErrInterrupted
		}
		res.Msg = err.Error()
		return res, nil
	}
	res.Success, res.Msg, res.Data, res.ExitCode = true, msg, data, 0
	return res, nil
}

// doData performs the job's operation and returns what was read and the success message.
func doData(ctx context.Context, js jetstream.JetStream, job *protocol.Job) (any, string, error) {
	op, spec := job.Data, *job.Store
	path := spec.Name + "/" + op.Key
	switch op.Action {
	case dataRead, dataWrite, dataDelete:
	default:
		return nil, "", fmt.Errorf("data action %q is not read, write or delete", op.Action)
	}
	st, err := datastore.Open(ctx, js, spec, job.ID.RunID)
	if err != nil {
		return nil, "", err
	}
	switch op.Action {
	case dataRead:
		v, err := st.Get(ctx, op.Key)
		if errors.Is(err, datastore.ErrNotFound) {
			return nil, "", fmt.Errorf("could not read key %s: not found", path)
		}
		if err != nil {
			return nil, "", fmt.Errorf("could not read key %s: %w", path, err)
		}
		return v, "Read value from " + path, nil
	case dataWrite:
		if err := st.Put(ctx, op.Key, op.Value); err != nil {
			return nil, "", fmt.Errorf("could not write key %s: %w", path, err)
		}
		return nil, "Wrote value to " + path, nil
	default:
		if err := st.Delete(ctx, op.Key); err != nil {
			return nil, "", fmt.Errorf("could not delete key %s: %w", path, err)
		}
		return nil, "Deleted data item " + path, nil
	}
}
