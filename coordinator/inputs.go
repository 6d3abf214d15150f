package coordinator

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/protocol"
)

// storeInputs settles the inputs bound to data stores (`data: store/key`) before the run's first
// task, as Choria did: a given value with `save: true` is written to its key; an input not given
// is read from its key (falling back to its default, with a warning in the run's log, when the
// key is missing or its value invalid). The names read are recorded, so that they are read again
// before every task (refreshStoreInputs): a store value can change while the run goes on. It
// returns what went wrong, if anything did.
func (d *driver) storeInputs(ctx context.Context) (string, error) {
	if len(d.pb.StoreInputs()) == 0 {
		return "", nil
	}
	if d.rec.StoreInputs != nil {
		// Settled by an earlier owner: read the current values for the templates to come.
		if err := d.refreshStoreInputs(ctx); err != nil {
			return err.Error(), nil
		}
		return "", nil
	}
	given := d.rec.Inputs
	for path, v := range d.pb.SaveWrites(given) {
		v, err := d.saveValue(ctx, v)
		if err != nil {
			return "", err
		}
		if err := d.storeWrite(ctx, path, v); err != nil {
			return fmt.Sprintf("saving an input to %s: %v", path, err), nil
		}
	}
	read := []string{}
	for _, in := range d.pb.Inputs {
		if _, ok := given[in.Name]; ok || in.Data == "" {
			continue
		}
		read = append(read, in.Name)
	}
	if err := d.readStoreInputs(ctx, read); err != nil {
		return err.Error(), nil
	}
	return "", d.update(ctx, func(rec *protocol.RunRecord) { rec.StoreInputs = read })
}

// refreshStoreInputs reads the store-bound inputs again, so the next task sees their current values.
func (d *driver) refreshStoreInputs(ctx context.Context) error {
	return d.readStoreInputs(ctx, d.rec.StoreInputs)
}

// readStoreInputs reads the named inputs from their stores into the run's current input values.
func (d *driver) readStoreInputs(ctx context.Context, names []string) error {
	for _, in := range d.pb.Inputs {
		if !slices.Contains(names, in.Name) {
			continue
		}
		v, readErr := d.storeRead(ctx, in.Data)
		sensitive := in.Sensitive
		if readErr == nil {
			// A value written from a sensitive source comes back sensitive, whatever the input says.
			var sealed bool
			if v, sealed, readErr = d.c.opts.keys.OpenValue(v); sealed && readErr != nil {
				return fmt.Errorf("input %s: the value stored at %s is sealed and could not be opened: %w", in.Name, in.Data, readErr)
			}
			sensitive = sensitive || sealed
		}
		v, warning, err := d.pb.StoreValue(in.Name, v, readErr)
		if err != nil {
			return err
		}
		if warning != "" {
			d.event(ctx, protocol.Event{Type: protocol.EventLog, Status: "warn", Msg: warning},
				fmt.Sprintf("%d/input/%s", len(d.rec.Steps), in.Name))
		}
		if sensitive {
			if v, err = d.keepSecret(ctx, in.Name, v); err != nil {
				return err
			}
		}
		if d.dynamic == nil {
			d.dynamic = map[string]any{}
		}
		d.dynamic[in.Name] = v
	}
	return nil
}

// storeRead reads the value of a "store/key" path.
func (d *driver) storeRead(ctx context.Context, path string) (any, error) {
	store, key, err := d.openStore(ctx, path)
	if err != nil {
		return nil, err
	}
	return store.Get(ctx, key)
}

func (d *driver) storeWrite(ctx context.Context, path string, v any) error {
	store, key, err := d.openStore(ctx, path)
	if err != nil {
		return err
	}
	return store.Put(ctx, key, v)
}

// openStore opens the store of a "store/key" path and returns it with the key.
func (d *driver) openStore(ctx context.Context, path string) (datastore.Store, string, error) {
	name, key, err := datastore.ParsePath(path)
	if err != nil {
		return nil, "", err
	}
	spec, err := d.storeSpec(name, d.scope(len(d.rec.Steps)+1))
	if err != nil {
		return nil, "", err
	}
	store, err := datastore.Open(ctx, d.c.js, *spec, d.rec.ID)
	if err != nil {
		return nil, "", err
	}
	return store, key, nil
}
