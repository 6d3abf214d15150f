package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// lockReleaseTimeout bounds the release of one lock at the end of a run; a lock that cannot be
// released in time expires with its lease.
const lockReleaseTimeout = 10 * time.Second

// takeLocks takes the playbook's locks in order, waiting for each as its store allows. The locks
// are owned by the run (its id), held for as long as this coordinator drives it and renewed in
// the background; if one is lost the run is halted. It returns what went wrong, if anything did.
func (d *driver) takeLocks(ctx context.Context) (string, error) {
	for _, entry := range d.pb.Locks {
		// A lock's key may name the inputs ("deploy/upgrade-{{{ inputs.tier }}}"), so runs on
		// different targets of one playbook need not wait for each other.
		entry, err := playbooks.RenderString(entry, d.scope(len(d.rec.Steps)+1))
		if err != nil {
			return fmt.Sprintf("locks: %v", err), nil
		}
		name, key, err := datastore.ParseLock(entry, d.pb.Name)
		if err != nil {
			return fmt.Sprintf("locks: %v", err), nil
		}
		spec, err := d.storeSpec(name, d.scope(len(d.rec.Steps)+1))
		if err != nil {
			return fmt.Sprintf("locks: %v", err), nil
		}
		wait, err := datastore.LockWait(*spec)
		if err != nil {
			return fmt.Sprintf("locks: %v", err), nil
		}
		locker, err := datastore.OpenLocker(ctx, d.c.js, *spec, d.rec.ID)
		if err != nil {
			return fmt.Sprintf("locks: %v", err), nil
		}
		d.event(ctx, protocol.Event{Type: protocol.EventLog, Msg: fmt.Sprintf("waiting for lock %s in %s (up to %s)", key, name, wait)},
			fmt.Sprintf("lock/%d/%s/wait", d.epoch, entry))
		asked := time.Now()
		lease, err := locker.Lock(ctx, key, wait)
		if ctx.Err() == nil {
			d.c.opts.metrics.LockWaited(err == nil, time.Since(asked))
		}
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return fmt.Sprintf("could not take lock %s in data store %s: %v", key, name, err), nil
		}
		d.leases = append(d.leases, lease)
		d.event(ctx, protocol.Event{Type: protocol.EventLog, Msg: fmt.Sprintf("took lock %s in %s", key, name)},
			fmt.Sprintf("lock/%d/%s/held", d.epoch, entry))
	}
	return "", nil
}

// releaseLocks frees every lock the run holds, last taken first.
func (d *driver) releaseLocks(ctx context.Context) {
	for i := len(d.leases) - 1; i >= 0; i-- {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseTimeout)
		if err := d.leases[i].Release(rctx); err != nil {
			d.log.Warn("releasing lock", "key", d.leases[i].Key(), "error", err)
		}
		cancel()
	}
	d.leases = nil
}

// watchLeases halts the run when one of its locks is lost: what it protects is no longer safe.
func (d *driver) watchLeases(ctx context.Context, halt context.CancelCauseFunc) {
	for _, l := range d.leases {
		go func() {
			select {
			case <-ctx.Done():
			case <-l.Lost():
				halt(&halted{reason: fmt.Sprintf("lock %s was lost", l.Key())})
			}
		}()
	}
}
