package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/fleetbook/fleetbook/playbooks"
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
	if old, ok := d.secretValues[name]; ok && reflect.DeepEqual(old, v) {
		return protocol.SecretRef(name), nil // read again before every task: store only a change
	}
	d.secretValues[name] = v
	if err := d.c.secrets.Put(ctx, d.rec.ID, d.secretValues); err != nil {
		return "", fmt.Errorf("store sensitive input %s: %w", name, err)
	}
	return protocol.SecretRef(name), nil
}

// secretTexts are the texts to scrub from what the coordinator itself writes into the record and
// events (log messages, a child run's outcome): every sensitive value of the run and their
// encodings (protocol.SecretTexts). A run without secrets costs nothing.
func (d *driver) secretTexts(ctx context.Context) ([]string, error) {
	if !d.hasSecrets() {
		return nil, nil
	}
	if _, err := d.reveal(ctx, nil); err != nil {
		return nil, err
	}
	return protocol.SecretTexts(d.secretValues), nil
}

// scrub removes the run's sensitive values from text, and the references to them; a run whose
// secrets cannot be read gets text with its references redacted only (the record and events never
// held a value the coordinator did not put there, and it never puts one there).
func (d *driver) scrub(ctx context.Context, text string) string {
	texts, err := d.secretTexts(ctx)
	if err != nil {
		d.log.Warn("reading the run's sensitive values to scrub a message", "error", err)
	}
	return protocol.RedactSecretRefs(playbooks.Scrub(text, texts))
}

// revealForCheck returns props with the run's sensitive values in place of their references, for
// the coordinator's own check of a rendered rpc job against the agent's definition: a reference
// would fail every validation of its value. The values are only checked, never recorded or sent,
// and the check's message goes through scrub. ok is false when the secrets cannot be read.
func (d *driver) revealForCheck(ctx context.Context, props map[string]any) (map[string]any, bool) {
	if text, _ := json.Marshal(props); !protocol.HasSecretRefs(string(text)) {
		return props, true
	}
	revealed, err := d.reveal(ctx, props)
	if err != nil {
		d.log.Warn("reading the run's sensitive values to check rpc properties; the nodes will check them", "error", err)
		return nil, false
	}
	m, _ := revealed.(map[string]any)
	return m, true
}

// saveValue is what `save: true` writes for an input whose value may be a reference: the value
// itself, sealed when it came from a sensitive input (kvstore.Keyring.SealValue), so that a read
// brings back that it is sensitive.
func (d *driver) saveValue(ctx context.Context, v any) (any, error) {
	text, _ := json.Marshal(v)
	if !protocol.HasSecretRefs(string(text)) {
		return v, nil
	}
	revealed, err := d.reveal(ctx, v)
	if err != nil {
		return nil, err
	}
	return d.c.opts.keys.SealValue(revealed)
}

// childSecrets are what a child run is given of this run's secrets: the names of the inputs that
// hold a reference to one (they are sensitive in the child too, whatever it declares), and every
// sensitive value of this run, to scrub from the child's outputs.
func (d *driver) childSecrets(ctx context.Context, inputs map[string]any) ([]string, []string, error) {
	if !d.hasSecrets() {
		return nil, nil, nil
	}
	var names []string
	for name, v := range inputs {
		if text, _ := json.Marshal(v); protocol.HasSecretRefs(string(text)) {
			names = append(names, name)
		}
	}
	if _, err := d.reveal(ctx, nil); err != nil {
		return nil, nil, err
	}
	scrub := make([]string, 0, len(d.secretValues))
	for _, v := range d.secretValues {
		scrub = append(scrub, protocol.SecretText(v))
	}
	slices.Sort(names)
	slices.Sort(scrub)
	return names, scrub, nil
}
