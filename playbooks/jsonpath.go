package playbooks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxJSONPathSegments bounds a JSON path: no inventory document is nested deeper, and a path is
// walked once per matched value.
const maxJSONPathSegments = 64

// JSONPath is a parsed `path` of an http node set: where the identities are in a JSON
// document. It is a small subset of JSONPath, enough to reach a list in an inventory answer:
//
//	path    = [ "$" ] { segment }
//	segment = "." name | "." "*" | "[" index "]" | "[" "*" "]" | "[" quoted "]"
//	          (the first segment may omit its ".": "hosts[*].name")
//	name    = letters, digits, "_" and "-"
//	quoted  = 'name' or "name" (any characters but the quote)
//
// A name selects a map's key, an index a list's element, "*" every element of a list (or every
// value of a map, in key order). The empty path, or "$", is the document itself.
type JSONPath struct {
	src  string
	segs []pathSeg
}

// pathSeg is one step of a JSONPath: a key, an index, or every child.
type pathSeg struct {
	key   string
	index int
	kind  segKind
}

type segKind int

const (
	segKey segKind = iota
	segIndex
	segAll
)

// String is the path as written.
func (p *JSONPath) String() string { return p.src }

// ParseJSONPath parses a JSON path; the error, which wraps ErrInvalidExpression, gives the
// offset of the problem.
func ParseJSONPath(src string) (*JSONPath, error) {
	p, err := parseJSONPath(src)
	if err != nil {
		return nil, invalidExpression(fmt.Errorf("path %q: %w", src, err))
	}
	return p, nil
}

func parseJSONPath(src string) (*JSONPath, error) {
	out := &JSONPath{src: src}
	s := strings.TrimSpace(src)
	i := 0
	if strings.HasPrefix(s, "$") {
		i = 1
	}
	first := true
	for i < len(s) {
		if len(out.segs) >= maxJSONPathSegments {
			return nil, fmt.Errorf("more than %d segments", maxJSONPathSegments)
		}
		switch {
		case s[i] == '.' || (first && i == 0 && s[i] != '['):
			if s[i] == '.' {
				i++
			}
			if i < len(s) && s[i] == '*' {
				out.segs = append(out.segs, pathSeg{kind: segAll})
				i++
				break
			}
			start := i
			for i < len(s) && isPathNameByte(s[i]) {
				i++
			}
			if start == i {
				return nil, fmt.Errorf("expected a key name or * at offset %d", start)
			}
			out.segs = append(out.segs, pathSeg{kind: segKey, key: s[start:i]})
		case s[i] == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("missing ] for [ at offset %d", i)
			}
			inner := strings.TrimSpace(s[i+1 : i+end])
			switch {
			case inner == "*":
				out.segs = append(out.segs, pathSeg{kind: segAll})
			case len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0]:
				key := inner[1 : len(inner)-1]
				if strings.ContainsRune(key, rune(inner[0])) {
					return nil, fmt.Errorf("quote inside a quoted key at offset %d", i)
				}
				out.segs = append(out.segs, pathSeg{kind: segKey, key: key})
			default:
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("[%s] at offset %d is not an index, * or a quoted key", inner, i)
				}
				out.segs = append(out.segs, pathSeg{kind: segIndex, index: n})
			}
			i += end + 1
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d (expected . or [)", s[i:], i)
		}
		first = false
	}
	return out, nil
}

// isPathNameByte reports whether c may appear in an unquoted key.
func isPathNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// ErrPathNotFound is returned by Select when a key or index of the path is not in the document.
var ErrPathNotFound = errors.New("not in the document")

// Select returns the values the path reaches in doc, in document order (map values under * in
// key order). A key or an index that is missing (or a key applied to a list, an index to a map)
// is an error wrapping ErrPathNotFound that names the segment: a path that reaches nothing is a
// mistake, not an empty set. A * over an empty list selects nothing.
func (p *JSONPath) Select(doc any) ([]any, error) {
	cur := []any{doc}
	for n, seg := range p.segs {
		var next []any
		for _, v := range cur {
			switch seg.kind {
			case segKey:
				m, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: %w (a %s has no key %q)", p.prefix(n+1), ErrPathNotFound, jsonTypeName(v), seg.key)
				}
				x, ok := m[seg.key]
				if !ok {
					return nil, fmt.Errorf("%s: %w", p.prefix(n+1), ErrPathNotFound)
				}
				next = append(next, x)
			case segIndex:
				l, ok := v.([]any)
				if !ok || seg.index >= len(l) {
					return nil, fmt.Errorf("%s: %w", p.prefix(n+1), ErrPathNotFound)
				}
				next = append(next, l[seg.index])
			case segAll:
				switch x := v.(type) {
				case []any:
					next = append(next, x...)
				case map[string]any:
					for _, k := range sortedKeys(x) {
						next = append(next, x[k])
					}
				default:
					return nil, fmt.Errorf("%s: * needs a list or a map, got a %s", p.prefix(n+1), jsonTypeName(v))
				}
			}
		}
		cur = next
	}
	return cur, nil
}

// prefix is the path up to segment n (1-based), for messages.
func (p *JSONPath) prefix(n int) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range p.segs[:n] {
		switch s.kind {
		case segKey:
			b.WriteString("." + s.key)
		case segIndex:
			fmt.Fprintf(&b, "[%d]", s.index)
		case segAll:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

// jsonTypeName names the JSON type of a decoded value.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "map"
	case []any:
		return "list"
	}
	return "number"
}
