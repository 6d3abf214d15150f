package playbooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Parse decodes and validates a playbook document. It never runs anything and does no I/O.
//
// On failure the error is a *ValidationError listing every problem found, each with its field path
// and YAML line. Options add to what is accepted (WithPlugins).
func Parse(src []byte, opts ...ParseOption) (*Playbook, error) {
	d := &decoder{budget: MaxValueNodes}
	for _, o := range opts {
		o(&d.opts)
	}
	if len(src) > MaxDocumentBytes {
		d.probs.add("", nil, "document is %d bytes, more than the limit of %d bytes (%v)", len(src), MaxDocumentBytes, ErrDocumentTooLarge)
		return nil, d.probs.err()
	}
	if probs := documentTextProblems(src); len(probs) > 0 {
		d.probs.list = append(d.probs.list, probs...)
		return nil, d.probs.err()
	}
	root, ok := d.parseYAML(src)
	if !ok {
		return nil, d.probs.err()
	}
	pb := d.playbook(root)
	if err := d.probs.err(); err != nil {
		return nil, err
	}
	return pb, nil
}

// ParseFile reads path and calls Parse. Errors mention the file name.
func ParseFile(path string, opts ...ParseOption) (*Playbook, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read playbook %s: %w", path, err)
	}
	pb, err := Parse(src, opts...)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = path
			return nil, ve
		}
		return nil, fmt.Errorf("parse playbook %s: %w", path, err)
	}
	return pb, nil
}

// decoder walks a yaml.Node tree, collecting problems and warnings.
type decoder struct {
	// taskRefs are the tasks.NAME.FIELD references found in task lists.
	taskRefs []taskRef
	// lockNodes are the items of `locks`, for the lines of lock problems.
	lockNodes []*yaml.Node

	probs    problems
	warnings problems
	budget   int
	overrun  bool
	// tpls records every decoded string holding "{{", for the static reference check.
	tpls []tplString
	// opts are the ParseOptions given to Parse.
	opts parseOptions
	// shellBytes adds up the shell commands holding templates (MaxTemplatedShellBytesPerDocument).
	shellBytes int
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// parseYAML parses exactly one YAML document whose top level is a map.
// A flow item written as a Ruby symbol (`[:idling, "==", true]`), which YAML 1.2 cannot read,
// is read as the string ":idling" (see quoteFlowSymbols), with a warning.
func (d *decoder) parseYAML(src []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	for tries := 0; ; tries++ {
		err := dec.Decode(&doc)
		if err == nil {
			break
		}
		if errors.Is(err, io.EOF) {
			d.probs.add("", nil, "document is empty")
			return nil, false
		}
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil && tries < maxSymbolRewrites {
			line, _ := strconv.Atoi(m[1])
			if fixed, syms := quoteFlowSymbols(src, line); fixed != nil {
				for _, s := range syms {
					d.warnings.add("", &yaml.Node{Line: s.line}, "the Ruby symbol %s in a flow list or map is read as the string %q (Choria's YAML read it as a symbol)", s.sym, s.sym)
				}
				src = fixed
				dec = yaml.NewDecoder(bytes.NewReader(src))
				doc = yaml.Node{}
				continue
			}
		}
		d.yamlError(err, src)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.probs.add("", &extra, "only one YAML document is allowed, found a second one")
		return nil, false
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err, src)
		return nil, false
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			d.probs.add("", nil, "document is empty")
			return nil, false
		}
		root = root.Content[0]
	}
	if resolveAlias(root).Kind != yaml.MappingNode {
		d.probs.add("", root, "the document must be a map of keys, got %s", kindName(root))
		return nil, false
	}
	return root, true
}

// yamlError turns a yaml.v3 syntax error in src into a Problem with its line. A tab in the
// indentation, the commonest cause and one yaml.v3 does not name, is said plainly.
func (d *decoder) yamlError(err error, src []byte) {
	p := Problem{Message: "malformed YAML: " + err.Error()}
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	if tab := tabIndented(src, p.Line); tab > 0 {
		p.Message += fmt.Sprintf(" (line %d is indented with a tab: YAML indents with spaces only)", tab)
		if p.Line == 0 {
			p.Line = tab
		}
	}
	d.probs.list = append(d.probs.list, p)
}

// tabIndented returns the number of a line of src indented with a tab: line itself when its
// indentation holds one, else the first line that starts with a tab; 0 when there is none. (A
// tab after spaces can be the content of a block scalar, so only the failing line is judged by
// it.)
func tabIndented(src []byte, line int) int {
	lines := bytes.Split(src, []byte("\n"))
	if line > 0 && line <= len(lines) {
		l := lines[line-1]
		if indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]; bytes.IndexByte(indent, '\t') >= 0 {
			return line
		}
	}
	for i, l := range lines {
		if len(l) > 0 && l[0] == '\t' {
			return i + 1
		}
	}
	return 0
}

// resolveAlias follows alias nodes to their anchored value.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// kindName describes a node's kind for messages.
func kindName(n *yaml.Node) string {
	n = resolveAlias(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		// The value itself is never quoted: a file that is no playbook at all (a child `file:`
		// pointing at a password file) is one long scalar, and its text must not reach a
		// message that is stored and shown to others. The line is enough to find it.
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("a string (%d bytes)", len(n.Value))
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a scalar value"
	}
	return "an unknown YAML node"
}

// spend charges one visited node against the expansion budget. It reports false (once recording
// a problem) when the budget is exhausted.
func (d *decoder) spend(n *yaml.Node) bool {
	if d.budget <= 0 {
		if !d.overrun {
			d.overrun = true
			d.probs.add("", n, "document expands to more than %d YAML nodes (too much alias expansion)", MaxValueNodes)
		}
		return false
	}
	d.budget--
	return true
}

// deep reports false (recording a problem) when depth exceeds MaxDepth.
func (d *decoder) deep(path string, n *yaml.Node, depth int) bool {
	if depth > MaxDepth {
		d.probs.add(path, n, "nesting is deeper than the limit of %d levels", MaxDepth)
		return false
	}
	return true
}

// pair is one key/value of a mapping, after merge keys are applied.
type pair struct {
	Key   string
	KeyN  *yaml.Node
	Value *yaml.Node
}

// pairs returns the entries of the mapping n in document order with `<<` merge keys applied
// (explicit keys win over merged ones) and duplicate keys reported. It records a problem and
// returns ok=false when n is not a map.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) ([]pair, bool) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.probs.add(path, n, "must be a map, got %s", kindName(n))
		return nil, false
	}
	if !d.spend(n) || !d.deep(path, n, depth) {
		return nil, false
	}
	explicit := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolveAlias(n.Content[i])
		if k.Tag == "!!merge" {
			continue
		}
		if first, dup := explicit[k.Value]; dup {
			d.probs.add(joinPath(path, k.Value), k, "duplicate key %q (first defined at line %d)", k.Value, first.Line)
			continue
		}
		explicit[k.Value] = k
	}
	var out []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Tag == "!!merge" {
			for _, m := range d.mergeSources(v, path, depth) {
				for _, mp := range m {
					if explicit[mp.Key] != nil || seen[mp.Key] {
						continue
					}
					seen[mp.Key] = true
					out = append(out, mp)
				}
			}
			continue
		}
		if seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{Key: k.Value, KeyN: k, Value: v})
	}
	return out, true
}

// mergeSources returns the pairs of each map named by a `<<` value (one map or a list of maps).
func (d *decoder) mergeSources(v *yaml.Node, path string, depth int) [][]pair {
	v = resolveAlias(v)
	var srcs []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		srcs = []*yaml.Node{v}
	case yaml.SequenceNode:
		srcs = v.Content
	default:
		d.probs.add(joinPath(path, "<<"), v, "merge key must refer to a map or a list of maps, got %s", kindName(v))
		return nil
	}
	var out [][]pair
	for _, s := range srcs {
		if ps, ok := d.pairs(s, joinPath(path, "<<"), depth); ok {
			out = append(out, ps)
		}
	}
	return out
}

// seq returns the items of the list n, recording a problem when n is not a list.
func (d *decoder) seq(n *yaml.Node, path string, depth int) ([]*yaml.Node, bool) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.probs.add(path, n, "must be a list, got %s", kindName(n))
		return nil, false
	}
	if !d.spend(n) || !d.deep(path, n, depth) {
		return nil, false
	}
	return n.Content, true
}

// fits reports whether v, the value of node n at path, fits spec; when not, the problem is
// recorded at path.
func (d *decoder) fits(spec propSpec, v any, path string, n *yaml.Node) bool {
	if msg := checkValue(spec, v); msg != "" {
		d.probs.add(path, n, "%s", msg)
		return false
	}
	return true
}

// value converts n to a native Go value: string, int, float64, bool, nil, []any or map[string]any.
func (d *decoder) value(n *yaml.Node, path string, depth int) (any, bool) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		ps, ok := d.pairs(n, path, depth)
		if !ok {
			return nil, false
		}
		m := make(map[string]any, len(ps))
		good := true
		for _, p := range ps {
			v, ok := d.value(p.Value, joinPath(path, p.Key), depth+1)
			good = good && ok
			m[p.Key] = v
		}
		return m, good
	case yaml.SequenceNode:
		items, ok := d.seq(n, path, depth)
		if !ok {
			return nil, false
		}
		l := make([]any, 0, len(items))
		good := true
		for i, it := range items {
			v, ok := d.value(it, indexPath(path, i), depth+1)
			good = good && ok
			l = append(l, v)
		}
		return l, good
	case yaml.ScalarNode:
		if !d.spend(n) {
			return nil, false
		}
		return d.scalar(n, path)
	}
	d.probs.add(path, n, "unsupported YAML node")
	return nil, false
}

// scalar converts a scalar node to its native value.
func (d *decoder) scalar(n *yaml.Node, path string) (any, bool) {
	switch n.Tag {
	case "!!null":
		return nil, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			d.probs.add(path, n, "invalid boolean %q", n.Value)
			return nil, false
		}
		return b, true
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			var f float64
			if err := n.Decode(&f); err == nil {
				return f, true
			}
			d.probs.add(path, n, "invalid integer %q", n.Value)
			return nil, false
		}
		if i >= math.MinInt && i <= math.MaxInt {
			return int(i), true
		}
		return i, true
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			d.probs.add(path, n, "invalid number %q", n.Value)
			return nil, false
		}
		return f, true
	}
	// Strings, timestamps and any other tag keep their source text.
	if !d.plainText(n, path) {
		return nil, false
	}
	d.noteTemplate(path, n)
	return n.Value, true
}

// plainText refuses strings holding control characters other than tab and line breaks (YAML
// lets "\0" or "\e" through as escapes): they have no place in a playbook and can hide text
// from people reading logs in a terminal.
func (d *decoder) plainText(n *yaml.Node, path string) bool {
	for _, r := range n.Value {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			d.probs.add(path, n, "contains the control character %U; only tabs and line breaks are allowed", r)
			return false
		}
	}
	return true
}

// text returns a scalar's source text, for keys whose value is a free-form string
// (an unquoted `version: 1.10` stays "1.10").
func (d *decoder) text(n *yaml.Node, path string) (string, bool) {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.probs.add(path, n, "must be a string, got %s", kindName(n))
		return "", false
	}
	d.spend(n)
	if !d.plainText(n, path) {
		return "", false
	}
	d.noteTemplate(path, n)
	return n.Value, true
}

// stringList decodes a list of strings.
func (d *decoder) stringList(n *yaml.Node, path string, depth int) ([]string, bool) {
	items, ok := d.seq(n, path, depth)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	good := true
	for i, it := range items {
		s, ok := d.text(it, indexPath(path, i))
		good = good && ok
		out = append(out, s)
	}
	return out, good
}
