package playbooks

import (
	"strings"
)

// Data task actions.
const (
	DataRead   = "read"
	DataWrite  = "write"
	DataDelete = "delete"
)

// LogTaskLevels are the levels a log task accepts (the playbook's own loglevel is Loglevels);
// DefaultLogLevel is used when none is given.
var LogTaskLevels = []string{"debug", "info", "warn", "error"}

// DefaultLogLevel is the level of a log task without `level`.
const DefaultLogLevel = "info"

// LogSpec is a log task's properties after rendering.
type LogSpec struct {
	// Message is the rendered line to write into the run's log and report.
	Message string
	// Level is debug, info, warn or error (lower case).
	Level string
}

// PlaybookCall is a playbook task's properties after rendering: which playbook to run as a
// child run, and with which inputs.
type PlaybookCall struct {
	// Name is a stored playbook's name; empty when File is given.
	Name string
	// File is a playbook file path; empty when Name is given.
	File string
	// Inputs are the child's inputs given by the task (rendered).
	Inputs map[string]any
	// InheritInputs asks for the parent's inputs to be passed too; Inputs win over them.
	InheritInputs bool
}

// ChildInputs returns the inputs to give the child run: when InheritInputs, the parent's inputs
// that child declares (an input the child does not declare is left out rather than refused),
// overlaid with the task's own Inputs (which are all passed, so the child refuses unknown ones).
// The caller passes the parent's unredacted inputs; the child's own sensitive declarations
// decide what it redacts. child may be nil, in which case every parent input is inherited.
func (c PlaybookCall) ChildInputs(parent map[string]any, child *Playbook) map[string]any {
	out := map[string]any{}
	if c.InheritInputs {
		for k, v := range parent {
			if child != nil {
				if _, declared := child.Input(k); !declared {
					continue
				}
			}
			out[k] = deepCopy(v)
		}
	}
	for k, v := range c.Inputs {
		out[k] = deepCopy(v)
	}
	return out
}

// PlaybookFiles lists, in document order and without repeats, the `file` of every playbook task:
// the child playbooks a runner must be able to read before the run starts (the key is literal,
// never templated, for that reason).
func (p *Playbook) PlaybookFiles() []string {
	seen := map[string]bool{}
	var out []string
	for _, ln := range ListNames() {
		for _, t := range p.List(ln) {
			if f, ok := t.Properties["file"].(string); ok && t.Type == TypePlaybook && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// DataSpec is a data task's properties after rendering.
type DataSpec struct {
	// Action is read, write or delete (lower case).
	Action string
	// Store is the data store name (the part of key before the first "/").
	Store string
	// Key is the key inside the store (everything after the first "/"; may hold "/").
	Key string
	// Value is what write writes; nil for read and delete.
	Value any
}

// DecodeLog type-checks the RENDERED properties of a log task. Errors are a *ValidationError
// with paths like "log.level".
func DecodeLog(props map[string]any) (LogSpec, error) {
	probs := checkRendered(TypeLog, props)
	spec := LogSpec{Level: DefaultLogLevel}
	spec.Message, _ = props["message"].(string)
	if l, ok := props["level"].(string); ok {
		spec.Level = strings.ToLower(l)
	}
	return spec, probs.err()
}

// DecodePlaybookCall type-checks the RENDERED properties of a playbook task. Errors are a
// *ValidationError with paths like "playbook.inputs".
func DecodePlaybookCall(props map[string]any) (PlaybookCall, error) {
	probs := checkRendered(TypePlaybook, props)
	var c PlaybookCall
	c.Name, _ = props["name"].(string)
	c.File, _ = props["file"].(string)
	c.InheritInputs, _ = props["inherit_inputs"].(bool)
	if m, ok := props["inputs"].(map[string]any); ok {
		c.Inputs = m
	}
	if (c.Name == "") == (c.File == "") {
		probs.add(TypePlaybook, nil, `exactly one of "name" or "file" must be given, and not empty`)
	}
	return c, probs.err()
}

// DecodeData type-checks the RENDERED properties of a data task and splits its key into store
// and key. Errors are a *ValidationError with paths like "data.key".
func DecodeData(props map[string]any) (DataSpec, error) {
	probs := checkRendered(TypeData, props)
	var spec DataSpec
	if a, ok := props["action"].(string); ok {
		spec.Action = strings.ToLower(a)
	}
	if k, ok := props["key"].(string); ok {
		spec.Store, spec.Key, _ = strings.Cut(k, "/")
	}
	if spec.Action == DataWrite {
		spec.Value = props["value"]
	}
	return spec, probs.err()
}

// checkRendered checks rendered properties against a task type's spec: unknown keys, missing
// required keys and value kinds, with templates no longer accepted.
func checkRendered(typ string, props map[string]any) problems {
	var probs problems
	specs := taskKeys[typ]
	for _, k := range sortedKeys(props) {
		path := joinPath(typ, k)
		ps, ok := specs[k]
		if !ok {
			probs.add(path, nil, "unknown key %q for a %s task", k, typ)
			continue
		}
		if msg := checkKind(ps, props[k], false); msg != "" {
			probs.add(path, nil, "%s", msg)
		}
	}
	for _, k := range sortedKeys(specs) {
		if _, has := props[k]; specs[k].required && !has {
			probs.add(joinPath(typ, k), nil, "required key %q is missing", k)
		}
	}
	return probs
}

// CheckRenderedKeys type-checks the named keys of a task's RENDERED properties as Parse checks
// literal ones, for the keys the coordinator reads itself (an rpc task's batching): a templated
// batch_size that renders to -7 is an error naming "rpc.batch_size", never "no batching". Errors
// are a *ValidationError.
func CheckRenderedKeys(taskType string, props map[string]any, keys ...string) error {
	var probs problems
	for _, k := range keys {
		v, has := props[k]
		spec, known := taskKeys[taskType][k]
		if !has || !known {
			continue
		}
		if msg := checkKind(spec, v, false); msg != "" {
			probs.add(joinPath(taskType, k), nil, "%s", msg)
		}
	}
	return probs.err()
}
