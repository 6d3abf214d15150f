package playbooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Types an agent action's inputs may declare.
const (
	AgentTypeString  = "string"
	AgentTypeInteger = "integer"
	AgentTypeNumber  = "number"
	AgentTypeBoolean = "boolean"
	AgentTypeList    = "list"
	AgentTypeHash    = "hash"
	AgentTypeAny     = "any"
)

// agentTypeAliases maps the spellings of Choria DDLs and JSON Schema to ours.
var agentTypeAliases = map[string]string{
	"string": AgentTypeString, "integer": AgentTypeInteger, "number": AgentTypeNumber, "float": AgentTypeNumber,
	"boolean": AgentTypeBoolean, "bool": AgentTypeBoolean, "list": AgentTypeList, "array": AgentTypeList,
	"hash": AgentTypeHash, "object": AgentTypeHash, "any": AgentTypeAny, "": AgentTypeAny,
}

// AgentDefinition describes a node agent: its actions and their typed inputs and outputs. Node
// agents load it from NAME.yaml in their agents directory and publish it (as JSON) in the agents
// bucket, so a coordinator can check an rpc task's properties before anything is sent.
type AgentDefinition struct {
	Name        string                  `yaml:"name" json:"name"`
	Version     string                  `yaml:"version" json:"version"`
	Description string                  `yaml:"description" json:"description,omitempty"`
	Actions     map[string]*AgentAction `yaml:"actions" json:"actions"`
	// Executable is the implementation, relative to the definition's directory; empty means the
	// file named like the agent next to the definition. It is the node's business: not published.
	Executable string `yaml:"executable,omitempty" json:"-"`
}

// AgentAction is one action of an agent.
type AgentAction struct {
	Description string                 `yaml:"description" json:"description,omitempty"`
	Inputs      map[string]*AgentInput `yaml:"inputs" json:"inputs,omitempty"`
	Outputs     map[string]*AgentInput `yaml:"outputs" json:"outputs,omitempty"`
}

// AgentInput is one argument of an action (or one key of its output).
type AgentInput struct {
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
func (d *AgentDefinition) ActionNames() []string {
	names := make([]string, 0, len(d.Actions))
	for n := range d.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// agentNameRe is what an agent or action may be called.
var agentNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseAgentDefinition decodes a YAML definition strictly and checks it; file names it in errors.
func ParseAgentDefinition(file string, data []byte) (*AgentDefinition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d AgentDefinition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrAgentDefinition, file, err)
	}
	if err := d.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &d, nil
}

// DecodeAgentDefinition decodes a published (JSON) definition and checks it.
func DecodeAgentDefinition(data []byte) (*AgentDefinition, error) {
	var d AgentDefinition
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAgentDefinition, err)
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Check validates the definition and prepares it for Arguments: input types are normalised,
// validations compiled and defaults coerced. It must be called once before the definition is
// used; ParseAgentDefinition and DecodeAgentDefinition do.
func (d *AgentDefinition) Check() error {
	if err := d.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrAgentDefinition, err)
	}
	return nil
}

func (d *AgentDefinition) check() error {
	if !agentNameRe.MatchString(d.Name) {
		return fmt.Errorf("name %q must be lower-case letters, digits and '_'", d.Name)
	}
	if d.Version == "" {
		return fmt.Errorf("version is required")
	}
	if len(d.Actions) == 0 {
		return fmt.Errorf("actions: at least one action is required")
	}
	for an, a := range d.Actions {
		if !agentNameRe.MatchString(an) {
			return fmt.Errorf("actions.%s: action names must be lower-case letters, digits and '_'", an)
		}
		if a == nil {
			d.Actions[an] = &AgentAction{}
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
		for on, o := range a.Outputs {
			if o == nil {
				a.Outputs[on] = &AgentInput{Type: AgentTypeAny}
			} else if t, ok := agentTypeAliases[strings.ToLower(o.Type)]; ok {
				o.Type = t
			}
		}
	}
	return nil
}

func (i *AgentInput) check() error {
	t, ok := agentTypeAliases[strings.ToLower(i.Type)]
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
