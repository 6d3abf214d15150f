package playbooks

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestJSONSchemaIsWellFormedAndComplete(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(JSONSchema(), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" || s["$id"] != SchemaID {
		t.Fatalf("header %v %v", s["$schema"], s["$id"])
	}
	props := s["properties"].(map[string]any)
	for k := range topLevelKeys {
		if props[k] == nil {
			t.Errorf("top-level key %q missing from the schema", k)
		}
	}
	if len(props) != len(topLevelKeys) {
		t.Errorf("schema has %d top-level keys, the decoder %d", len(props), len(topLevelKeys))
	}
	defs := s["$defs"].(map[string]any)
	taskProps := defs["task"].(map[string]any)["properties"].(map[string]any)
	for _, typ := range TaskTypes() {
		if taskProps[typ] == nil || defs["task_"+typ] == nil {
			t.Errorf("task type %q missing", typ)
		}
		body := defs["task_"+typ].(map[string]any)["anyOf"].([]any)[0].(map[string]any)["properties"].(map[string]any)
		for k := range allTaskKeys(taskKeys[typ]) {
			if body[k] == nil {
				t.Errorf("task %s: key %q missing", typ, k)
			}
		}
	}
	for alias := range typeAliases {
		if taskProps[alias] == nil {
			t.Errorf("task alias %q missing", alias)
		}
	}
	alts := defs["node_set"].(map[string]any)["oneOf"].([]any)
	if len(alts) != len(nodeKeys) {
		t.Errorf("%d node set alternatives for %d types", len(alts), len(nodeKeys))
	}
	hooks := props["hooks"].(map[string]any)["properties"].(map[string]any)
	for _, n := range ListNames() {
		if n.IsHook() && hooks[string(n)] == nil {
			t.Errorf("hook list %s missing", n)
		}
	}
	// Every $ref points at a definition.
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/\$defs/([a-z_]+)"`).FindAllStringSubmatch(string(JSONSchema()), -1) {
		if defs[ref[1]] == nil {
			t.Errorf("dangling $ref %s", ref[1])
		}
	}
}

// TestJSONSchemaAcceptsWhatParseAccepts validates documents Parse accepts against the schema
// (with a small draft 2020-12 subset validator), and checks the schema refuses some bad ones.
func TestJSONSchemaAcceptsWhatParseAccepts(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	v := &miniValidator{defs: schema["$defs"].(map[string]any)}
	docs := map[string]string{"full": fullDoc}
	for _, f := range []string{"docs-app_upgrade.yaml", "spec-playbook.yaml"} {
		b, err := os.ReadFile(filepath.Join(compatDir, f))
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = string(b)
	}
	frags, _ := filepath.Glob(filepath.Join(compatDir, "docs-fragments", "*.yaml"))
	for _, f := range frags {
		w := fragmentWraps[filepath.Base(f)]
		if w.kind == "skip" {
			continue
		}
		b, _ := os.ReadFile(f)
		docs[filepath.Base(f)] = wrapFragment(string(b), w)
	}
	for name, src := range docs {
		var doc any
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if errs := v.validate(schema, doc, ""); len(errs) > 0 {
			t.Errorf("%s: schema refuses a document Parse accepts: %v", name, errs)
		}
	}
	bad := map[string]string{
		"unknown key":      header + "foo: 1\n",
		"unknown task":     header + "tasks:\n  - ansible: {}\n",
		"unknown task key": header + "tasks:\n  - shell: {command: ls, bogus: 1}\n",
		"bad node type":    header + "nodes:\n  n: {type: ldap}\n",
		"bad input type":   header + "inputs:\n  x: {type: Dictionary}\n",
		"bad hook":         header + "hooks:\n  on_error: []\n",
		"tries zero":       header + "tasks:\n  - shell: {command: ls, tries: 0}\n",
		"missing name":     "version: 1\nauthor: a\ndescription: d\n",
	}
	for name, src := range bad {
		var doc any
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		if errs := v.validate(schema, doc, ""); len(errs) == 0 {
			t.Errorf("%s: schema accepts a bad document", name)
		}
	}
}

// miniValidator implements the JSON Schema keywords JSONSchema uses, enough to test it.
type miniValidator struct{ defs map[string]any }

func (v *miniValidator) validate(schema map[string]any, doc any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := schema["$ref"].(string); ok {
		errs = append(errs, v.validate(v.defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any), doc, at)...)
	}
	if t, ok := schema["type"]; ok && !typeMatches(t, doc) {
		fail("type %v, got %T", t, doc)
		return errs
	}
	if e, ok := schema["enum"].([]any); ok && !containsAny(e, doc) {
		fail("not in enum %v: %v", e, doc)
	}
	if c, ok := schema["const"]; ok && c != doc {
		fail("not const %v", c)
	}
	if s, ok := doc.(string); ok {
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
		if m, ok := schema["minLength"].(float64); ok && float64(len(s)) < m {
			fail("too short")
		}
	}
	if n, ok := toFloat(doc); ok {
		if m, ok := schema["minimum"].(float64); ok && n < m {
			fail("below minimum")
		}
		if m, ok := schema["exclusiveMinimum"].(float64); ok && n <= m {
			fail("not above exclusiveMinimum")
		}
	}
	if l, ok := doc.([]any); ok {
		if m, ok := schema["minItems"].(float64); ok && float64(len(l)) < m {
			fail("too few items")
		}
		if it, ok := schema["items"].(map[string]any); ok {
			for i, e := range l {
				errs = append(errs, v.validate(it, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	if m, ok := doc.(map[string]any); ok {
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asList(schema["required"]) {
			if _, has := m[r.(string)]; !has {
				fail("required %v missing", r)
			}
		}
		if mp, ok := schema["minProperties"].(float64); ok && float64(len(m)) < mp {
			fail("too few properties")
		}
		for k, e := range m {
			if pn, ok := schema["propertyNames"].(map[string]any); ok {
				errs = append(errs, v.validate(pn, k, at+"."+k)...)
			}
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, v.validate(ps, e, at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("additional property %q", k)
				}
			case map[string]any:
				errs = append(errs, v.validate(ap, e, at+"."+k)...)
			}
		}
	}
	if alts, ok := schema["anyOf"].([]any); ok {
		good := false
		for _, a := range alts {
			good = good || len(v.validate(a.(map[string]any), doc, at)) == 0
		}
		if !good {
			fail("matches no anyOf alternative")
		}
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if len(v.validate(a.(map[string]any), doc, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d oneOf alternatives", n)
		}
	}
	return errs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func containsAny(l []any, v any) bool {
	for _, e := range l {
		if e == v {
			return true
		}
	}
	return false
}

func typeMatches(t any, doc any) bool {
	if l, ok := t.([]any); ok {
		for _, e := range l {
			if typeMatches(e, doc) {
				return true
			}
		}
		return false
	}
	switch t {
	case "object":
		_, ok := doc.(map[string]any)
		return ok
	case "array":
		_, ok := doc.([]any)
		return ok
	case "string":
		_, ok := doc.(string)
		return ok
	case "boolean":
		_, ok := doc.(bool)
		return ok
	case "null":
		return doc == nil
	case "number":
		_, ok := toFloat(doc)
		return ok
	case "integer":
		f, ok := toFloat(doc)
		return ok && f == math.Trunc(f)
	}
	return false
}
