package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fleetbook/fleetbook/kvstore"
)

// Node is one node a Server answers for.
type Node struct {
	Identity string
	// Facts are read-only: nodes of a simulated group share one map.
	Facts   map[string]any
	Classes []string
}

// node is a served Node.
type node struct {
	Node
}

// checkNode refuses an identity that cannot be a registry key and a subject.
func checkNode(n Node) error {
	if !kvstore.ValidIdentity(n.Identity) {
		return fmt.Errorf("%w: identity %q: use letters, digits, '_' and '-', in '.'-separated tokens", ErrFleet, n.Identity)
	}
	return nil
}

// LoadFacts reads a facts file: a YAML or JSON mapping (JSON is YAML).
func LoadFacts(file string) (map[string]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: facts: %w", ErrFleet, err)
	}
	facts := map[string]any{}
	if len(bytes.TrimSpace(data)) == 0 {
		return facts, nil
	}
	if err := yaml.Unmarshal(data, &facts); err != nil {
		return nil, fmt.Errorf("%w: facts %s: must be a mapping: %w", ErrFleet, file, err)
	}
	return normalize(facts).(map[string]any), nil
}

// LoadClasses reads a classes file: one class per line; blank lines and # comments are skipped.
func LoadClasses(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: classes: %w", ErrFleet, err)
	}
	defer f.Close()
	var classes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			classes = append(classes, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: classes %s: %w", ErrFleet, file, err)
	}
	return classes, nil
}

// normalize makes YAML values JSON-shaped (ints become float64 the way JSON decodes them, so
// facts compare the same whether they came from YAML or from the registry).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}
