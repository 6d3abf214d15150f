package playbooks

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Input types (canonical spellings).
const (
	InputString  = "string"
	InputInteger = "integer"
	InputFloat   = "float"
	InputNumeric = "numeric"
	InputArray   = "array"
	InputBoolean = "boolean"
	// InputHash is a map of values (Choria had it only in the Plan DSL).
	InputHash = "hash"
)

// inputTypeSpellings maps every accepted spelling (lower-cased, leading ':' removed) to a canonical
// input type. Choria accepted String, Integer, Fixnum, Float, Numeric, Array, Boolean and Ruby symbol
// forms such as :fixnum and :bool.
var inputTypeSpellings = map[string]string{
	"string":  InputString,
	"integer": InputInteger,
	"fixnum":  InputInteger,
	"float":   InputFloat,
	"numeric": InputNumeric,
	"array":   InputArray,
	"boolean": InputBoolean,
	"bool":    InputBoolean,
	"hash":    InputHash,
}

// Input is a declared playbook input.
type Input struct {
	// Name is the input name, used as `inputs.NAME` in templates.
	Name string
	// Description is the help text.
	Description string
	// Type is the canonical type: string, integer, float, numeric, array, boolean or hash.
	// A missing type means string.
	Type string
	// Required is true unless `required: false` was given. A default, a data binding or a given
	// value (including false) satisfies it.
	Required bool
	// Default is the default value, already converted to Type.
	Default any
	// HasDefault tells a null/absent default apart from a given one.
	HasDefault bool
	// Validation is the raw validation rule: a string (":name", "/regex/" or a bare regex) or a
	// list of allowed values.
	Validation any
	// Data is the "store/key" binding, empty when none.
	Data string
	// Dynamic means the value only ever comes from the data store (or the default), never from
	// the caller.
	Dynamic bool
	// Save writes a given value to the Data store key at startup.
	Save bool
	// Sensitive (a fleetbook addition) means the value is redacted in logs and reports.
	Sensitive bool
	// Line is the YAML line of the input's name.
	Line int

	check *validator
}

// inputKeys are the keys an input declaration accepts.
var inputKeys = map[string]propSpec{
	"description": {kind: kindString, literal: true},
	"type":        {kind: kindString, literal: true},
	"required":    {kind: kindBool},
	"require":     {kind: kindBool},
	"default":     {kind: kindAny, literal: true},
	"validation":  {kind: kindAny, literal: true},
	"data":        {kind: kindString, literal: true, pattern: dataPathPattern},
	"dynamic":     {kind: kindBool},
	"save":        {kind: kindBool},
	"sensitive":   {kind: kindBool},
}

// inputs decodes the `inputs` map, keeping declaration order. Templates are not allowed anywhere
// in inputs (Choria never rendered them).
func (d *decoder) inputs(n *yaml.Node) []Input {
	return namedEntries(d, n, "inputs", "input name must match [a-zA-Z0-9_-]+ (the template grammar cannot reference it otherwise)", d.input)
}

// namedEntries decodes a top-level map of named declarations (inputs, node sets) in document
// order: every name must match nameRe (badName says so otherwise), and decode turns one entry
// into a T, reporting false when it found problems.
func namedEntries[T any](d *decoder, n *yaml.Node, section, badName string, decode func(e pair, path string) (T, bool)) []T {
	entries, ok := d.pairs(n, section, 1)
	if !ok {
		return nil
	}
	var out []T
	for _, e := range entries {
		path := joinPath(section, e.Key)
		if !nameRe.MatchString(e.Key) {
			d.probs.add(path, e.KeyN, "%s", badName)
		}
		if v, ok := decode(e, path); ok {
			out = append(out, v)
		}
	}
	return out
}

// input decodes one input declaration.
func (d *decoder) input(e pair, path string) (Input, bool) {
	in := Input{Name: e.Key, Type: InputString, Required: true, Line: e.KeyN.Line}
	props, ok := d.pairs(e.Value, path, 2)
	if !ok {
		return in, false
	}
	good := true
	nodeOf := map[string]*yaml.Node{}
	var rawDefault any
	var hasRequired bool
	for _, p := range props {
		ppath := joinPath(path, p.Key)
		spec, ok := inputKeys[p.Key]
		if !ok && p.Key == "dynamic_only" {
			d.probs.add(ppath, p.KeyN, `"dynamic_only" is the January-2017 spelling of "dynamic": rename the key to dynamic (same value)`)
			good = false
			continue
		}
		if !ok {
			d.probs.add(ppath, p.KeyN, "unknown key %q for an input%s (allowed: %s)", p.Key, suggest(p.Key, inputKeys), keyList(inputKeys))
			good = false
			continue
		}
		v, ok := d.value(p.Value, ppath, 3)
		if !ok {
			good = false
			continue
		}
		if !d.fits(spec, v, ppath, p.Value) {
			good = false
			continue
		}
		nodeOf[p.Key] = p.Value
		switch p.Key {
		case "description":
			in.Description = v.(string)
		case "type":
			t, ok := inputTypeSpellings[strings.ToLower(strings.TrimPrefix(v.(string), ":"))]
			if !ok {
				d.probs.add(ppath, p.Value, "unknown input type %q (use String, Integer, Float, Numeric, Array, Boolean or Hash)", v)
				good = false
				continue
			}
			in.Type = t
		case "required":
			in.Required, hasRequired = v.(bool), true
		case "require":
			d.warnings.add(ppath, p.KeyN, `"require" is a deprecated misspelling of "required"; it is accepted as an alias`)
			if !hasRequired {
				in.Required = v.(bool)
			}
		case "default":
			rawDefault, in.HasDefault = v, v != nil
		case "validation":
			in.Validation = v
			chk, msg := compileValidation(v)
			if msg != "" {
				d.probs.add(ppath, p.Value, "%s", msg)
				good = false
				continue
			}
			in.check = chk
		case "data":
			in.Data = v.(string)
		case "dynamic":
			in.Dynamic = v.(bool)
		case "save":
			in.Save = v.(bool)
		case "sensitive":
			in.Sensitive = v.(bool)
		}
	}
	if _, both := nodeOf["require"]; both && hasRequired {
		d.probs.add(joinPath(path, "require"), nodeOf["require"], `give only "required" ("require" is its deprecated alias)`)
		good = false
	}
	if in.HasDefault && good {
		// Unlike Choria, defaults are type-checked and validated when the playbook is loaded.
		v, msg := convertInput(in.Type, rawDefault)
		if msg == "" {
			msg = in.check.validate(v)
		}
		if msg != "" {
			d.probs.add(joinPath(path, "default"), nodeOf["default"], "default %s", in.hide(msg))
			good = false
		}
		in.Default = v
	}
	if in.Save && in.Data == "" {
		d.probs.add(joinPath(path, "save"), nodeOf["save"], `save needs a "data" binding to write to`)
		good = false
	}
	if in.Dynamic && in.Data == "" && !in.HasDefault {
		d.probs.add(joinPath(path, "dynamic"), nodeOf["dynamic"], `a dynamic input needs a "data" binding or a default`)
		good = false
	}
	return in, good
}
