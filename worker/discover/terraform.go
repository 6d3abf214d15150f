package discover

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

// terraformOutputRe is a Terraform output name; it is checked so it can never read as a flag.
var terraformOutputRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// terraformNodes runs `terraform output -state=STATEFILE -json OUTPUT` (argv, no shell) and takes
// the output's list of host names. Both JSON forms are accepted: Terraform before 0.12 prints
// {"type": "list", "value": [...]}, later releases print the bare value. An output that is not
// a list (a string, a map) is an error, as in Choria.
func (d *discoverer) terraformNodes(ctx context.Context, props map[string]any) ([]string, error) {
	statefile, err := stringProp(props, "statefile", true)
	if err != nil {
		return nil, err
	}
	output, err := stringProp(props, "output", true)
	if err != nil {
		return nil, err
	}
	if !terraformOutputRe.MatchString(output) {
		return nil, fmt.Errorf("property output %q is not a Terraform output name (letters, digits, _ and -, not starting with a digit or -)", output)
	}
	bin, err := stringProp(props, "terraform", false)
	if err != nil {
		return nil, err
	}
	if bin == "" {
		bin = "terraform"
	}
	if bin, err = checkExecutable("terraform binary", bin); err != nil {
		return nil, err
	}
	f, err := os.Open(statefile)
	if err != nil {
		return nil, fmt.Errorf("cannot read terraform state file: %w", err)
	}
	f.Close()

	out, err := runProgram(ctx, []string{bin, "output", "-state=" + statefile, "-json", output}, d.sourceTimeout)
	if err != nil {
		return nil, fmt.Errorf("terraform output %s: %w", output, err)
	}
	var raw any
	if err := json.Unmarshal([]byte(out.stdout), &raw); err != nil {
		return nil, fmt.Errorf("terraform output %s did not print JSON: %w", output, err)
	}
	value := raw
	if m, ok := raw.(map[string]any); ok {
		if v, has := m["value"]; has {
			value = v
		}
	}
	list, ok := value.([]any)
	if !ok {
		return nil, fmt.Errorf("terraform output %s is %s, not a list of host names", output, jsonKind(value))
	}
	hosts := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("terraform output %s: element %d is %s, not a host name", output, i+1, jsonKind(e))
		}
		hosts = append(hosts, s)
	}
	if err := checkHostnames(hosts, "terraform output "+output+", element"); err != nil {
		return nil, err
	}
	return hosts, nil
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}
