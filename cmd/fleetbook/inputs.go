package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// inputFlags collect input values: a file of them, and single NAME=VALUE pairs that win over it.
type inputFlags struct {
	pairs []string
	file  string
}

// values merges the input file and the pairs. Pair values stay strings: the coordinator converts
// them to the type each input declares.
func (f *inputFlags) values() (map[string]any, error) {
	out := map[string]any{}
	if f.file != "" {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return nil, exitf(exitRefused, "--inputs: %v", err)
		}
		switch strings.ToLower(filepath.Ext(f.file)) {
		case ".json":
			err = json.Unmarshal(b, &out)
		case ".yaml", ".yml":
			err = yaml.Unmarshal(b, &out)
		default:
			return nil, exitf(exitRefused, "--inputs %s: the file must end in .json, .yaml or .yml", f.file)
		}
		if err != nil {
			return nil, exitf(exitRefused, "--inputs %s: %v", f.file, err)
		}
	}
	// A name given more than once collects its values into a list (for Array inputs); the
	// pairs replace what the file gave for the same name. Values stay strings: ResolveInputs
	// converts them to each input's declared type.
	pairs := map[string][]any{}
	var order []string
	for _, p := range f.pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, exitf(exitRefused, "--input %q: expected NAME=VALUE", p)
		}
		if _, seen := pairs[name]; !seen {
			order = append(order, name)
		}
		pairs[name] = append(pairs[name], value)
	}
	for _, name := range order {
		if l := pairs[name]; len(l) == 1 {
			out[name] = l[0]
		} else {
			out[name] = l
		}
	}
	return out, nil
}

func readPlaybook(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, exitf(exitRefused, "read playbook: %v", err)
	}
	return b, nil
}
