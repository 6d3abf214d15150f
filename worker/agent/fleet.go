package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFleet bounds a generated group, so a typo (count: 1000000000) fails clearly instead of
// exhausting memory.
const maxFleet = 1_000_000

// Fleet is a fleet file: the nodes one process simulates, and where their agents are.
type Fleet struct {
	// AgentsDir is the agent definitions directory, resolved against the fleet file's directory;
	// empty when the file names none.
	AgentsDir string
	Nodes     []Node
	// Receiver, when the file asks for one, is the local HTTP sink the fleet process runs for
	// the playbooks' webhook and chat calls (see NewReceiver).
	Receiver *ReceiverConfig
}

// fleetFile is the YAML form: a mapping with agents_dir and nodes, or just the list of nodes.
type fleetFile struct {
	AgentsDir string          `yaml:"agents_dir"`
	Receiver  *ReceiverConfig `yaml:"receiver"`
	Nodes     []fleetNode     `yaml:"nodes"`
}

// fleetNode is one node, or with count a group of count nodes whose identity is a printf
// pattern of the index (web%05d.sim), starting at start (default 1). A group's nodes share its
// facts and classes.
type fleetNode struct {
	Identity string         `yaml:"identity"`
	Count    int            `yaml:"count"`
	Start    *int           `yaml:"start"`
	Facts    map[string]any `yaml:"facts"`
	Classes  []string       `yaml:"classes"`
}

// LoadFleet reads and expands a fleet file.
func LoadFleet(file string) (*Fleet, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFleet, err)
	}
	f, err := ParseFleet(file, data)
	if err != nil {
		return nil, err
	}
	if f.AgentsDir != "" && !filepath.IsAbs(f.AgentsDir) {
		f.AgentsDir = filepath.Join(filepath.Dir(file), f.AgentsDir)
	}
	return f, nil
}

// ParseFleet decodes a fleet document strictly and expands its groups; file names it in errors.
func ParseFleet(file string, data []byte) (*Fleet, error) {
	var ff fleetFile
	trimmed := bytes.TrimSpace(data)
	var err error
	if bytes.HasPrefix(trimmed, []byte("-")) || bytes.HasPrefix(trimmed, []byte("[")) {
		err = strictYAML(data, &ff.Nodes)
	} else {
		err = strictYAML(data, &ff)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFleet, file, err)
	}
	if len(ff.Nodes) == 0 {
		return nil, fmt.Errorf("%w: %s: nodes: at least one node is required", ErrFleet, file)
	}
	if ff.Receiver != nil {
		if err := ff.Receiver.check(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFleet, file, err)
		}
	}
	fleet := &Fleet{AgentsDir: ff.AgentsDir, Receiver: ff.Receiver}
	seen := map[string]bool{}
	for i, fn := range ff.Nodes {
		where := fmt.Sprintf("%s: nodes[%d]", file, i)
		nodes, err := fn.expand()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFleet, where, err)
		}
		for _, n := range nodes {
			if err := checkNode(n); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if seen[n.Identity] {
				return nil, fmt.Errorf("%w: %s: identity %q is listed twice", ErrFleet, where, n.Identity)
			}
			seen[n.Identity] = true
		}
		fleet.Nodes = append(fleet.Nodes, nodes...)
	}
	return fleet, nil
}

func (fn fleetNode) expand() ([]Node, error) {
	if fn.Identity == "" {
		return nil, fmt.Errorf("identity is required")
	}
	facts, _ := normalize(orEmpty(fn.Facts)).(map[string]any)
	if fn.Count == 0 && fn.Start == nil {
		return []Node{{Identity: fn.Identity, Facts: facts, Classes: fn.Classes}}, nil
	}
	if fn.Count < 1 || fn.Count > maxFleet {
		return nil, fmt.Errorf("count must be between 1 and %d, got %d", maxFleet, fn.Count)
	}
	if strings.Count(fn.Identity, "%") != 1 {
		return nil, fmt.Errorf("identity %q of a group must hold exactly one %%d-style verb, e.g. web%%05d.sim", fn.Identity)
	}
	start := 1
	if fn.Start != nil {
		start = *fn.Start
	}
	nodes := make([]Node, fn.Count)
	for i := range nodes {
		nodes[i] = Node{Identity: fmt.Sprintf(fn.Identity, start+i), Facts: facts, Classes: fn.Classes}
	}
	return nodes, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func strictYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}
