package playbooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// PluginSpecExt is the file name extension of a plugin spec: DIR/<type>.yaml sits next to the
// executable DIR/<type>.
const PluginSpecExt = ".yaml"

// maxPluginSpecBytes bounds a spec file: a spec lists a handful of properties.
const maxPluginSpecBytes = 64 << 10

// Plugin property types, as written in a spec's `type`.
const (
	PluginString  = "string"
	PluginInteger = "integer"
	PluginNumber  = "number"
	PluginBoolean = "boolean"
	PluginArray   = "array"
	PluginHash    = "hash"
)

// pluginTypes are the allowed property types.
var pluginTypes = []string{PluginString, PluginInteger, PluginNumber, PluginBoolean, PluginArray, PluginHash}

// pluginNameRe is what a plugin type name may be: it is also a file name, so it must not be able
// to reach outside the plugin directory.
var pluginNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// yamlTypeRe matches the Go type yaml.v3 names in an unknown-field error.
var yamlTypeRe = regexp.MustCompile(` in type [A-Za-z0-9_.]+`)

// PluginSpec declares a task type provided by an executable from outside the project. It is read
// from DIR/<name>.yaml; the executable is DIR/<name>.
type PluginSpec struct {
	// Name is the task type; it equals the spec's file name without ".yaml".
	Name string
	// Description says what the task does, for people and for `fleetbook show`.
	Description string
	// Properties are the task's type-specific properties, by name.
	Properties map[string]PluginProperty
	// Timeout bounds one execution when the task gives none; 0 means the worker's default.
	Timeout time.Duration
	// Path is the plugin's executable.
	Path string
}

// PluginProperty declares one property of a plugin task type.
type PluginProperty struct {
	// Type is one of string, integer, number, boolean, array, hash.
	Type string `yaml:"type"`
	// Required makes a task without the property invalid.
	Required bool `yaml:"required"`
	// Description says what the property means.
	Description string `yaml:"description"`
}

// pluginSpecFile is the YAML form of a spec; timeout is any so seconds may be int or float.
type pluginSpecFile struct {
	Name        string                    `yaml:"name"`
	Description string                    `yaml:"description"`
	Properties  map[string]PluginProperty `yaml:"properties"`
	Timeout     any                       `yaml:"timeout"`
}

// ValidPluginName reports whether name can be a plugin task type.
func ValidPluginName(name string) bool { return pluginNameRe.MatchString(name) }

// LoadPlugins reads every spec (*.yaml) of dir and checks that its executable is there. An empty
// dir means no plugins. Every bad spec is reported, joined in one error wrapping
// ErrInvalidPlugin; files that are not specs are ignored.
func LoadPlugins(dir string) (map[string]PluginSpec, error) {
	out := map[string]PluginSpec{}
	if dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read plugin directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), PluginSpecExt)
		if !ok || e.IsDir() {
			continue
		}
		spec, err := LoadPlugin(dir, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = spec
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// LoadPlugin reads and checks the spec of plugin type name in dir, and checks its executable.
func LoadPlugin(dir, name string) (PluginSpec, error) {
	path := filepath.Join(dir, name+PluginSpecExt)
	fail := func(format string, args ...any) (PluginSpec, error) {
		return PluginSpec{}, fmt.Errorf("%w: %s: %s", ErrInvalidPlugin, path, fmt.Sprintf(format, args...))
	}
	if !ValidPluginName(name) {
		return fail("plugin name %q must be lower case letters, digits and _, starting with a letter (at most 64)", name)
	}
	if _, builtin := taskKeys[name]; builtin {
		return fail("plugin name %q is a built-in task type", name)
	}
	if _, alias := typeAliases[name]; alias {
		return fail("plugin name %q is a built-in task type", name)
	}
	src, err := readCapped(path, maxPluginSpecBytes)
	if err != nil {
		return fail("%v", err)
	}
	var raw pluginSpecFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		// yaml.v3 names our Go types; the reader only needs the line and the key.
		msg := yamlTypeRe.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		return fail("%s", msg)
	}
	spec := PluginSpec{Name: raw.Name, Description: raw.Description, Properties: raw.Properties,
		Path: filepath.Join(dir, name)}
	if spec.Properties == nil {
		spec.Properties = map[string]PluginProperty{}
	}
	var probs []string
	if raw.Name != name {
		probs = append(probs, fmt.Sprintf("name: must be %q (the file name), got %q", name, raw.Name))
	}
	if raw.Timeout != nil {
		d, ok := toSeconds(raw.Timeout)
		if _, isStr := raw.Timeout.(string); !ok || isStr || d <= 0 {
			probs = append(probs, fmt.Sprintf("timeout: must be a number of seconds greater than 0, got %s", describe(raw.Timeout)))
		}
		spec.Timeout = d
	}
	for _, k := range sortedKeys(spec.Properties) {
		p := spec.Properties[k]
		switch {
		case !ValidPluginName(k):
			probs = append(probs, fmt.Sprintf("properties.%s: property names must be lower case letters, digits and _, starting with a letter", k))
		case isCommonTaskKey(k):
			probs = append(probs, fmt.Sprintf("properties.%s: %q is a key every task has and cannot be redeclared", k, k))
		case !slices.Contains(pluginTypes, p.Type):
			probs = append(probs, fmt.Sprintf("properties.%s.type: must be one of %s, got %q", k, strings.Join(pluginTypes, ", "), p.Type))
		}
	}
	if len(probs) > 0 {
		return fail("%s", strings.Join(probs, "; "))
	}
	fi, err := os.Stat(spec.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("its executable %s does not exist", spec.Path)
	case err != nil:
		return fail("%v", err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return fail("%s is not an executable file", spec.Path)
	}
	return spec, nil
}

// readCapped reads path, refusing a file larger than limit.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("spec is %d bytes, more than the limit of %d", fi.Size(), limit)
	}
	buf := make([]byte, fi.Size())
	_, err = io.ReadFull(f, buf)
	return buf, err
}

// isCommonTaskKey reports whether k is a key of every task, which a plugin cannot redeclare.
func isCommonTaskKey(k string) bool {
	_, ok := commonTaskKeys[k]
	return ok || k == "timeout" || k == "register"
}

// propSpecs turns the spec's properties into the checks built-in task types use.
func (s PluginSpec) propSpecs() map[string]propSpec {
	out := make(map[string]propSpec, len(s.Properties))
	for k, p := range s.Properties {
		ps := propSpec{required: p.Required}
		switch p.Type {
		case PluginString:
			ps.kind = kindString
		case PluginInteger:
			ps.kind = kindInt
		case PluginNumber:
			ps.check = checkNumber
		case PluginBoolean:
			ps.kind = kindBool
		case PluginArray:
			ps.check = checkArray
		case PluginHash:
			ps.kind = kindMap
		}
		out[k] = ps
	}
	return out
}

func checkNumber(v any) string {
	switch v.(type) {
	case int, int64, float64:
		return ""
	}
	return "must be a number, got " + describe(v)
}

func checkArray(v any) string {
	if _, ok := v.([]any); !ok {
		return "must be a list, got " + describe(v)
	}
	return ""
}

// CheckProperties checks rendered properties (as JSON decodes them: numbers are float64)
// against the spec: required ones present, each of its declared type, no unknown key. It
// returns nil or an error naming every property at fault.
func (s PluginSpec) CheckProperties(props map[string]any) error {
	specs := s.propSpecs()
	var probs []string
	for _, k := range sortedKeys(props) {
		spec, ok := specs[k]
		if !ok {
			probs = append(probs, fmt.Sprintf("%s: unknown property of a %s task", k, s.Name))
			continue
		}
		if msg := checkKind(spec, props[k], false); msg != "" {
			probs = append(probs, k+": "+msg)
		}
	}
	for _, k := range sortedKeys(specs) {
		if _, ok := props[k]; specs[k].required && !ok {
			probs = append(probs, fmt.Sprintf("%s: required property is missing", k))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidPluginTask, strings.Join(probs, "; "))
	}
	return nil
}

// ParseOption changes how Parse reads a document.
type ParseOption func(*parseOptions)

type parseOptions struct {
	plugins map[string]PluginSpec
}

// WithPlugins makes Parse accept the plugin task types of specs (from LoadPlugins), checking
// their properties like those of built-in types: required ones present, declared types, unknown
// keys refused.
func WithPlugins(specs map[string]PluginSpec) ParseOption {
	return func(o *parseOptions) { o.plugins = specs }
}

// pluginTaskKeys returns the property checks of plugin type name, when the parse knows it.
func (d *decoder) pluginTaskKeys(name string) (map[string]propSpec, bool) {
	spec, ok := d.opts.plugins[name]
	if !ok {
		return nil, false
	}
	return spec.propSpecs(), true
}

// taskSpellings lists the task types this parse accepts, plugins included, for messages.
func (d *decoder) taskSpellings() string {
	if len(d.opts.plugins) == 0 {
		return knownTaskSpellings()
	}
	return knownTaskSpellings() + "; plugins: " + keyList(d.opts.plugins)
}
