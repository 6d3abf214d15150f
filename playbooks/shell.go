package playbooks

import (
	"fmt"
	"strings"
)

// ShellEnvPrefix starts the names of the environment variables RenderShell passes values in.
const ShellEnvPrefix = "FLEETBOOK_TPL_"

// shCtx is one level of POSIX sh quoting or nesting.
type shCtx int

const (
	ctxDouble       shCtx = iota // "..."
	ctxSingle                    // '...'
	ctxDollarSingle              // $'...'
	ctxSubst                     // $( ... )
	ctxBacktick                  // ` ... `
	ctxParam                     // ${ ... }
)

// RenderShell renders a shell command line so that no templated value can ever run as shell code.
//
// Each template occurrence is replaced by a reference to an environment variable, and the value (in
// its text form: lists joined with ", ", maps as JSON) goes into the returned env map under that
// name. Outside quotes the reference is "\"${FLEETBOOK_TPL_1}\"" (one argument, even when the
// template is a whole word); inside double quotes it is "${FLEETBOOK_TPL_1}". Positions where
// that cannot be done safely are refused with ErrUnsafeShellTemplate: inside single quotes or
// $'...', right after a backslash or a '$', inside a command substitution, backticks or ${...},
// or after a here-document operator. Unknown template forms are left as literal text.
//
// The caller runs `sh -c rendered` with env added to the environment.
//
// The rendered command is then parsed as a shell script and every reference checked with
// CheckRenderedShell: a template must be data in a data position (see shellcheck.go), never an
// argument of a command that runs its arguments as code.
func RenderShell(command string, s Scope) (string, map[string]string, error) {
	rendered, env, used, err := renderShellWith(command, func(e Expr) (string, error) {
		v, err := evaluate(e, s)
		if err != nil {
			return "", err
		}
		text := textOf(v)
		if strings.ContainsRune(text, 0) {
			return "", fmt.Errorf("template %s: value contains a NUL byte: %w", e.Text, ErrTemplateValue)
		}
		return text, nil
	})
	if err != nil {
		return "", nil, err
	}
	if err := checkShellRefs(rendered, used, nil); err != nil {
		return "", nil, err
	}
	return rendered, env, nil
}

// renderShellWith replaces every known template of command by a reference to an environment
// variable (see RenderShell), asking value for the text of each. It also returns the templates
// in the order of their variables (FLEETBOOK_TPL_1 is used[0]), for messages.
func renderShellWith(command string, value func(Expr) (string, error)) (string, map[string]string, []Expr, error) {
	env := map[string]string{}
	var used []Expr
	var b strings.Builder
	var stack []shCtx
	top := func() (shCtx, bool) {
		if len(stack) == 0 {
			return 0, false
		}
		return stack[len(stack)-1], true
	}
	exprs := Templates(command)
	starts := map[int]bool{}
	for _, e := range exprs {
		if e.Kind != ExprUnknown {
			starts[e.Start] = true
		}
	}
	next := 0
	escaped, heredoc := false, false
	n := 0
	for i := 0; i < len(command); {
		for next < len(exprs) && (exprs[next].Kind == ExprUnknown || exprs[next].Start < i) {
			next++
		}
		if next < len(exprs) && exprs[next].Start == i {
			e := exprs[next]
			if reason := unsafeShellPosition(stack, escaped, heredoc, i > 0 && command[i-1] == '$'); reason != "" {
				return "", nil, nil, fmt.Errorf("template %s at byte %d %s; put it outside quotes or inside double quotes: %w", e.Text, i, reason, ErrUnsafeShellTemplate)
			}
			text, err := value(e)
			if err != nil {
				return "", nil, nil, err
			}
			used = append(used, e)
			n++
			name := fmt.Sprintf("%s%d", ShellEnvPrefix, n)
			env[name] = text
			if len(stack) == 0 {
				fmt.Fprintf(&b, `"${%s}"`, name)
			} else {
				fmt.Fprintf(&b, `${%s}`, name)
			}
			i = e.End
			continue
		}
		c := command[i]
		b.WriteByte(c)
		i++
		if escaped {
			escaped = false
			continue
		}
		peek := byte(0)
		if i < len(command) && !starts[i] {
			peek = command[i]
		}
		cur, nested := top()
		switch {
		case nested && cur == ctxSingle:
			if c == '\'' {
				stack = stack[:len(stack)-1]
			}
			continue
		case nested && cur == ctxDollarSingle:
			if c == '\\' {
				escaped = true
			} else if c == '\'' {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		switch {
		case c == '\\':
			escaped = true
		case c == '"' && nested && cur == ctxDouble:
			stack = stack[:len(stack)-1]
		case c == '"':
			stack = append(stack, ctxDouble)
		case c == '$' && peek == '(':
			stack = append(stack, ctxSubst)
			b.WriteByte(peek)
			i++
		case c == '$' && peek == '{':
			stack = append(stack, ctxParam)
			b.WriteByte(peek)
			i++
		case c == '`' && nested && cur == ctxBacktick:
			stack = stack[:len(stack)-1]
		case c == '`':
			stack = append(stack, ctxBacktick)
		case c == ')' && nested && cur == ctxSubst:
			stack = stack[:len(stack)-1]
		case c == '}' && nested && cur == ctxParam:
			stack = stack[:len(stack)-1]
		case nested && cur == ctxDouble:
			// Quotes and operators are literal inside double quotes.
		case c == '$' && peek == '\'':
			stack = append(stack, ctxDollarSingle)
			b.WriteByte(peek)
			i++
		case c == '\'':
			stack = append(stack, ctxSingle)
		case c == '<' && peek == '<':
			heredoc = true
		case c == '#' && (i == 1 || strings.IndexByte(" \t\n;&|()", command[i-2]) >= 0):
			end := strings.IndexByte(command[i:], '\n')
			if end < 0 {
				end = len(command) - i
			}
			b.WriteString(command[i : i+end])
			i += end
		}
	}
	return b.String(), env, used, nil
}

// unsafeShellPosition explains why a template cannot be placed here, or returns "".
func unsafeShellPosition(stack []shCtx, escaped, heredoc, afterDollar bool) string {
	switch {
	case escaped:
		return "follows a backslash"
	case afterDollar:
		return "follows a '$'"
	case heredoc:
		return "follows a here-document operator (<<)"
	}
	for _, c := range stack {
		switch c {
		case ctxSingle:
			return "is inside single quotes, where no variable can be expanded"
		case ctxDollarSingle:
			return "is inside $'...' quotes"
		case ctxSubst:
			return "is inside a command substitution $(...)"
		case ctxBacktick:
			return "is inside a backtick command substitution"
		case ctxParam:
			return "is inside a ${...} parameter expansion"
		}
	}
	if len(stack) > 1 {
		return "is inside nested quotes"
	}
	return ""
}
