package discover

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// nodeFilter decides whether a registered node belongs to a fleet node set.
type nodeFilter interface {
	match(n *protocol.NodeInfo) bool
}

// textMatcher matches a name exactly, or by regular expression when written /re/.
type textMatcher struct {
	exact string
	re    *regexp.Regexp
}

// parseTextMatcher reads "name" or "/re/"; what names the filter for the error.
func parseTextMatcher(what, s string) (textMatcher, error) {
	if len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
		re, err := regexp.Compile(s[1 : len(s)-1])
		if err != nil {
			return textMatcher{}, fmt.Errorf("%s %q: invalid regular expression: %w", what, s, err)
		}
		return textMatcher{re: re}, nil
	}
	if s == "" {
		return textMatcher{}, fmt.Errorf("%s must not be empty", what)
	}
	return textMatcher{exact: s}, nil
}

func (m textMatcher) matches(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return s == m.exact
}

func (m textMatcher) any(list []string) bool { return slices.ContainsFunc(list, m.matches) }

// identityFilter matches a node whose identity is one of its matchers: a node has one identity,
// so identities are alternatives, as with mco's repeated -I.
type identityFilter []textMatcher

func (f identityFilter) match(n *protocol.NodeInfo) bool {
	return slices.ContainsFunc(f, func(m textMatcher) bool { return m.matches(n.Identity) })
}

// classFilter matches a node that has a class matching m.
type classFilter struct{ m textMatcher }

func (f classFilter) match(n *protocol.NodeInfo) bool { return f.m.any(n.Classes) }

// agentFilter matches a node that runs an agent matching m.
type agentFilter struct{ m textMatcher }

func (f agentFilter) match(n *protocol.NodeInfo) bool {
	return slices.ContainsFunc(n.Agents, func(a protocol.AgentInfo) bool { return f.m.matches(a.Name) })
}

// factOps are the fact comparison operators, two-character ones first so "<=" is not read as "<".
var factOps = []string{"=~", "==", "!=", "<=", ">=", "=", "<", ">"}

// factFilter compares one fact with a value.
type factFilter struct {
	name  string
	op    string
	value string
	re    *regexp.Regexp
}

// parseFactFilter reads "name OP value", OP one of = == != < > <= >= =~. The value of =~ is a
// regular expression, with or without surrounding slashes; "= /re/" is a regex match too, as
// in mco. A value in matching double or single quotes loses them.
func parseFactFilter(s string) (factFilter, error) {
	pos, op := -1, ""
	for i := 0; i < len(s) && pos < 0; i++ {
		for _, o := range factOps {
			if strings.HasPrefix(s[i:], o) {
				pos, op = i, o
				break
			}
		}
	}
	if pos < 0 {
		return factFilter{}, fmt.Errorf("fact filter %q has no operator (one of = != < > <= >= =~)", s)
	}
	f := factFilter{name: strings.TrimSpace(s[:pos]), op: op, value: unquote(strings.TrimSpace(s[pos+len(op):]))}
	if op == "==" {
		f.op = "="
	}
	if f.name == "" {
		return factFilter{}, fmt.Errorf("fact filter %q has no fact name", s)
	}
	isRe := len(f.value) >= 2 && strings.HasPrefix(f.value, "/") && strings.HasSuffix(f.value, "/")
	if op == "=~" || (f.op == "=" && isRe) {
		expr := f.value
		if isRe {
			expr = expr[1 : len(expr)-1]
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return factFilter{}, fmt.Errorf("fact filter %q: invalid regular expression: %w", s, err)
		}
		f.op, f.re = "=~", re
	}
	return f, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// match looks the fact up (a dotted name walks nested maps) and compares it. A node without the
// fact never matches, whatever the operator, != included. A list fact matches when one of its
// elements does.
func (f factFilter) match(n *protocol.NodeInfo) bool {
	v, ok := lookupFact(n.Facts, f.name)
	if !ok {
		return false
	}
	if list, isList := v.([]any); isList {
		return slices.ContainsFunc(list, f.compare)
	}
	return f.compare(v)
}

func (f factFilter) compare(v any) bool {
	var text string
	switch x := v.(type) {
	case nil, map[string]any, []any:
		return false
	case string:
		text = x
	case float64:
		text = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		text = fmt.Sprint(x)
	}
	if f.op == "=~" {
		return f.re.MatchString(text)
	}
	var d int
	a, aerr := strconv.ParseFloat(text, 64)
	b, berr := strconv.ParseFloat(f.value, 64)
	if aerr == nil && berr == nil {
		switch {
		case a < b:
			d = -1
		case a > b:
			d = 1
		}
	} else {
		d = strings.Compare(text, f.value)
	}
	switch f.op {
	case "=":
		return d == 0
	case "!=":
		return d != 0
	case "<":
		return d < 0
	case ">":
		return d > 0
	case "<=":
		return d <= 0
	}
	return d >= 0
}

// lookupFact finds name among facts: a top-level key of that exact name first, otherwise the
// dotted path through nested maps (os.family → facts["os"]["family"]).
func lookupFact(facts map[string]any, name string) (any, bool) {
	if v, ok := facts[name]; ok {
		return v, true
	}
	var cur any = facts
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// fleetFilters builds the filters of a fleet node set from its properties: identities,
// classes, facts, agents (lists of strings) and compound (a string). Every filter must match.
func fleetFilters(props map[string]any) ([]nodeFilter, error) {
	var out []nodeFilter
	ids, err := stringList(props, "identities")
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		var f identityFilter
		for _, s := range ids {
			m, err := parseTextMatcher("identities entry", s)
			if err != nil {
				return nil, err
			}
			f = append(f, m)
		}
		out = append(out, f)
	}
	for _, key := range []string{"classes", "agents", "facts"} {
		list, err := stringList(props, key)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			var f nodeFilter
			switch key {
			case "classes":
				m, err := parseTextMatcher("classes entry", s)
				if err != nil {
					return nil, err
				}
				f = classFilter{m}
			case "agents":
				m, err := parseTextMatcher("agents entry", s)
				if err != nil {
					return nil, err
				}
				f = agentFilter{m}
			default:
				ff, err := parseFactFilter(s)
				if err != nil {
					return nil, fmt.Errorf("facts: %w", err)
				}
				f = ff
			}
			out = append(out, f)
		}
	}
	if c, ok := props["compound"]; ok {
		s, isString := c.(string)
		if !isString {
			return nil, fmt.Errorf("compound must be a string, got %T", c)
		}
		if strings.TrimSpace(s) != "" {
			f, err := parseCompound(s)
			if err != nil {
				return nil, fmt.Errorf("compound: %w", err)
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// stringList reads an optional property that must be a list of strings (a single string is
// taken as a one-element list, since a rendered template may give one).
func stringList(props map[string]any, key string) ([]string, error) {
	v, ok := props[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d] must be a string, got %T", key, i, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a list of strings, got %T", key, v)
}
