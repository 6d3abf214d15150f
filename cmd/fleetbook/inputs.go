package main

import (
	"encoding/json"
	"maps"
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
//
// For Choria users, an --input that starts with "@" names a .json/.yaml file and one that starts
// with "{" is a JSON object of values (Choria's `--input @file.json` and `--input '{...}'`); both
// are merged in order, before the NAME=VALUE pairs.
func (f *inputFlags) values() (map[string]any, error) {
	out := map[string]any{}
	if f.file != "" {
		if err := readInputFile(f.file, "--inputs", out); err != nil {
			return nil, err
		}
	}
	var plain []string
	for _, p := range f.pairs {
		switch {
		case strings.HasPrefix(p, "@"):
			if err := readInputFile(p[1:], "--input", out); err != nil {
				return nil, err
			}
		case strings.HasPrefix(strings.TrimSpace(p), "{"):
			var m map[string]any
			if err := json.Unmarshal([]byte(p), &m); err != nil {
				return nil, exitf(exitRefused, "--input: invalid JSON object: %v", err)
			}
			maps.Copy(out, m)
		default:
			plain = append(plain, p)
		}
	}
	// A name given more than once collects its values into a list (for Array inputs); the
	// pairs replace what the file gave for the same name. Values stay strings: ResolveInputs
	// converts them to each input's declared type.
	pairs := map[string][]any{}
	var order []string
	for _, p := range plain {
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

// readInputFile merges the map of input values in a .json, .yaml or .yml file into out.
func readInputFile(path, flag string, out map[string]any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return exitf(exitRefused, "%s: %v", flag, err)
	}
	var m map[string]any
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		err = json.Unmarshal(b, &m)
	case ".yaml", ".yml":
		err = yaml.Unmarshal(b, &m)
	default:
		return exitf(exitRefused, "%s %s: the file must end in .json, .yaml or .yml", flag, path)
	}
	if err != nil {
		return exitf(exitRefused, "%s %s: %v", flag, path, err)
	}
	maps.Copy(out, m)
	return nil
}

func readPlaybook(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, exitf(exitRefused, "read playbook: %v", err)
	}
	return b, nil
}
