package task

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/discover"
)

// runDiscoverJob resolves the job's node set and answers the identities as Result.Data, a
// []string in the source's order, without repeats. Any failure of the source, of the
// connectivity test or of the agent version check fails the result with a message naming the
// node set, and the nodes concerned.
func runDiscoverJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	res := env.NewResult(job, time.Now().UTC())
	res.ExitCode = -1
	spec := job.Discover
	if spec == nil {
		res.Msg = "discover job has no discover spec"
		return res, nil
	}
	nodes, err := discover.Nodes(ctx, discover.Config{
		NC:       env.NC,
		JS:       env.JS,
		PuppetDB: env.PuppetDB,
		Caller:   job.ID.RunID,
		Timeout:  job.Timeout,
		Grant:    job.Grant,
	}, spec)
	if ctx.Err() != nil {
		return protocol.Result{}, ErrInterrupted
	}
	res.EndedAt = time.Now().UTC()
	if err != nil {
		res.Msg = fmt.Sprintf("node set %s: %v", spec.Name, err)
		return res, nil
	}
	res.Success, res.ExitCode = true, 0
	res.Msg = fmt.Sprintf("node set %s: discovered %d nodes", spec.Name, len(nodes))
	res.Data = nodes
	return res, nil
}
