package playbooks

import "fmt"

// StoreInputs maps the name of every input with a `data` binding to its "store/key" path. For
// each, a runner reads the store when the input was not given (ResolveInputs leaves it out),
// checks the value with ValidateInputValue and falls back to the input's Default; when the input
// was given and has `save: true`, it writes the given value to that key before taking locks.
func (p *Playbook) StoreInputs() map[string]string {
	out := map[string]string{}
	for _, in := range p.Inputs {
		if in.Data != "" {
			out[in.Name] = in.Data
		}
	}
	return out
}

// StoreValue decides the value of a data-bound input (see StoreInputs) that was not given, from
// what the runner read from its store: v, or readErr when the read failed (a missing key, for
// instance). A good value is converted to the input's type and validated. A bad value or a
// failed read falls back to the input's Default with a warning (Choria's rule); without a
// default it is an error naming the input. Messages never quote sensitive values.
func (p *Playbook) StoreValue(name string, v any, readErr error) (value any, warning string, err error) {
	in, ok := p.Input(name)
	if !ok {
		return nil, "", fmt.Errorf("input %q: %w", name, ErrUnknownInput)
	}
	why := ""
	if readErr != nil {
		why = fmt.Sprintf("could not read %s: %v", in.Data, readErr)
	} else if cv, verr := p.ValidateInputValue(name, v); verr != nil {
		why = fmt.Sprintf("value read from %s is not valid: %v", in.Data, verr)
	} else {
		return cv, "", nil
	}
	if in.HasDefault {
		return deepCopy(in.Default), fmt.Sprintf("input %q: %s; using its default", name, why), nil
	}
	return nil, "", &ValidationError{Problems: []Problem{{
		Path: joinPath("inputs", name), Message: fmt.Sprintf("has no value: %s, and it has no default", why),
	}}}
}

// SaveWrites returns the data store writes that `save: true` asks for at the start of a run:
// "store/key" -> value for every input with `save` and `data` whose value was given, where
// resolved is ResolveInputs' result (which holds a data-bound input only when it was given).
func (p *Playbook) SaveWrites(resolved map[string]any) map[string]any {
	out := map[string]any{}
	for _, in := range p.Inputs {
		if v, ok := resolved[in.Name]; ok && in.Save && in.Data != "" {
			out[in.Data] = deepCopy(v)
		}
	}
	return out
}
