package discover

import (
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// maxNodeSourceFile caps the size of a yaml node source file.
const maxNodeSourceFile = 16 << 20

// yamlNodes reads the hosts of one group of a YAML file that maps group names to lists of
// hosts. As in Choria, a group that is missing, not a list or empty is an error (so empty_ok
// does not apply to it: an empty group is taken to be a mistake in the file). Every host must be
// a valid node identity, as from the sources of truth.
func yamlNodes(props map[string]any) ([]string, error) {
	source, err := stringProp(props, "source", true)
	if err != nil {
		return nil, err
	}
	group, err := stringProp(props, "group", true)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(source)
	if err != nil {
		return nil, fmt.Errorf("cannot read node source file %s: %w", source, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxNodeSourceFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read node source file %s: %w", source, err)
	}
	if len(data) > maxNodeSourceFile {
		return nil, fmt.Errorf("node source file %s is larger than %d bytes", source, maxNodeSourceFile)
	}
	var groups map[string]any
	if err := yaml.Unmarshal(data, &groups); err != nil {
		return nil, fmt.Errorf("node source file %s is not a YAML map of groups to host lists: %w", source, err)
	}
	v, ok := groups[group]
	if !ok {
		return nil, fmt.Errorf("node source file %s has no group %q", source, group)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("group %q in node source file %s is not a list of hosts (it is %s)", group, source, yamlKind(v))
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("group %q in node source file %s is empty", group, source)
	}
	hosts := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("group %q in node source file %s: entry %d is not a host name (it is %s)", group, source, i+1, yamlKind(e))
		}
		hosts = append(hosts, s)
	}
	return hosts, checkIdentities(hosts, fmt.Sprintf("group %q in node source file %s", group, source))
}

// yamlKind describes a decoded YAML value for an error message.
func yamlKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if x == "" {
			return "an empty string"
		}
		return fmt.Sprintf("the string %q", x)
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("the %T %v", v, v)
}
