package playbooks

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a playbook document or with values given to it.
type Problem struct {
	// Path is the field path, like "tasks[2].shell.timeout" or "inputs.cluster.type".
	// It is empty for problems with the whole document.
	Path string
	// Line is the 1-based YAML line, 0 when unknown.
	Line int
	// Column is the 1-based YAML column, 0 when unknown.
	Column int
	// Message says what is wrong.
	Message string
}

// String formats the problem as `line 12: tasks[2].shell.timeout: message`; the line and path
// parts are left out when unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError holds every problem found in a document or in a set of given values.
type ValidationError struct {
	// File is the file name the document came from, if known.
	File string
	// Problems lists every problem, in document order.
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	fmt.Fprintf(&b, "invalid playbook: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is ErrInvalidPlaybook.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidPlaybook }

// problems collects Problems while walking a document.
type problems struct {
	list []Problem
}

// add records a problem at the position of n (which may be nil).
func (ps *problems) add(path string, n *yaml.Node, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	ps.list = append(ps.list, p)
}

// err returns a *ValidationError when problems were recorded, otherwise nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}

// joinPath appends a map key to a field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to a field path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
