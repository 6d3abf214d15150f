package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPolicy indicates that a policy document could not be used; the *ParseError that
// wraps it names every problem, with its field and line.
var ErrInvalidPolicy = errors.New("invalid policy")

// Problem is one problem of a policy document.
type Problem struct {
	// Path names the field, like "rules[1].allow[0]" or "identities.alice".
	Path string
	// Line is the 1-based line of the document, 0 when unknown.
	Line    int
	Message string
}

func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Path != "":
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	case p.Path != "":
		return fmt.Sprintf("%s: %s", p.Path, p.Message)
	}
	return p.Message
}

// ParseError lists every problem found in a policy document. It wraps ErrInvalidPolicy.
type ParseError struct {
	// Source names the document (its file), for the message only.
	Source   string
	Problems []Problem
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("invalid policy")
	if e.Source != "" {
		b.WriteString(" " + e.Source)
	}
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrInvalidPolicy.
func (e *ParseError) Unwrap() error { return ErrInvalidPolicy }
