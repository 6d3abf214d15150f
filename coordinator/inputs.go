package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// storeInputs settles the inputs bound to data stores (`data: store/key`) before the run's first
// task: a given value with `save: true` is written to its key; an input not given is read from
// its key, falling back to its default. Values read are checked like given ones. The settled
// values are recorded, so a coordinator taking over does not read them again; dynamic inputs are
// read again before every task (refreshDynamic). It returns what went wrong, if anything did.
func (d *driver) storeInputs(ctx context.Context) (string, error) {
	bound := d.pb.StoreInputs()
	if len(bound) == 0 {
		return "", nil
	}
	settled := map[string]any{}
	for _, in := range d.pb.Inputs {
		path, ok := bound[in.Name]
		if !ok {
			continue
		}
		v, given := d.rec.Inputs[in.Name]
		switch {
		case given && in.Save:
			v, err := d.reveal(ctx, v)
			if err != nil {
				return "", err
			}
			if err := d.storeWrite(ctx, path, v); err != nil {
				return fmt.Sprintf("inputs.%s: saving to %s: %v", in.Name, path, err), nil
			}
		case !given:
			v, err := d.storeRead(ctx, in, path)
			if err != nil {
				return fmt.Sprintf("inputs.%s: %v", in.Name, err), nil
			}
			if v != nil && in.Sensitive {
				if v, err = d.keepSecret(ctx, in.Name, v); err != nil {
					return "", err
				}
			}
			if v != nil {
				settled[in.Name] = v
			}
		}
	}
	if len(settled) == 0 {
		return "", nil
	}
	return "", d.update(ctx, func(rec *protocol.RunRecord) {
		if rec.Inputs == nil {
			rec.Inputs = map[string]any{}
		}
		for k, v := range settled {
			if _, ok := rec.Inputs[k]; !ok {
				rec.Inputs[k] = v
			}
		}
	})
}

// refreshDynamic reads the dynamic inputs again, so the next task sees their current values.
func (d *driver) refreshDynamic(ctx context.Context) error {
	for _, in := range d.pb.Inputs {
		if !in.Dynamic || in.Data == "" {
			continue
		}
		v, err := d.storeRead(ctx, in, in.Data)
		if err != nil {
			return fmt.Errorf("inputs.%s: %w", in.Name, err)
		}
		if in.Sensitive {
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

// storeRead reads an input's value from its store, or its default when the key is absent.
func (d *driver) storeRead(ctx context.Context, in playbooks.Input, path string) (any, error) {
	store, key, err := d.openStore(ctx, path)
	if err != nil {
		return nil, err
	}
	v, err := store.Get(ctx, key)
	switch {
	case errors.Is(err, kvstore.ErrKeyNotFound) && in.HasDefault:
		return in.Default, nil
	case errors.Is(err, kvstore.ErrKeyNotFound) && in.Required:
		return nil, fmt.Errorf("no value at %s and no default", path)
	case errors.Is(err, kvstore.ErrKeyNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return d.pb.ValidateInputValue(in.Name, v)
}

func (d *driver) storeWrite(ctx context.Context, path string, v any) error {
	store, key, err := d.openStore(ctx, path)
	if err != nil {
		return err
	}
	return store.Put(ctx, key, v)
}

// openStore opens the store of a "store/key" path and returns it with the key.
func (d *driver) openStore(ctx context.Context, path string) (kvstore.Store, string, error) {
	name, key, err := kvstore.ParsePath(path)
	if err != nil {
		return nil, "", err
	}
	spec, err := d.storeSpec(name, d.scope(len(d.rec.Steps)+1))
	if err != nil {
		return nil, "", err
	}
	store, err := kvstore.Open(ctx, d.c.js, *spec, d.rec.ID)
	if err != nil {
		return nil, "", err
	}
	return store, key, nil
}
