package playbooks

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// shellMeta are the characters the shellsafe validation refuses (Choria's list).
const shellMeta = "`$;|&><\n\r\x00\"'\\"

// Arguments checks data against the action's inputs and returns the arguments the action runs
// with: defaults filled in, values coerced to their declared type. Every problem is reported,
// each naming its input.
//
// Choria's old symbol style (":message") names the same input as "message".
func (a *AgentAction) Arguments(data map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(a.Inputs))
	var problems []string
	data, problems = unsymbol(data)
	names := make([]string, 0, len(data))
	for n := range data {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := a.Inputs[n]; !ok {
			problems = append(problems, fmt.Sprintf("unknown input %q", n))
		}
	}
	inputs := make([]string, 0, len(a.Inputs))
	for n := range a.Inputs {
		inputs = append(inputs, n)
	}
	sort.Strings(inputs)
	for _, n := range inputs {
		in := a.Inputs[n]
		v, present := data[n]
		if !present || v == nil {
			switch {
			case in.Default != nil:
				out[n] = in.Default
			case in.Required:
				problems = append(problems, fmt.Sprintf("input %q is required", n))
			}
			continue
		}
		cv, err := in.coerce(v)
		if err == nil {
			err = in.validate(cv)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("input %q: %v", n, err))
			continue
		}
		out[n] = cv
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// unsymbol renames ":name" keys to "name".
func unsymbol(data map[string]any) (map[string]any, []string) {
	has := false
	for k := range data {
		if strings.HasPrefix(k, ":") {
			has = true
			break
		}
	}
	if !has {
		return data, nil
	}
	out := make(map[string]any, len(data))
	var problems []string
	for k, v := range data {
		name := strings.TrimPrefix(k, ":")
		if _, dup := out[name]; dup {
			problems = append(problems, fmt.Sprintf("input %q is given twice (as %q and %q)", name, name, ":"+name))
		}
		out[name] = v
	}
	sort.Strings(problems)
	return out, problems
}

// coerce converts v to the input's type. Rendered playbook properties are often strings, so
// "5" is an integer and "true" a boolean when the type says so.
func (in *AgentInput) coerce(v any) (any, error) {
	switch in.Type {
	case AgentTypeString:
		switch x := v.(type) {
		case string:
			return x, nil
		case float64, int, int64, bool:
			return fmt.Sprint(x), nil
		}
	case AgentTypeInteger:
		switch x := v.(type) {
		case float64:
			if x == math.Trunc(x) {
				return int64(x), nil
			}
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i, nil
			}
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return i, nil
			}
		}
	case AgentTypeNumber:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return f, nil
			}
		}
	case AgentTypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b, nil
			}
		}
	case AgentTypeList:
		if x, ok := v.([]any); ok {
			return x, nil
		}
	case AgentTypeHash:
		if x, ok := v.(map[string]any); ok {
			return x, nil
		}
	case AgentTypeAny:
		return v, nil
	}
	return nil, fmt.Errorf("%s is not a valid %s", describeArg(v), in.Type)
}

// validate applies the input's validation to a coerced string value.
func (in *AgentInput) validate(v any) error {
	s, ok := v.(string)
	if !ok || in.Validation == "" {
		return nil
	}
	if in.Validation == "shellsafe" {
		if strings.ContainsAny(s, shellMeta) {
			return fmt.Errorf("%q is not shellsafe (contains one of ` $ ; | & > < \" ' \\ or a newline)", s)
		}
		return nil
	}
	if in.re == nil {
		return fmt.Errorf("validation %q was not compiled (the definition was not checked)", in.Validation)
	}
	if !in.re.MatchString(s) {
		return fmt.Errorf("%q does not match %s", s, in.Validation)
	}
	return nil
}

func describeArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 60 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}
