package playbooks

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/fleetbook/fleetbook/protocol"
)

// Where a templated value may stand in a shell command.
//
// RenderShell turns every template into a quoted reference to an environment variable, so a value
// is never parsed as shell code by the shell that runs the command. That is not enough on its own:
// the command may hand the value to something that parses it again (eval, sh -c, ssh, sed's e
// command, an interpreter's -e, a pipe into sh). The check below parses the rendered command with
// a real shell parser (mvdan.cc/sh, in bash mode, the widest grammar /bin/sh may have) and allows
// a value only in these positions, everything else being refused:
//
//   - an argument word of a simple command whose name is a literal word (no expansion), is not a
//     shell function of the script and is not in the evaluator lists below; the value is the whole
//     word or a part of it, directly or inside double quotes;
//   - the value of a plain assignment (`NAME=value`, `export NAME=value`, `NAME=value cmd`) to a
//     name that does not make the shell or a program load or run something (dangerousEnv);
//   - a file redirection target (`> file`, `>> file`, `< file`; not `<&`, `>&` or here-documents);
//   - an item of `for NAME in ...` and the subject of `case ... in`.
//
// A variable assigned from a value (by assignment, `for`, or `read` in a pipeline fed by one) is a
// value too, wherever it is used later in the script.

// ShellNodesVar is the environment variable the runner passes a shell task's `nodes` in: the
// command gets ` --nodes "${FLEETBOOK_NODES}"` appended (Choria's behaviour), so it is a value too.
const ShellNodesVar = "FLEETBOOK_NODES"

// shellEvaluators run (some of) their arguments as code, or use them as variable names or shell
// options; no value may be any of their arguments.
var shellEvaluators = setOf(
	// shell builtins
	"eval", "source", ".", "trap", "alias", "let", "fc", "enable", "bind", "complete", "compgen",
	"read", "mapfile", "readarray", "getopts", "set", "declare", "typeset", "local", "export",
	"readonly", "nameref", "unset",
	// remote and other-user shells, schedulers, repeaters
	"ssh", "slogin", "rsh", "su", "runuser", "sg", "newgrp", "script", "watch", "parallel", "flock",
	"at", "batch",
	// programs whose program text or options run commands
	"awk", "gawk", "mawk", "nawk", "sed", "gsed", "m4", "make", "gmake", "deno", "bun", "osascript",
	"expect", "irb", "psql", "mysql", "sqlite3", "vi", "vim", "nvim", "ex", "emacs", "less", "more",
)

// stdinEvaluators are the evaluators that also run what they read on standard input as code (a
// remote or other user's shell, a scheduler, a command runner, an SQL client).
var stdinEvaluators = setOf("ssh", "slogin", "rsh", "su", "runuser", "sg", "newgrp", "script", "at", "batch",
	"parallel", "psql", "mysql", "sqlite3", "expect", "m4", "osascript", "irb", "deno", "bun")

// shellInterpreters run a script file, or code given inline or on standard input. A value may be
// an argument of the script: only after a literal script path that is the first argument.
var shellInterpreters = setOf(
	"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "csh", "tcsh", "fish",
	"node", "nodejs", "Rscript", "pwsh", "powershell", "groovy", "jruby", "jython",
)

// interpreterRe matches versioned interpreter names (python3, python3.12, perl5.36, lua5.4...).
var interpreterRe = regexp.MustCompile(`^(python|pypy|perl|ruby|php|lua|luajit|tclsh|wish)[0-9.]*$`)

// shellNameRe matches a shell variable name.
var shellNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// shellWrapper describes a command that runs another command given in its arguments.
type shellWrapper struct {
	// values are the options that take a value (in the next word, or attached: -uroot, --user=x).
	values []string
	// flags are the options without a value.
	flags []string
	// evaluating are the options that make the wrapper run its arguments through a shell.
	evaluating []string
	// positional is the number of words between the options and the command (timeout's duration).
	positional int
	// assigns lets NAME=value words stand before the command (env).
	assigns bool
}

// shellWrappers run the command named by a later argument; that command is checked in turn. An
// option a wrapper does not list makes fleetbook refuse values in the command: it could not tell
// which word is the command.
var shellWrappers = map[string]shellWrapper{
	"sudo": {
		values: []string{"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R", "--user", "--group",
			"--close-from", "--chdir", "--host", "--prompt", "--role", "--type", "--other-user", "--command-timeout", "--chroot"},
		flags: []string{"-A", "-b", "-E", "-H", "-K", "-k", "-n", "-P", "-S", "-B", "-N", "--askpass", "--background",
			"--preserve-env", "--non-interactive", "--preserve-groups", "--stdin", "--set-home", "--reset-timestamp", "--bell"},
		evaluating: []string{"-i", "-s", "-e", "--login", "--shell", "--edit"},
	},
	"doas":     {values: []string{"-u", "-C"}, flags: []string{"-n"}, evaluating: []string{"-s"}},
	"env":      {values: []string{"-u", "-C", "--unset", "--chdir"}, flags: []string{"-i", "-0", "-v", "--ignore-environment", "--null", "--debug"}, evaluating: []string{"-S", "--split-string"}, assigns: true},
	"timeout":  {values: []string{"-s", "-k", "--signal", "--kill-after"}, flags: []string{"-v", "--foreground", "--preserve-status", "--verbose"}, positional: 1},
	"nice":     {values: []string{"-n", "--adjustment"}},
	"nohup":    {},
	"setsid":   {flags: []string{"-c", "-f", "-w", "--ctty", "--fork", "--wait"}},
	"stdbuf":   {values: []string{"-i", "-o", "-e", "--input", "--output", "--error"}},
	"ionice":   {values: []string{"-c", "-n", "--class", "--classdata"}, flags: []string{"-t", "--ignore"}},
	"chrt":     {flags: []string{"-b", "-d", "-f", "-i", "-o", "-r", "-R", "-v", "--batch", "--deadline", "--fifo", "--idle", "--other", "--rr", "--reset-on-fork", "--verbose"}, positional: 1},
	"taskset":  {flags: []string{"-c", "--cpu-list"}, positional: 1},
	"chroot":   {values: []string{"--userspec", "--groups"}, flags: []string{"--skip-chdir"}, positional: 1},
	"exec":     {values: []string{"-a"}, flags: []string{"-c", "-l"}},
	"command":  {flags: []string{"-p", "-v", "-V"}},
	"builtin":  {},
	"time":     {values: []string{"-f", "-o", "--format", "--output"}, flags: []string{"-p", "-a", "-v", "-q", "--portability", "--append", "--verbose", "--quiet"}},
	"busybox":  {},
	"unbuffer": {flags: []string{"-p"}},
	"xargs": {
		values: []string{"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-lines",
			"--max-args", "--max-procs", "--max-chars", "--process-slot-var"},
		flags: []string{"-0", "-o", "-p", "-r", "-t", "-x", "--null", "--interactive", "--no-run-if-empty", "--verbose", "--exit", "--open-tty"},
	},
}

// isDangerousEnv reports whether assigning a value to name may make something load or run code,
// or reach fleetbook's own settings or credentials (protocol.ProtectedEnv).
func isDangerousEnv(name string) bool { return protocol.ProtectedEnv(name) }

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// isShellValueVar reports whether name is a variable the runner passes a value in.
func isShellValueVar(name string) bool {
	if name == ShellNodesVar {
		return true
	}
	rest, ok := strings.CutPrefix(name, ShellEnvPrefix)
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// CheckRenderedShell checks a command rendered by RenderShell (as a worker receives it, with
// ` --nodes "${FLEETBOOK_NODES}"` appended when the task has nodes): every reference to a value
// variable (FLEETBOOK_TPL_n, FLEETBOOK_NODES) must be in a data position. It is the worker's last
// line of defence; the error matches ErrUnsafeShellTemplate and names the variables.
func CheckRenderedShell(command string) error {
	return checkShellRefs(command, nil, nil)
}

// shellRef is one use of a value in a parsed command.
type shellRef struct {
	param *syntax.ParamExp
	// ancestor explains, from the nodes around the use, why it is unsafe ("" when none does).
	ancestor string
}

// shellCheckBudget bounds the nodes one check visits, all walks together. A real command takes a
// few hundred; a document built to make the check slow (deep nesting, long pipelines, long chains
// of assignments, each close to MaxDocumentBytes) is refused once it is spent, instead of taking
// minutes.
const shellCheckBudget = 1_000_000

// MaxTemplatedShellBytes bounds a shell command that holds templates: parsing and checking stay
// cheap (a hostile document is refused in well under a second), and a real command is a few
// hundred bytes; a long script belongs in a file the command runs.
const MaxTemplatedShellBytes = 32 << 10

// MaxTemplatedShellBytesPerDocument bounds the commands holding templates of one document
// together, so that many large ones cannot add up to a slow refusal either.
const MaxTemplatedShellBytesPerDocument = 64 << 10

// maxShellNesting bounds how deeply a command holding templates may nest ( and {: the parser and
// the walks recurse once per level, and no real command comes near.
const maxShellNesting = 1000

// shellNesting is an upper bound of the nesting depth of ( and { in command (quotes not
// considered, so it may overcount, never undercount).
func shellNesting(command string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(command); i++ {
		switch command[i] {
		case '(', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', '}':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}

// shellCheck holds one check of a parsed command.
type shellCheck struct {
	tainted map[string]bool
	funcs   map[string]bool
	// verdict maps each use approved or refused by the statement walk to "" (safe) or a reason.
	verdict map[*syntax.ParamExp]string
	// withRef holds the nodes that contain a use of a value (once the tainted names are known).
	withRef map[syntax.Node]bool
	// stdin maps the nodes holding a command that runs its standard input as code to its name.
	stdin map[syntax.Node]string
	// steps counts the nodes visited; over is set once shellCheckBudget is spent.
	steps int
	over  bool
}

// walk is syntax.Walk within the budget; a nil node (or a typed nil pointer) is no tree.
func (c *shellCheck) walk(n syntax.Node, f func(syntax.Node) bool) {
	if n == nil || c.over {
		return
	}
	if v := reflect.ValueOf(n); v.Kind() == reflect.Pointer && v.IsNil() {
		return
	}
	syntax.Walk(n, func(n syntax.Node) bool {
		if n != nil {
			c.steps++
		}
		if c.steps > shellCheckBudget {
			c.over = true
			return false
		}
		return f(n)
	})
}

// checkShellRefs parses rendered and checks every use of a value: the FLEETBOOK_TPL_n and
// FLEETBOOK_NODES variables, the names in extra (environment variables given a value) and every
// variable assigned from one of these. used names the templates behind FLEETBOOK_TPL_n, for
// messages.
func checkShellRefs(rendered string, used []Expr, extra []string) error {
	c := &shellCheck{tainted: map[string]bool{}, funcs: map[string]bool{}, verdict: map[*syntax.ParamExp]string{},
		withRef: map[syntax.Node]bool{}, stdin: map[syntax.Node]string{}}
	for _, n := range extra {
		c.tainted[n] = true
	}
	mentions := len(extra) > 0 || len(used) > 0 || strings.Contains(rendered, ShellEnvPrefix) || strings.Contains(rendered, ShellNodesVar)
	if !mentions {
		return nil
	}
	if len(rendered) > MaxTemplatedShellBytes {
		return fmt.Errorf("the command is %d bytes, more than the %d a command holding templated values may have (put a long script in a file and run it): %w", len(rendered), MaxTemplatedShellBytes, ErrUnsafeShellTemplate)
	}
	if d := shellNesting(rendered); d > maxShellNesting {
		return fmt.Errorf("the command nests ( and { %d deep, more than the %d fleetbook checks, so the positions of its templated values cannot be checked: %w", d, maxShellNesting, ErrUnsafeShellTemplate)
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(rendered), "")
	if err != nil {
		return fmt.Errorf("the command does not parse as a shell script (%v), so the positions of its templated values cannot be checked: %w", err, ErrUnsafeShellTemplate)
	}
	c.findFuncs(f)
	c.propagate(f)
	c.markRefs(f)
	refs := c.collect(f)
	if len(refs) == 0 && !c.over {
		return nil
	}
	c.markStdin(f)
	c.stmts(f.Stmts)
	c.substitutions(f)
	if c.over {
		return fmt.Errorf("the command is too large or too deeply nested to check where its templated values land (more than %d steps): %w", shellCheckBudget, ErrUnsafeShellTemplate)
	}
	var msgs []string
	for _, r := range refs {
		reason, seen := c.verdict[r.param]
		if seen && reason == "" {
			continue
		}
		if !seen || reason == "" {
			reason = r.ancestor
		}
		if reason == "" {
			reason = "is not in a position where it can only be data"
		}
		msgs = append(msgs, fmt.Sprintf("%s %s", describeShellRef(r.param, used), reason))
	}
	if len(msgs) == 0 {
		return nil
	}
	msgs = slices.Compact(msgs)
	return fmt.Errorf("%s; a value may only be an argument of a command that does not run it as code, or a plain assignment (pass it in environment: and use it inside a single-quoted script as \"$NAME\"): %w",
		strings.Join(msgs, "; "), ErrUnsafeShellTemplate)
}

// describeShellRef names a use in messages: the template behind it, or the variable.
func describeShellRef(p *syntax.ParamExp, used []Expr) string {
	name := p.Param.Value
	if rest, ok := strings.CutPrefix(name, ShellEnvPrefix); ok {
		var n int
		if _, err := fmt.Sscanf(rest, "%d", &n); err == nil && n >= 1 && n <= len(used) {
			return "template " + used[n-1].Text
		}
	}
	if name == ShellNodesVar {
		return "the task's nodes (appended as --nodes)"
	}
	return "the value in $" + name
}

// findFuncs records the shell functions the script defines.
func (c *shellCheck) findFuncs(f *syntax.File) {
	c.walk(f, func(n syntax.Node) bool {
		if fd, ok := n.(*syntax.FuncDecl); ok && fd.Name != nil {
			c.funcs[fd.Name.Value] = true
		}
		return true
	})
}

// isTainted reports whether the variable holds a value.
func (c *shellCheck) isTainted(name string) bool {
	return isShellValueVar(name) || c.tainted[name]
}

// hasRef reports whether n uses a value anywhere inside it (see markRefs).
func (c *shellCheck) hasRef(n syntax.Node) bool {
	return n != nil && c.withRef[n]
}

// isRef reports whether n is a use of a value.
func (c *shellCheck) isRef(n syntax.Node) bool {
	p, ok := n.(*syntax.ParamExp)
	return ok && p.Param != nil && c.isTainted(p.Param.Value)
}

// markRefs records, in one pass, every node that contains a use of a value.
func (c *shellCheck) markRefs(f *syntax.File) {
	c.postOrder(f, func(n syntax.Node, childHas bool) bool {
		has := childHas || c.isRef(n)
		if has {
			c.withRef[n] = true
		}
		return has
	})
}

// markStdin records, in one pass, every node that holds a command running its standard input as
// code (a command substitution's included: it reads the same input), with that command's name.
func (c *shellCheck) markStdin(f *syntax.File) {
	names := map[syntax.Node]string{}
	c.postOrderName(f, names)
	c.stdin = names
}

// postOrder calls f on every node after its children, telling it whether f returned true for any
// child; what f returns is passed up.
func (c *shellCheck) postOrder(root syntax.Node, f func(n syntax.Node, childHas bool) bool) {
	type frame struct {
		n   syntax.Node
		has bool
	}
	var stack []frame
	c.walk(root, func(n syntax.Node) bool {
		if n == nil {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f(top.n, top.has) && len(stack) > 0 {
				stack[len(stack)-1].has = true
			}
			return true
		}
		stack = append(stack, frame{n: n})
		return true
	})
}

// postOrderName fills names with the stdin-reading command name of every node holding one.
func (c *shellCheck) postOrderName(root syntax.Node, names map[syntax.Node]string) {
	type frame struct {
		n    syntax.Node
		name string
	}
	var stack []frame
	c.walk(root, func(n syntax.Node) bool {
		if n == nil {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if call, ok := top.n.(*syntax.CallExpr); ok && top.name == "" && len(call.Args) > 0 {
				if v := c.classify(call.Args, 0); v.stdinCode {
					top.name = v.name
				}
			}
			if top.name != "" {
				names[top.n] = top.name
				if len(stack) > 0 && stack[len(stack)-1].name == "" {
					stack[len(stack)-1].name = top.name
				}
			}
			return true
		}
		stack = append(stack, frame{n: n})
		return true
	})
}

// propagate marks the variables assigned from values as values: one pass collects which names
// feed which (assignments, for loops, read in a pipe), then the taint follows those edges.
func (c *shellCheck) propagate(f *syntax.File) {
	edges := map[string][]string{}
	feed := func(target string, from ...syntax.Node) {
		for _, n := range from {
			for _, src := range c.varNames(n) {
				edges[src] = append(edges[src], target)
			}
		}
	}
	var stack []syntax.Node
	pipesFed := map[*syntax.BinaryCmd][]string{}
	c.walk(f, func(n syntax.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		switch x := n.(type) {
		case *syntax.Assign:
			if x.Name != nil {
				if x.Value != nil {
					feed(x.Name.Value, x.Value)
				}
				if x.Array != nil {
					feed(x.Name.Value, x.Array)
				}
			}
		case *syntax.ForClause:
			if wi, ok := x.Loop.(*syntax.WordIter); ok && wi.Name != nil {
				for _, w := range wi.Items {
					feed(wi.Name.Value, w)
				}
			}
		case *syntax.CallExpr:
			if targets := readTargets(x); len(targets) > 0 {
				// Every pipe whose right side holds this read feeds it.
				for i := len(stack) - 1; i >= 0; i-- {
					c.steps++
					if b, ok := stack[i].(*syntax.BinaryCmd); ok && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) && x.Pos().After(b.OpPos) {
						pipesFed[b] = append(pipesFed[b], targets...)
					}
				}
			}
		}
		stack = append(stack, n)
		return true
	})
	for b, targets := range pipesFed {
		for _, t := range targets {
			feed(t, b.X)
		}
	}
	var queue []string
	for src := range edges {
		if c.isTainted(src) {
			queue = append(queue, src)
		}
	}
	for len(queue) > 0 {
		src := queue[0]
		queue = queue[1:]
		for _, t := range edges[src] {
			if !c.isTainted(t) {
				c.tainted[t] = true
				queue = append(queue, t)
			}
		}
	}
}

// varNames lists the variables n expands.
func (c *shellCheck) varNames(n syntax.Node) []string {
	var out []string
	c.walk(n, func(n syntax.Node) bool {
		if p, ok := n.(*syntax.ParamExp); ok && p.Param != nil {
			out = append(out, p.Param.Value)
		}
		return true
	})
	return out
}

// readTargets lists the variables call fills when it is `read`, `mapfile` or `readarray`.
func readTargets(call *syntax.CallExpr) []string {
	if len(call.Args) == 0 {
		return nil
	}
	var out []string
	name, _ := literalWord(call.Args[0])
	switch name {
	case "read":
		out = append(out, "REPLY")
	case "mapfile", "readarray":
		out = append(out, "MAPFILE")
	default:
		return nil
	}
	for _, w := range call.Args[1:] {
		if s, ok := literalWord(w); ok && !strings.HasPrefix(s, "-") {
			out = append(out, s)
		}
	}
	return out
}

// walkReasons walks f, telling visit the innermost reason the ancestors of each node give
// against a value there (a running stack, so no node scans its ancestors). visit returns the
// reason the node itself gives its descendants, or "" to pass outer on.
func (c *shellCheck) walkReasons(f *syntax.File, visit func(n syntax.Node, outer string) string) {
	var reasons []string
	c.walk(f, func(n syntax.Node) bool {
		if n == nil {
			reasons = reasons[:len(reasons)-1]
			return true
		}
		outer := ""
		if len(reasons) > 0 {
			outer = reasons[len(reasons)-1]
		}
		if r := visit(n, outer); r != "" {
			outer = r
		}
		reasons = append(reasons, outer)
		return true
	})
}

// collect lists every use of a value, with the reason its surroundings give against it.
func (c *shellCheck) collect(f *syntax.File) []shellRef {
	var refs []shellRef
	c.walkReasons(f, func(n syntax.Node, outer string) string {
		if p, ok := n.(*syntax.ParamExp); ok && p.Param != nil && c.isTainted(p.Param.Value) {
			refs = append(refs, shellRef{param: p, ancestor: outer})
		}
		return nodeReason(n)
	})
	return refs
}

// nodeReason explains why a use inside n is refused, or returns "" when n says nothing.
func nodeReason(node syntax.Node) string {
	switch x := node.(type) {
	case *syntax.CmdSubst:
		if x.Backquotes {
			return "is inside a backtick command substitution"
		}
		return "is inside a command substitution $(...)"
	case *syntax.ProcSubst:
		return "is inside a process substitution"
	case *syntax.ArithmExp, *syntax.ArithmCmd, *syntax.LetClause, *syntax.CStyleLoop, *syntax.BinaryArithm, *syntax.UnaryArithm:
		return "is in arithmetic, where the shell evaluates the value as an expression (a[$(cmd)] runs cmd)"
	case *syntax.TestClause:
		return "is inside [[ ]], where bash evaluates operands of arithmetic tests as expressions"
	case *syntax.ParamExp:
		return "is inside a ${...} expansion"
	case *syntax.CaseItem:
		return "is a case pattern"
	case *syntax.ArrayExpr:
		return "is in an array assignment"
	case *syntax.Redirect:
		switch x.Op {
		case syntax.Hdoc, syntax.DashHdoc, syntax.WordHdoc:
			return "is in a here-document"
		}
	}
	return ""
}

// set records the verdict on the uses of values directly in w (unless already refused).
func (c *shellCheck) set(n syntax.Node, reason string) {
	if n == nil {
		return
	}
	c.walk(n, func(n syntax.Node) bool {
		if p, ok := n.(*syntax.ParamExp); ok && p.Param != nil && c.isTainted(p.Param.Value) {
			if old, seen := c.verdict[p]; !seen || old == "" {
				c.verdict[p] = reason
			}
		}
		return c.withRef[n]
	})
}

// refuse records reason against every use of a value inside n.
func (c *shellCheck) refuse(n syntax.Node, reason string) { c.set(n, reason) }

// dataWord approves the uses of values that are parts of w, directly or inside double quotes:
// there the shell expands them into (part of) one word and parses nothing of them. Uses nested
// deeper keep the reason of their surroundings.
func (c *shellCheck) dataWord(w *syntax.Word) {
	if w == nil {
		return
	}
	approve := func(p syntax.WordPart) {
		pe, ok := p.(*syntax.ParamExp)
		if !ok || pe.Param == nil || !c.isTainted(pe.Param.Value) {
			return
		}
		if _, seen := c.verdict[pe]; seen {
			return
		}
		if !plainParam(pe) {
			c.verdict[pe] = "has an operator applied to it in ${...}, which may expand it as a prompt, a name or a pattern"
			return
		}
		c.verdict[pe] = ""
	}
	for _, p := range w.Parts {
		if dq, ok := p.(*syntax.DblQuoted); ok {
			for _, q := range dq.Parts {
				approve(q)
			}
			continue
		}
		approve(p)
	}
}

// plainParam reports whether p is $NAME or ${NAME} with no operator.
func plainParam(p *syntax.ParamExp) bool {
	return !p.Excl && !p.Length && !p.Width && !p.IsSet && p.Index == nil && p.Slice == nil &&
		p.Repl == nil && p.Exp == nil && p.Names == 0 && p.Flags == nil && p.Modifiers == nil && p.NestedParam == nil
}

// stmts walks statements, approving the uses of values in data positions.
func (c *shellCheck) stmts(list []*syntax.Stmt) {
	for _, s := range list {
		c.stmt(s)
	}
}

func (c *shellCheck) stmt(s *syntax.Stmt) {
	if s == nil {
		return
	}
	code, codeName := c.codeFromStdin(s)
	for _, r := range s.Redirs {
		switch r.Op {
		case syntax.RdrIn, syntax.RdrInOut:
			if code {
				c.refuse(r.Word, "names the file that "+codeName+" reads as code")
				continue
			}
			c.dataWord(r.Word)
		case syntax.RdrOut, syntax.AppOut, syntax.RdrClob, syntax.RdrAll, syntax.AppAll:
			c.dataWord(r.Word)
		case syntax.DplIn, syntax.DplOut:
			c.refuse(r.Word, "is the target of a descriptor duplication (<& or >&)")
		}
	}
	switch x := s.Cmd.(type) {
	case *syntax.CallExpr:
		c.call(x)
	case *syntax.BinaryCmd:
		c.stmt(x.X)
		c.stmt(x.Y)
		if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
			if code, name := c.codeFromStdin(x.Y); code {
				c.refuse(x.X, "is piped into "+name+", which runs its standard input as code")
			}
		}
	case *syntax.Block:
		c.stmts(x.Stmts)
	case *syntax.Subshell:
		c.stmts(x.Stmts)
	case *syntax.IfClause:
		for ic := x; ic != nil; ic = ic.Else {
			c.stmts(ic.Cond)
			c.stmts(ic.Then)
		}
	case *syntax.WhileClause:
		c.stmts(x.Cond)
		c.stmts(x.Do)
	case *syntax.ForClause:
		if wi, ok := x.Loop.(*syntax.WordIter); ok {
			for _, w := range wi.Items {
				c.dataWord(w)
			}
		}
		c.stmts(x.Do)
	case *syntax.CaseClause:
		c.dataWord(x.Word)
		for _, it := range x.Items {
			c.stmts(it.Stmts)
		}
	case *syntax.FuncDecl:
		c.stmt(x.Body)
	case *syntax.DeclClause:
		variant := x.Variant.Value
		for _, a := range x.Args {
			if a.Naked {
				c.refuse(a.Value, "is a variable name or an option of "+variant)
				continue
			}
			c.assign(a)
		}
	case *syntax.TimeClause:
		c.stmt(x.Stmt)
	case *syntax.CoprocClause:
		c.stmt(x.Stmt)
	}
}

// substitutions checks the statements inside command and process substitutions as statements of
// their own (`n=$(grep -c x "$LEDGER")` is as safe as the grep alone): the lexer already refused
// templates written there, so these are variables that hold values. A substitution inside a
// construct that refuses values (arithmetic, [[ ]], ${...}, a here-document, a case pattern) is
// left alone, and one inside an argument of an evaluator was refused as a whole.
func (c *shellCheck) substitutions(f *syntax.File) {
	c.walkReasons(f, func(n syntax.Node, outer string) string {
		switch x := n.(type) {
		case *syntax.CmdSubst:
			if outer == "" {
				c.stmts(x.Stmts)
			}
			return ""
		case *syntax.ProcSubst:
			if outer == "" {
				c.stmts(x.Stmts)
			}
			return ""
		}
		return nodeReason(n)
	})
}

// assign approves a value assigned to a variable, unless the name is one whose value makes
// something load or run code.
func (c *shellCheck) assign(a *syntax.Assign) {
	switch {
	case a.Name == nil || a.Index != nil || a.Array != nil:
		if a.Value != nil {
			c.refuse(a.Value, "is in an array assignment")
		}
		if a.Array != nil {
			c.refuse(a.Array, "is in an array assignment")
		}
	case isDangerousEnv(a.Name.Value):
		c.refuse(a.Value, "is assigned to "+a.Name.Value+", which makes the shell or a program load or run what it names")
	default:
		c.dataWord(a.Value)
	}
}

// call checks a simple command: its assignments, then which of its arguments are data.
func (c *shellCheck) call(x *syntax.CallExpr) {
	for _, a := range x.Assigns {
		c.assign(a)
	}
	if len(x.Args) == 0 {
		return
	}
	v := c.classify(x.Args, 0)
	for i, w := range x.Args {
		switch {
		case v.reason != "" && i >= v.refuseFrom:
			c.refuse(w, v.reason)
		case v.data[i]:
			c.dataWord(w)
		}
	}
	// A literal evaluator among the data arguments (docker run img sh -c ..., kubectl exec pod --
	// bash -c ...) may be handed what follows it: refuse values after one.
	after := ""
	for i, w := range x.Args {
		if !v.data[i] {
			continue
		}
		if after != "" {
			c.refuse(w, "follows "+after+", which may run it as code")
			continue
		}
		if s, ok := literalWord(w); ok && isEvaluatorName(path.Base(s)) {
			after = path.Base(s)
		}
	}
}

// isEvaluatorName reports whether a command of this name may run an argument as code.
func isEvaluatorName(base string) bool {
	return shellEvaluators[base] || shellInterpreters[base] || interpreterRe.MatchString(base)
}

// callVerdict says which words of a simple command are data.
type callVerdict struct {
	// data marks the argument indexes where a value is data.
	data map[int]bool
	// reason, when set, refuses values in the words from refuseFrom on.
	reason     string
	refuseFrom int
	// stdinCode is set when the command runs its standard input as code; name names it.
	stdinCode bool
	name      string
}

// classify decides which of args[from:] are data, following wrappers to the command they run.
func (c *shellCheck) classify(args []*syntax.Word, from int) callVerdict {
	v := callVerdict{data: map[int]bool{}}
	i := from
	for i < len(args) {
		w := args[i]
		refuse := func(reason string, stdin bool) callVerdict {
			v.reason, v.refuseFrom, v.stdinCode = reason, i, stdin
			return v
		}
		if c.hasRef(w) {
			return refuse("is the name of the command to run: the value would choose the program", false)
		}
		name, ok := literalWord(w)
		if !ok {
			return refuse("is an argument of a command whose name is not a literal word, so fleetbook cannot tell what gets it", true)
		}
		base := path.Base(name)
		v.name = base
		switch {
		case c.funcs[name]:
			return refuse("is an argument of the shell function "+name+", whose use of it fleetbook does not follow", true)
		case shellEvaluators[base]:
			return refuse("is an argument of "+base+", which runs its arguments as code or uses them as names or options", stdinEvaluators[base])
		case base == "printf" && i+1 < len(args) && wordIs(args[i+1], "-v"):
			return refuse("is an argument of printf -v, which uses it as a variable name", false)
		case (base == "test" || base == "[") && anyWordIs(args[i+1:], "-v", "-R"):
			return refuse("is an argument of "+base+" -v, which uses it as a variable name (bash evaluates a[$(cmd)])", false)
		case shellInterpreters[base] || interpreterRe.MatchString(base):
			if i+1 < len(args) {
				if s, ok := literalWord(args[i+1]); ok && s != "" && !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "+") {
					for j := i + 2; j < len(args); j++ {
						v.data[j] = true
					}
					return v
				}
			}
			return refuse("is an argument of "+base+" without a literal script file as its first argument, so it may be run as inline code", true)
		case base == "find":
			return c.classifyFind(args, i, v)
		}
		wr, ok := shellWrappers[base]
		if !ok {
			for j := i + 1; j < len(args); j++ {
				v.data[j] = true
			}
			return v
		}
		next, reason := c.skipWrapper(wr, base, args, i+1, v.data)
		if reason != "" {
			return refuse(reason, true)
		}
		i = next
	}
	return v
}

// skipWrapper walks a wrapper's options, positional words and assignments from args[i], marking
// them as data, and returns the index of the command it runs.
func (c *shellCheck) skipWrapper(wr shellWrapper, base string, args []*syntax.Word, i int, data map[int]bool) (int, string) {
	has := func(list []string, o string) bool { return slices.Contains(list, o) }
	unsure := "is an argument of " + base + ", given an option fleetbook does not know (%s), so it cannot tell which word is the command"
	for ; i < len(args); i++ {
		s, ok := literalWord(args[i])
		if !ok || s == "--" || !strings.HasPrefix(s, "-") || s == "-" {
			if ok && s == "--" {
				data[i] = true
				i++
			}
			break
		}
		data[i] = true
		if strings.HasPrefix(s, "--") {
			opt, _, attached := strings.Cut(s, "=")
			switch {
			case has(wr.evaluating, opt):
				return 0, "is an argument of " + base + " " + opt + ", which runs its command through a shell"
			case has(wr.values, opt) && !attached:
				i++
				data[i] = true
			case has(wr.values, opt), has(wr.flags, opt):
			default:
				return 0, fmt.Sprintf(unsure, opt)
			}
			continue
		}
		for k := 1; k < len(s); k++ {
			opt := "-" + s[k:k+1]
			if has(wr.evaluating, opt) {
				return 0, "is an argument of " + base + " " + opt + ", which runs its command through a shell"
			}
			if has(wr.values, opt) {
				if k == len(s)-1 {
					i++
					data[i] = true
				}
				break
			}
			if !has(wr.flags, opt) {
				return 0, fmt.Sprintf(unsure, opt)
			}
		}
	}
	for n := 0; n < wr.positional && i < len(args); n++ {
		data[i] = true
		i++
	}
	for wr.assigns && i < len(args) {
		s, ok := literalPrefix(args[i])
		name, _, isAssign := strings.Cut(s, "=")
		if !ok || !isAssign || !shellNameRe.MatchString(name) {
			break
		}
		if isDangerousEnv(name) {
			c.refuse(args[i], "is assigned to "+name+", which makes the shell or a program load or run what it names")
		} else {
			data[i] = true
		}
		i++
	}
	return i, ""
}

// classifyFind handles find: its arguments are data, unless -exec (or -execdir, -ok, -okdir)
// runs a command, which is then checked as any command is.
func (c *shellCheck) classifyFind(args []*syntax.Word, i int, v callVerdict) callVerdict {
	for j := i + 1; j < len(args); j++ {
		v.data[j] = true
	}
	for j := i + 1; j < len(args); j++ {
		s, _ := literalWord(args[j])
		if s != "-exec" && s != "-execdir" && s != "-ok" && s != "-okdir" {
			continue
		}
		end := j + 1
		for end < len(args) && !wordIs(args[end], ";") && !wordIs(args[end], "+") {
			end++
		}
		sub := c.classify(args[:end], j+1)
		if sub.reason != "" {
			v.data = map[int]bool{}
			v.reason, v.refuseFrom, v.stdinCode, v.name = sub.reason+" (run by find "+s+")", i+1, sub.stdinCode, sub.name
			return v
		}
		j = end
	}
	return v
}

// codeFromStdin reports whether s (or a command inside it) runs its standard input as code, and
// names that command (see markStdin).
func (c *shellCheck) codeFromStdin(s *syntax.Stmt) (bool, string) {
	if s == nil {
		return false, ""
	}
	name, ok := c.stdin[s]
	return ok, name
}

// literalWord returns the text of a word made only of literal text and quotes, with backslash
// escapes removed; ok is false when the word expands anything.
func literalWord(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch x := p.(type) {
		case *syntax.Lit:
			b.WriteString(strings.ReplaceAll(x.Value, `\`, ""))
		case *syntax.SglQuoted:
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			for _, q := range x.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(strings.ReplaceAll(l.Value, `\`, ""))
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// literalPrefix returns the literal text at the start of w (before its first expansion).
func literalPrefix(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		l, ok := p.(*syntax.Lit)
		if !ok {
			break
		}
		b.WriteString(l.Value)
	}
	return b.String(), b.Len() > 0
}

func wordIs(w *syntax.Word, s string) bool {
	l, ok := literalWord(w)
	return ok && l == s
}

func anyWordIs(ws []*syntax.Word, ss ...string) bool {
	for _, w := range ws {
		for _, s := range ss {
			if wordIs(w, s) {
				return true
			}
		}
	}
	return false
}

// checkShellTask is the decode-time check of a shell task: its literal command, with every
// template replaced as RenderShell does (values do not change where they land), the environment
// variables given templated values, and the nodes appended as --nodes.
//
// total, when not nil, adds up the sizes of the document's templated commands, which together may
// not pass MaxTemplatedShellBytesPerDocument.
func checkShellTask(t *Task, total *int) []Problem {
	command, ok := t.Properties["command"].(string)
	if !ok {
		return nil
	}
	var probs []Problem
	var extra []string
	env, _ := t.Properties["environment"].(map[string]any)
	for _, k := range sortedKeys(env) {
		s, isText := env[k].(string)
		if !isText || !hasKnownTemplate(s) {
			continue
		}
		if isDangerousEnv(k) {
			probs = append(probs, Problem{Path: joinPath(joinPath(t.Path, "environment"), k), Line: t.Line,
				Message: fmt.Sprintf("a templated value may not be given to %s: it makes the shell or a program load or run what it names", k)})
			continue
		}
		extra = append(extra, k)
	}
	rendered, _, used, err := renderShellWith(command, func(Expr) (string, error) { return "", nil })
	if err == nil {
		_, hasNodes := t.Properties["nodes"]
		if hasNodes {
			rendered += ` --nodes "${` + ShellNodesVar + `}"`
		}
		if total != nil && (len(used) > 0 || len(extra) > 0 || hasNodes) {
			*total += len(rendered)
		}
		if total != nil && *total > MaxTemplatedShellBytesPerDocument {
			err = fmt.Errorf("the document's shell commands holding templated values add up to more than %d bytes, the most fleetbook checks in one document: %w", MaxTemplatedShellBytesPerDocument, ErrUnsafeShellTemplate)
		} else {
			err = checkShellRefs(rendered, used, extra)
		}
	}
	if err != nil {
		probs = append(probs, Problem{Path: joinPath(t.Path, "command"), Line: t.Line, Message: err.Error()})
	}
	return probs
}

// hasKnownTemplate reports whether s holds a template the grammar knows.
func hasKnownTemplate(s string) bool {
	for _, e := range Templates(s) {
		if e.Kind != ExprUnknown {
			return true
		}
	}
	return false
}
