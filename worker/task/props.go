package task

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// props reads a job's rendered properties (JSON-decoded: numbers are float64). It keeps the
// first problem, naming the property but never its value, which may be a secret.
type props struct {
	m   map[string]any
	err error
}

func (p *props) fail(key, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("property %s: %s", key, fmt.Sprintf(format, args...))
	}
}

// str returns a string property, def when absent; required makes absence a problem.
func (p *props) str(key, def string, required bool) string {
	v, ok := p.m[key]
	if !ok || v == nil {
		if required {
			p.fail(key, "is required")
		}
		return def
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, "must be a string, got %s", typeName(v))
		return def
	}
	if required && s == "" {
		p.fail(key, "must not be empty")
	}
	return s
}

// boolean returns a boolean property, def when absent. The text "true"/"false" is accepted: a
// template that is not a whole string renders to text.
func (p *props) boolean(key string, def bool) bool {
	switch v := p.m[key].(type) {
	case nil:
		return def
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	p.fail(key, "must be true or false, got %s", typeName(p.m[key]))
	return def
}

// strMap returns a map whose values are scalars, as text (headers).
func (p *props) strMap(key string) map[string]string {
	v, ok := p.m[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(key, "must be a map, got %s", typeName(v))
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := scalarText(m[k])
		if !ok {
			p.fail(key, "value of %q must be a string, got %s", k, typeName(m[k]))
			return nil
		}
		out[k] = s
	}
	return out
}

// strList returns a list of strings, def when absent.
func (p *props) strList(key string, def []string) []string {
	v, ok := p.m[key]
	if !ok || v == nil {
		return def
	}
	l, ok := v.([]any)
	if !ok {
		p.fail(key, "must be a list of strings, got %s", typeName(v))
		return def
	}
	out := make([]string, 0, len(l))
	for i, it := range l {
		s, ok := scalarText(it)
		if !ok {
			p.fail(key, "item %d must be a string, got %s", i, typeName(it))
			return def
		}
		out = append(out, s)
	}
	return out
}

// scalarText formats a string, number or boolean as text; JSON numbers that are whole print
// without a fraction.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// typeName names a JSON value's type for a message.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}
