package playbooks

import (
	"sort"
	"strings"
)

// SensitiveValues returns the text of every value of a sensitive input in inputs (for lists
// and maps, the whole value's text and each element's text), longest first, without empty
// strings, booleans and duplicates. Runners pass inputs that include values read from data
// stores, then scrub task output, messages and errors with Scrub before storing or publishing.
func (p *Playbook) SensitiveValues(inputs map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(v any)
	walk = func(v any) {
		if _, isBool := v.(bool); isBool {
			return // scrubbing every "true" in task output would hide nothing and garble everything
		}
		add(textOf(v))
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case []string:
			for _, e := range x {
				add(e)
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k])
			}
		}
	}
	for _, in := range p.Inputs {
		if v, ok := inputs[in.Name]; ok && in.Sensitive {
			walk(v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Scrub replaces every occurrence of each secret in text by "[redacted]". Pass the secrets in
// the order SensitiveValues returns them (longest first), so a secret that contains another is
// replaced whole.
func Scrub(text string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, Redacted)
		}
	}
	return text
}

// ScrubValue returns a deep copy of v (a task's result data: strings, lists, maps) with Scrub
// applied to every string, map keys included.
func ScrubValue(v any, secrets []string) any {
	if len(secrets) == 0 {
		return deepCopy(v)
	}
	switch x := v.(type) {
	case string:
		return Scrub(x, secrets)
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = ScrubValue(e, secrets)
		}
		return l
	case []string:
		l := make([]string, len(x))
		for i, e := range x {
			l[i] = Scrub(e, secrets)
		}
		return l
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[Scrub(k, secrets)] = ScrubValue(e, secrets)
		}
		return m
	}
	return v
}
