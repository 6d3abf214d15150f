package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Input types an action's inputs may declare.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeList    = "list"
	TypeHash    = "hash"
	TypeAny     = "any"
)

// typeAliases maps the spellings of Choria DDLs and JSON Schema to ours.
var typeAliases = map[string]string{
	"string": TypeString, "integer": TypeInteger, "number": TypeNumber, "float": TypeNumber,
	"boolean": TypeBoolean, "bool": TypeBoolean, "list": TypeList, "array": TypeList,
	"hash": TypeHash, "object": TypeHash, "any": TypeAny, "": TypeAny,
}

// Definition describes an agent: its actions and their typed inputs and outputs. It is the
// YAML file NAME.yaml in an agents directory.
type Definition struct {
	Name        string             `yaml:"name" json:"name"`
	Version     string             `yaml:"version" json:"version"`
	Description string             `yaml:"description" json:"description,omitempty"`
	Actions     map[string]*Action `yaml:"actions" json:"actions"`
	// Executable is the implementation, relative to the definition's directory; empty means the
	// file named like the agent next to the definition. Built-in agents have none.
	Executable string `yaml:"executable,omitempty" json:"-"`

	// path is the executable's absolute path; empty for built-in agents.
	path    string
	builtin builtinFunc
}

// Action is one action of an agent.
type Action struct {
	Description string            `yaml:"description" json:"description,omitempty"`
	Inputs      map[string]*Input `yaml:"inputs" json:"inputs,omitempty"`
	Outputs     map[string]*Input `yaml:"outputs" json:"outputs,omitempty"`
}

// Input is one argument of an action (or one key of its output).
type Input struct {
	Type        string `yaml:"type" json:"type"`
	Required    bool   `yaml:"required" json:"required,omitempty"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Validation is a regular expression a string must match, or shellsafe (no shell
	// metacharacters).
	Validation string `yaml:"validation" json:"validation,omitempty"`
	// Default is used when the argument is absent.
	Default any `yaml:"default" json:"default,omitempty"`

	re *regexp.Regexp
}

// ActionNames lists the definition's actions, sorted.
func (d *Definition) ActionNames() []string {
	names := make([]string, 0, len(d.Actions))
	for n := range d.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// agentName is what an agent or action may be called.
var agentName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseDefinition decodes a definition strictly and checks it; file names it in errors.
func ParseDefinition(file string, data []byte) (*Definition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDefinition, file, err)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDefinition, file, err)
	}
	return &d, nil
}

func (d *Definition) check() error {
	if !agentName.MatchString(d.Name) {
		return fmt.Errorf("name %q must be lower-case letters, digits and '_'", d.Name)
	}
	if d.Version == "" {
		return fmt.Errorf("version is required")
	}
	if len(d.Actions) == 0 {
		return fmt.Errorf("actions: at least one action is required")
	}
	for an, a := range d.Actions {
		if !agentName.MatchString(an) {
			return fmt.Errorf("actions.%s: action names must be lower-case letters, digits and '_'", an)
		}
		if a == nil {
			d.Actions[an] = &Action{}
			continue
		}
		for in, i := range a.Inputs {
			if i == nil {
				return fmt.Errorf("actions.%s.inputs.%s: empty input", an, in)
			}
			if err := i.check(); err != nil {
				return fmt.Errorf("actions.%s.inputs.%s: %w", an, in, err)
			}
		}
	}
	return nil
}

func (i *Input) check() error {
	t, ok := typeAliases[strings.ToLower(i.Type)]
	if !ok {
		return fmt.Errorf("type %q is not one of string, integer, number, boolean, list, hash, any", i.Type)
	}
	i.Type = t
	if i.Validation != "" && i.Validation != "shellsafe" {
		re, err := regexp.Compile(i.Validation)
		if err != nil {
			return fmt.Errorf("validation: %w", err)
		}
		i.re = re
	}
	if i.Default != nil {
		v, err := i.coerce(i.Default)
		if err != nil {
			return fmt.Errorf("default: %w", err)
		}
		i.Default = v
	}
	return nil
}

// LoadDefinitions reads every NAME.yaml (or .yml) in dir and binds each to its executable (the
// definition's executable field, or the file NAME next to it). The built-in rpcutil is always
// present; a definition file may not replace it.
func LoadDefinitions(dir string) (map[string]*Definition, error) {
	defs := map[string]*Definition{builtinRPCUtil.Name: builtinRPCUtil}
	if dir == "" {
		return defs, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: agents dir: %w", ErrDefinition, err)
	}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDefinition, err)
		}
		d, err := ParseDefinition(file, data)
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSuffix(e.Name(), ext); d.Name != want {
			return nil, fmt.Errorf("%w: %s: name %q does not match the file name %q", ErrDefinition, file, d.Name, want)
		}
		if _, dup := defs[d.Name]; dup {
			return nil, fmt.Errorf("%w: %s: agent %s is defined twice (or is built in)", ErrDefinition, file, d.Name)
		}
		exe := d.Executable
		if exe == "" {
			exe = d.Name
		}
		if !filepath.IsAbs(exe) {
			exe = filepath.Join(dir, exe)
		}
		abs, err := filepath.Abs(exe)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: executable: %w", ErrDefinition, file, err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: executable: %w", ErrDefinition, file, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("%w: %s: executable %s is not an executable file", ErrDefinition, file, abs)
		}
		d.path = abs
		defs[d.Name] = d
	}
	return defs, nil
}
