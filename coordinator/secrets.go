package coordinator

import (
	"context"
	"fmt"

	"github.com/fleetbook/fleetbook/protocol"
)

// reveal replaces the secret references in v with the values they stand for, for the few places
// the coordinator hands a value on itself (a child run's inputs, an input saved to a data
// store). A string that is one whole reference gets the value as it was given, of any type.
func (d *driver) reveal(ctx context.Context, v any) (any, error) {
	if d.secretValues == nil {
		values, err := d.c.secrets.Get(ctx, d.rec.ID)
		if err != nil {
			return nil, err
		}
		d.secretValues = values
	}
	return revealValue(v, d.secretValues), nil
}

func revealValue(v any, values map[string]any) any {
	switch x := v.(type) {
	case string:
		for name, val := range values {
			if x == protocol.SecretRef(name) {
				return val
			}
		}
		return protocol.ReplaceSecretRefs(x, func(name string) string { return protocol.SecretText(values[name]) })
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = revealValue(e, values)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = revealValue(e, values)
		}
		return out
	}
	return v
}

// keepSecret stores a sensitive value obtained while the run is driven (an input read from a data
// store) beside the run's other secrets and returns the reference to record in its place.
func (d *driver) keepSecret(ctx context.Context, name string, v any) (string, error) {
	if _, err := d.reveal(ctx, nil); err != nil {
		return "", err
	}
	d.secretValues[name] = v
	if err := d.c.secrets.Put(ctx, d.rec.ID, d.secretValues); err != nil {
		return "", fmt.Errorf("store sensitive input %s: %w", name, err)
	}
	return protocol.SecretRef(name), nil
}
