package playbooks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Redacted replaces the value of a sensitive input in Redact's output.
const Redacted = "[redacted]"

// ResolveInputs checks given values against the declared inputs and returns the values the run
// uses: given values converted to the declared type, defaults for the rest.
//
// Given values may be native JSON/YAML values or strings from the command line
// ("--input count=3" gives the string "3"): strings are converted for integer, float, numeric,
// boolean ("true"/"false"/"yes"/"no"/"1"/"0") and array (JSON array text, or a comma list) inputs.
// A nil given value counts as not given.
//
// Inputs that come from a data store at run time are left out of the result: `dynamic: true`
// inputs, and inputs with `data` that were not given (see DynamicInputs). Giving a value for a
// dynamic input is an error, since it would be ignored.
//
// Every string in a given value (list items and map keys and values too) must follow the text
// rules (text.go): no NUL, invalid UTF-8, control characters other than tab and newline, or
// bidirectional controls; the problem names the input, never the value.
//
// `required` defaults to true, and is satisfied by a given value (including false), a default or
// a `data` binding. Validation rules apply to given values (defaults were checked by Parse).
//
// Errors are a *ValidationError with paths like "inputs.count" naming the input: unknown input
// names, wrong types, failed validation and missing required inputs, all of them collected.
// When the inputs pass, the expressions templated with them (an rpc assert, a fleet node set's
// filters) are rendered and checked, and a broken one is a problem at the expression's path
// (see checkRenderedExpressions).
func (p *Playbook) ResolveInputs(given map[string]any) (map[string]any, error) {
	var probs problems
	out := map[string]any{}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := p.Input(name); !ok {
			probs.add(joinPath("inputs", name), nil, "unknown input %q", name)
		}
	}
	for _, in := range p.Inputs {
		path := joinPath("inputs", in.Name)
		v, isGiven := given[in.Name]
		isGiven = isGiven && v != nil
		switch {
		case in.Dynamic && isGiven:
			probs.add(path, nil, "input %q is dynamic (read from its data store only) and cannot be given", in.Name)
		case isGiven:
			if l, many := v.([]any); many && in.Type != InputArray && len(l) > 1 {
				probs.add(path, nil, "given %d values, but only Array inputs take several (input %q is of type %s)", len(l), in.Name, in.Type)
				continue
			}
			if msg := valueTreeProblem(v); msg != "" {
				probs.add(path, nil, "the value of input %q %s", in.Name, msg)
				continue
			}
			cv, msg := convertInput(in.Type, v)
			if msg == "" {
				msg = in.check.validate(cv)
				if msg != "" {
					msg = "failed validation: " + msg
				}
			}
			if msg != "" {
				probs.add(path, nil, "%s", in.hide(msg))
				continue
			}
			out[in.Name] = cv
		case in.Dynamic || in.Data != "":
			// Resolved from the data store at run time, falling back to Default.
		case in.HasDefault:
			out[in.Name] = deepCopy(in.Default)
		case in.Required:
			probs.add(path, nil, "required input %q (%s) is missing", in.Name, in.Type)
		}
	}
	checkInputsSize(out, given, &probs)
	if len(probs.list) == 0 {
		// Only now: an expression is rendered with values that passed their own checks.
		p.checkRenderedExpressions(out, &probs)
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// NeededInputs lists, in declaration order, the inputs a run must be given: required, without a
// default, and not read from a data store. ResolveInputs refuses an input map that lacks one.
func (p *Playbook) NeededInputs() []string {
	out := []string{}
	for _, in := range p.Inputs {
		if in.Required && !in.HasDefault && !in.Dynamic && in.Data == "" {
			out = append(out, in.Name)
		}
	}
	return out
}

// DynamicInputs lists, in declaration order, the inputs that may be read from a data store at run
// time: those with `dynamic: true` or a `data` binding. An input in this list that is absent from
// ResolveInputs' result must be read from its store (falling back to its Default), and its store
// value checked with ValidateInputValue.
func (p *Playbook) DynamicInputs() []string {
	var out []string
	for _, in := range p.Inputs {
		if in.Dynamic || in.Data != "" {
			out = append(out, in.Name)
		}
	}
	return out
}

// ValidateInputValue converts a value read for the named input (for example from a data store,
// where values are mostly strings) to its type and applies its validation.
func (p *Playbook) ValidateInputValue(name string, v any) (any, error) {
	in, ok := p.Input(name)
	if !ok {
		return nil, fmt.Errorf("input %q: %w", name, ErrUnknownInput)
	}
	if msg := valueTreeProblem(v); msg != "" {
		return nil, &ValidationError{Problems: []Problem{{Path: joinPath("inputs", name), Message: fmt.Sprintf("the value of input %q %s", name, msg)}}}
	}
	cv, msg := convertInput(in.Type, v)
	if msg == "" {
		msg = in.check.validate(cv)
	}
	if msg != "" {
		return nil, &ValidationError{Problems: []Problem{{Path: joinPath("inputs", name), Message: in.hide(msg)}}}
	}
	return cv, nil
}

// hide replaces a problem message that may quote a sensitive input's value by one that does not.
func (in Input) hide(msg string) string {
	if !in.Sensitive {
		return msg
	}
	if strings.HasPrefix(msg, "failed validation") {
		return "failed validation (the value is not shown: the input is sensitive)"
	}
	return fmt.Sprintf("must be of type %s (the value is not shown: the input is sensitive)", in.Type)
}

// Redact returns a copy of inputs with the values of sensitive inputs replaced by "[redacted]".
// Use it for every copy of the inputs that leaves the runner's memory: reports, events, KV
// records, logs. Task payloads get real values; scrub their output with SensitiveValues.
func (p *Playbook) Redact(inputs map[string]any) map[string]any {
	out := make(map[string]any, len(inputs))
	for k, v := range inputs {
		if in, ok := p.Input(k); ok && in.Sensitive {
			out[k] = Redacted
			continue
		}
		out[k] = deepCopy(v)
	}
	return out
}

// deepCopy copies maps and lists recursively; other values are returned as they are.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	case []string:
		return append([]string(nil), x...)
	}
	return v
}

// checkInputsSize refuses given values larger, as JSON, than MaxInputsBytes together, naming the
// largest input (defaults are part of the document, which has its own limit). A message gives
// sizes only, never a value.
func checkInputsSize(out, given map[string]any, probs *problems) {
	total, largest, largestSize := 0, "", 0
	for _, name := range sortedKeys(out) {
		if _, isGiven := given[name]; !isGiven {
			continue
		}
		b, err := json.Marshal(out[name])
		if err != nil {
			continue // not JSON at all: the submit request will say so
		}
		total += len(b)
		if len(b) > largestSize {
			largest, largestSize = name, len(b)
		}
	}
	switch {
	case largestSize > MaxInputsBytes:
		probs.add(joinPath("inputs", largest), nil, "the value is %d bytes, more than the limit of %d bytes (MaxInputsBytes) for all inputs of a run together; pass a reference to the data (a file name, a data store key) instead", largestSize, MaxInputsBytes)
	case total > MaxInputsBytes:
		probs.add(joinPath("inputs", largest), nil, "the inputs are %d bytes together (this one %d), more than the limit of %d bytes (MaxInputsBytes) for all inputs of a run; pass a reference to the data instead", total, largestSize, MaxInputsBytes)
	}
}
