package playbooks

import (
	"strings"
	"time"
)

// ShellSpec is a shell task's properties after rendering, type-checked.
type ShellSpec struct {
	// Command is the command line, run through `sh -c`.
	Command string
	// Cwd is the working directory; empty means the runner's.
	Cwd string
	// Timeout bounds the run; 0 means no timeout.
	Timeout time.Duration
	// Environment holds extra environment variables.
	Environment map[string]string
	// Nodes, when given, is appended to the command as ` --nodes n1,n2` (Choria behaviour).
	Nodes []string
}

// DecodeShell type-checks the RENDERED properties of a shell task (Task.Properties after Render,
// or after RenderShell for the command). Timeout is a number of seconds (int, float or numeric
// string) greater than 0. Environment values may be strings, numbers or booleans (converted to
// text). Errors are a *ValidationError with paths like "shell.timeout".
func DecodeShell(props map[string]any) (ShellSpec, error) {
	var probs problems
	var spec ShellSpec
	specs := taskKeys[TypeShell]
	for _, k := range sortedKeys(props) {
		v := props[k]
		path := joinPath(TypeShell, k)
		ps, ok := specs[k]
		if !ok {
			probs.add(path, nil, "unknown key %q for a shell task", k)
			continue
		}
		if msg := checkKind(ps, v, false); msg != "" {
			probs.add(path, nil, "%s", msg)
			continue
		}
		switch k {
		case "command":
			spec.Command = v.(string)
		case "cwd":
			spec.Cwd = v.(string)
		case "timeout":
			spec.Timeout, _ = toSeconds(v)
		case "environment":
			spec.Environment = map[string]string{}
			for ek, ev := range v.(map[string]any) {
				spec.Environment[ek] = textOf(ev)
			}
		case "nodes":
			switch l := v.(type) {
			case []any:
				for _, n := range l {
					spec.Nodes = append(spec.Nodes, n.(string))
				}
			case []string:
				spec.Nodes = append(spec.Nodes, l...)
			}
		}
	}
	if c, has := props["command"]; !has {
		probs.add(joinPath(TypeShell, "command"), nil, `required key "command" is missing`)
	} else if s, ok := c.(string); ok && strings.TrimSpace(s) == "" {
		probs.add(joinPath(TypeShell, "command"), nil, "must be a non-empty command")
	}
	if err := probs.err(); err != nil {
		return ShellSpec{}, err
	}
	return spec, nil
}
