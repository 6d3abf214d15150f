package playbooks

import (
	"encoding/json"
	"sort"
	"strings"
)

// SchemaID is the `$id` of the JSON Schema that JSONSchema returns. Documents may name it in
// their `$schema` key so that editors validate them.
const SchemaID = "https://fleetbook.dev/schemas/playbook/v1.json"

// JSONSchema returns a JSON Schema (draft 2020-12) of the playbook format, for editors.
//
// It is generated from the same tables the decoder uses (top-level keys, input keys and type
// spellings, node set types, data store types, hook lists, task types, their aliases and
// properties), so it cannot drift from what Parse accepts. It is looser than Parse where a
// schema cannot say what Parse checks (template references, register order, cross-section
// references, case-insensitive enums): a document Parse accepts always validates against it.
func JSONSchema() []byte {
	defs := map[string]any{
		"template": map[string]any{
			"type": "string", "pattern": `\{\{`,
			"description": "a template such as {{{ inputs.name }}}, type-checked once rendered",
		},
		"task_list": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/task"}},
		"input":     inputSchema(),
		"node_set":  nodeSetSchema(),
		"data_store": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"type": map[string]any{"enum": sortedKeys(StoreTypes), "default": DefaultStoreType, "description": storeTypesDoc()},
			},
			"description": "a data store; its other keys depend on the type (see docs/data-stores.md)",
		},
	}
	taskProps := map[string]any{}
	for _, typ := range TaskTypes() {
		defs["task_"+typ] = taskSchema(typ)
		taskProps[typ] = map[string]any{"$ref": "#/$defs/task_" + typ}
	}
	for alias, typ := range typeAliases {
		taskProps[alias] = map[string]any{"$ref": "#/$defs/task_" + typ, "description": "alias of " + typ}
	}
	defs["task"] = map[string]any{
		"type":                 "object",
		"description":          "one task: a map of its type to its properties",
		"minProperties":        1,
		"properties":           taskProps,
		"additionalProperties": false,
	}

	hooks := map[string]any{}
	for _, n := range ListNames() {
		if n.IsHook() {
			hooks[string(n)] = map[string]any{"$ref": "#/$defs/task_list"}
		}
	}
	str := map[string]any{"type": "string"}
	// Metadata is kept as its source text, so an unquoted `version: 1.10` is fine.
	metaText := map[string]any{"type": []string{"string", "number", "boolean"}, "minLength": 1}
	props := map[string]any{
		"$schema":     map[string]any{"type": "string", "description": "ignored; lets editors find this schema"},
		"name":        map[string]any{"type": []string{"string", "number"}, "pattern": playbookNameRe.String()},
		"version":     metaText,
		"author":      metaText,
		"description": metaText,
		"tags":        map[string]any{"type": "array", "items": str},
		"loglevel":    map[string]any{"enum": enumSpellings(Loglevels)},
		"run_as":      map[string]any{"type": "string", "pattern": callerIDRe.String()},
		"on_fail":     map[string]any{"enum": []string{"fail"}},
		"uses":        map[string]any{"type": "object", "additionalProperties": str},
		"inputs": map[string]any{
			"type": "object", "propertyNames": map[string]any{"pattern": nameRe.String()},
			"additionalProperties": map[string]any{"$ref": "#/$defs/input"},
		},
		"locks": map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": lockRe.String()}},
		"data_stores": map[string]any{
			"type": "object", "propertyNames": map[string]any{"pattern": nameRe.String()},
			"additionalProperties": map[string]any{"$ref": "#/$defs/data_store"},
		},
		"nodes": map[string]any{
			"type": "object", "propertyNames": map[string]any{"pattern": nameRe.String()},
			"additionalProperties": map[string]any{"$ref": "#/$defs/node_set"},
		},
		"tasks":  map[string]any{"$ref": "#/$defs/task_list"},
		"hooks":  map[string]any{"type": "object", "properties": hooks, "additionalProperties": false},
		"macros": map[string]any{"description": "free-form; a place for YAML anchors"},
	}
	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "fleetbook playbook",
		"description":          "A fleetbook playbook (a superset of Choria YAML Playbooks). See docs/playbooks.md.",
		"type":                 "object",
		"required":             requiredKeys,
		"properties":           props,
		"additionalProperties": false,
		"$defs":                defs,
	}
	b, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		// Only maps, slices and strings are marshalled; this cannot fail.
		panic("playbooks: marshal JSON schema: " + err.Error())
	}
	return append(b, '\n')
}

// propSchema is the schema of one property spec.
func propSchema(spec propSpec) map[string]any {
	var s map[string]any
	switch spec.kind {
	case kindAny:
		s = map[string]any{}
	case kindString:
		s = map[string]any{"type": "string"}
		if len(spec.enum) > 0 {
			s = map[string]any{"enum": enumSpellings(spec.enum)}
		}
		if spec.pattern != nil {
			s["pattern"] = spec.pattern.re.String()
		}
	case kindURL:
		s = map[string]any{"type": "string", "pattern": "^https?://"}
	case kindInt:
		s = map[string]any{"type": "integer"}
		if spec.hasMin {
			s["minimum"] = spec.min
		}
		s = map[string]any{"anyOf": []any{s, numericText}}
	case kindSeconds:
		s = map[string]any{"type": "number", "minimum": 0}
		if spec.gt {
			s = map[string]any{"type": "number", "exclusiveMinimum": 0}
		}
		s = map[string]any{"anyOf": []any{s, numericText}}
	case kindBool:
		s = map[string]any{"type": "boolean"}
	case kindStringList:
		item := map[string]any{"type": "string"}
		if len(spec.enum) > 0 {
			item = map[string]any{"enum": enumSpellings(spec.enum)}
		}
		s = map[string]any{"type": "array", "items": item}
	case kindMap:
		s = map[string]any{"type": "object"}
	case kindStringMap:
		s = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": []string{"string", "number", "boolean"}}}
	}
	if spec.literal || spec.kind == kindAny || (spec.kind == kindString && len(spec.enum) == 0 && spec.pattern == nil) {
		return s
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"$ref": "#/$defs/template"}}}
}

// numericText is a number written as a string, which Parse accepts for counts and seconds.
var numericText = map[string]any{"type": "string", "pattern": `^\s*[-+]?[0-9]*\.?[0-9]+\s*$`}

// enumSpellings lists enum values as written, in lower, upper and title case (Parse compares
// them case-insensitively; a schema cannot).
func enumSpellings(enum []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range enum {
		lower := strings.ToLower(e)
		for _, s := range []string{e, lower, strings.ToUpper(e), strings.ToUpper(lower[:1]) + lower[1:]} {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// objectSchema is a closed object of the given property specs.
func objectSchema(specs ...map[string]propSpec) map[string]any {
	props := map[string]any{}
	var required []string
	for _, m := range specs {
		for _, k := range sortedKeys(m) {
			props[k] = propSchema(m[k])
			if m[k].required {
				required = append(required, k)
			}
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

// taskSchema is the schema of one task type's body.
func taskSchema(typ string) map[string]any {
	own := taskKeys[typ]
	common := map[string]propSpec{}
	for k, v := range commonTaskKeys {
		if _, dup := own[k]; !dup {
			common[k] = v
		}
	}
	s := objectSchema(common, own)
	// `shell: ~` (no properties) is accepted by Parse when nothing is required.
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}, "description": typ + " task"}
}

// nodeSetSchema is a oneOf over node set types, each a closed object.
func nodeSetSchema() map[string]any {
	var alts []any
	for _, typ := range NodeSetTypes() {
		common := map[string]propSpec{}
		for k, v := range commonNodeKeys {
			if k != "type" {
				common[k] = v
			}
		}
		s := objectSchema(common, nodeKeys[typ])
		s["properties"].(map[string]any)["type"] = map[string]any{"const": typ}
		req, _ := s["required"].([]string)
		s["required"] = append([]string{"type"}, req...)
		alts = append(alts, s)
	}
	return map[string]any{"oneOf": alts}
}

// inputSchema is the schema of one input declaration.
func inputSchema() map[string]any {
	s := objectSchema(inputKeys)
	var types []string
	for _, sp := range sortedKeys(inputTypeSpellings) {
		types = append(types, sp, ":"+sp, strings.ToUpper(sp[:1])+sp[1:])
	}
	props := s["properties"].(map[string]any)
	props["type"] = map[string]any{"enum": types}
	props["validation"] = map[string]any{
		"anyOf": []any{
			map[string]any{"type": "string", "description": `":validator", "/regex/" or a bare regex`},
			map[string]any{"type": "array", "minItems": 1, "description": "allowed values"},
		},
	}
	props["require"].(map[string]any)["deprecated"] = true
	return s
}

// storeTypesDoc describes the store types in one line.
func storeTypesDoc() string {
	var parts []string
	for _, k := range sortedKeys(StoreTypes) {
		parts = append(parts, k+": "+StoreTypes[k].Doc)
	}
	return strings.Join(parts, "; ")
}
