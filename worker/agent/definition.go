package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetbook/fleetbook/playbooks"
)

// Input types an action's inputs may declare (see playbooks.AgentInput).
const (
	TypeString  = playbooks.AgentTypeString
	TypeInteger = playbooks.AgentTypeInteger
	TypeNumber  = playbooks.AgentTypeNumber
	TypeBoolean = playbooks.AgentTypeBoolean
	TypeList    = playbooks.AgentTypeList
	TypeHash    = playbooks.AgentTypeHash
	TypeAny     = playbooks.AgentTypeAny
)

// Action is one action of an agent; Input one of its arguments. The definition language and its
// argument checks live in playbooks, so coordinators check rpc properties with the same rules.
type (
	Action = playbooks.AgentAction
	Input  = playbooks.AgentInput
)

// Definition is an agent definition (the YAML file NAME.yaml in an agents directory) bound to its
// implementation on this node.
type Definition struct {
	*playbooks.AgentDefinition

	// path is the executable's absolute path; empty for built-in agents.
	path    string
	builtin builtinFunc
}

// ParseDefinition decodes a definition strictly and checks it; file names it in errors.
func ParseDefinition(file string, data []byte) (*Definition, error) {
	d, err := playbooks.ParseAgentDefinition(file, data)
	if err != nil {
		return nil, err // wraps ErrDefinition
	}
	return &Definition{AgentDefinition: d}, nil
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
