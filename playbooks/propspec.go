package playbooks

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// valueKind is the type a property value must have.
type valueKind int

const (
	kindAny        valueKind = iota // anything
	kindString                      // a string
	kindInt                         // an integer
	kindSeconds                     // a number of seconds (int, float or numeric string)
	kindBool                        // true or false
	kindStringList                  // a list of strings
	kindMap                         // a map with any values
	kindStringMap                   // a map of scalar values
	kindURL                         // an http or https URL
)

// propSpec describes one allowed property key.
type propSpec struct {
	kind     valueKind
	required bool
	// literal refuses templates for keys read before anything is rendered.
	literal bool
	// enum lists allowed string values (compared case-insensitively).
	enum []string
	// min is the smallest allowed number for kindInt/kindSeconds, when hasMin.
	min    float64
	hasMin bool
	// gt requires the number to be strictly greater than min.
	gt bool
	// pattern, for kindString, is a regular expression the (untemplated) value must match.
	pattern *pattern
	// check is an extra check run after the kind check passed; it returns a message or "".
	check func(v any) string
}

// pattern is a regular expression a string property must match, and what to say when not.
type pattern struct {
	re   *regexp.Regexp
	must string
}

// isTemplate reports whether s holds a template, which can only be type-checked once rendered.
func isTemplate(s string) bool { return strings.Contains(s, "{{") }

// describe formats a value for a message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%v", v)
}

// checkValue returns "" when v fits spec, or a message saying what is wrong. A string holding a
// template passes (unless spec is literal): it is checked once rendered.
func checkValue(spec propSpec, v any) string { return checkKind(spec, v, true) }

// checkKind is checkValue with control over whether template strings pass.
func checkKind(spec propSpec, v any, allowTemplates bool) string {
	if s, ok := v.(string); ok && allowTemplates && isTemplate(s) {
		if spec.literal {
			return "must be a literal value, templates are not supported here"
		}
		return ""
	}
	switch spec.kind {
	case kindString, kindURL:
		s, ok := v.(string)
		if !ok {
			return "must be a string, got " + describe(v)
		}
		if len(spec.enum) > 0 && !containsFold(spec.enum, s) {
			return fmt.Sprintf("must be one of %s, got %q", strings.Join(spec.enum, ", "), s)
		}
		if spec.kind == kindURL {
			if msg := checkURL(s); msg != "" {
				return msg
			}
		}
		if spec.pattern != nil && !spec.pattern.re.MatchString(s) {
			return fmt.Sprintf("%s, got %q", spec.pattern.must, s)
		}
	case kindInt:
		i, ok := toInt(v)
		if !ok {
			return "must be an integer, got " + describe(v)
		}
		if spec.hasMin && float64(i) < spec.min {
			return fmt.Sprintf("must be at least %v, got %d", spec.min, i)
		}
	case kindSeconds:
		d, ok := toSeconds(v)
		if !ok {
			return "must be a number of seconds, got " + describe(v)
		}
		if spec.gt && d <= 0 {
			return "must be a number of seconds greater than 0, got " + describe(v)
		}
		if d < 0 {
			return "must not be negative, got " + describe(v)
		}
	case kindBool:
		if _, ok := v.(bool); !ok {
			return "must be true or false, got " + describe(v)
		}
	case kindStringList:
		if _, ok := v.([]string); ok {
			return ""
		}
		l, ok := v.([]any)
		if !ok {
			return "must be a list of strings, got " + describe(v)
		}
		for i, it := range l {
			s, ok := it.(string)
			if !ok {
				return fmt.Sprintf("item %d must be a string, got %s", i, describe(it))
			}
			if len(spec.enum) > 0 && !(allowTemplates && isTemplate(s)) && !containsFold(spec.enum, s) {
				return fmt.Sprintf("item %d must be one of %s, got %q", i, strings.Join(spec.enum, ", "), s)
			}
		}
	case kindMap:
		if _, ok := v.(map[string]any); !ok {
			return "must be a map, got " + describe(v)
		}
	case kindStringMap:
		m, ok := v.(map[string]any)
		if !ok {
			return "must be a map, got " + describe(v)
		}
		for _, k := range sortedKeys(m) {
			switch m[k].(type) {
			case string, int, int64, float64, bool:
			default:
				return fmt.Sprintf("value of %q must be a string, got %s", k, describe(m[k]))
			}
		}
	}
	if spec.check != nil {
		return spec.check(v)
	}
	return ""
}

// checkURL returns "" when s is an absolute http or https URL with a host, or what is wrong:
// "http:///path" or "https://:443" name no server, and would be sent to whatever the HTTP client
// makes of them.
func checkURL(s string) string {
	if !(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
		return fmt.Sprintf("must be an http:// or https:// URL, got %q", s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("must be a valid URL, got %q", s)
	case u.Hostname() == "":
		return fmt.Sprintf("must name a host (http://HOST/...), got %q", s)
	case u.Port() != "":
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fmt.Sprintf("must have a port from 1 to 65535, got %q", s)
		}
	}
	return ""
}

// toInt converts whole numbers (and whole-number text) to int.
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), x == int64(int(x))
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(x))
		return i, err == nil
	}
	return 0, false
}

// toSeconds converts a number of seconds (int, float or numeric text) to a duration.
func toSeconds(v any) (time.Duration, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case string:
		var err error
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f != f || f > float64(1<<62)/float64(time.Second) || f < -float64(1<<62)/float64(time.Second) {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyList formats allowed keys for an "unknown key" message.
func keyList[V any](m map[string]V) string {
	return strings.Join(sortedKeys(m), ", ")
}

// suggest returns ` (did you mean "x"?)` when key is a close misspelling of an allowed key.
func suggest[V any](key string, allowed map[string]V) string {
	if len(key) > 64 {
		return "" // no real misspelling is this long; don't spend time on hostile keys
	}
	best, bestD := "", 4
	for _, k := range sortedKeys(allowed) {
		if d := editDistance(key, k); d < bestD && 2*d < len(key) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal-string-alignment distance of two short strings: Levenshtein
// plus the swap of two adjacent letters as one edit ("nmae" is one edit from "name").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
