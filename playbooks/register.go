package playbooks

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// taskRef is one tasks.NAME.FIELD template found in a task list.
type taskRef struct {
	tpl  tplString
	expr Expr
}

// checkRegisters validates `register` names and the tasks.NAME references to them.
//
// Names must be unique in the playbook. A reference must name a registered task that can have
// run before the referring task: the run order is pre_book, then for each main task pre_task,
// the task and post_task, then on_success or on_fail (never both), then post_book. A reference
// to a task that can have run, but did not in a given run (it failed earlier, or its branch was
// not taken), reads as a task that did not run (success false).
func (d *decoder) checkRegisters(pb *Playbook) {
	registeredAt := map[string]Task{}
	for _, ln := range ListNames() {
		for _, t := range pb.List(ln) {
			if t.Register == "" {
				continue
			}
			if first, dup := registeredAt[t.Register]; dup {
				d.probs.add(joinPath(t.Path, "register"), &yaml.Node{Line: t.Line}, "register name %q is already used by %s (line %d)", t.Register, first.Path, first.Line)
				continue
			}
			registeredAt[t.Register] = t
		}
	}
	if len(d.taskRefs) == 0 {
		return
	}
	pos := runPositions(pb)
	for _, r := range d.taskRefs {
		name := r.expr.Name
		reg, ok := registeredAt[name]
		if !ok {
			d.probs.add(r.tpl.path, r.tpl.node, "template %s refers to %q, but no task has register: %s", r.expr.Text, name, name)
			continue
		}
		at, runs := pos[taskPathOf(r.tpl.path)]
		if from := pos[reg.Path]; runs && !from.before(at) {
			d.probs.add(r.tpl.path, r.tpl.node, "template %s refers to %q, which %s registers, but that task never runs before this one", r.expr.Text, name, reg.Path)
		}
	}
}

// Branches of the run order: on_success and on_fail exclude each other.
const (
	branchNone = iota
	branchSuccess
	branchFail
)

// span is where a task can run in the run order: its first and last possible positions (a
// pre_task or post_task hook runs once per main task) and its branch.
type span struct {
	first, last int
	branch      int
	runs        bool
}

// before reports whether a task at s can have finished before one at o starts.
func (s span) before(o span) bool {
	if !s.runs || !o.runs {
		return false
	}
	if s.branch != branchNone && o.branch != branchNone && s.branch != o.branch {
		return false
	}
	return s.first < o.last
}

// runPositions numbers every task in run order without unrolling the main loop: pre_book, then
// for each main task pre_task, the task, post_task; then on_success and on_fail (exclusive
// branches); then post_book. Hooks of the main loop span from the first main task to the last;
// with no main task they never run. It is linear in the number of tasks, whatever the document.
func runPositions(pb *Playbook) map[string]span {
	pos := map[string]span{}
	seq := 0
	linear := func(list []Task, branch int) {
		for _, t := range list {
			pos[t.Path] = span{first: seq, last: seq, branch: branch, runs: true}
			seq++
		}
	}
	linear(pb.PreBook, branchNone)
	n, pre, post := len(pb.Tasks), len(pb.PreTask), len(pb.PostTask)
	stride := pre + 1 + post
	base := seq
	for j, t := range pb.PreTask {
		pos[t.Path] = span{first: base + j, last: base + (n-1)*stride + j, runs: n > 0}
	}
	for k, t := range pb.Tasks {
		p := base + k*stride + pre
		pos[t.Path] = span{first: p, last: p, runs: true}
	}
	for j, t := range pb.PostTask {
		pos[t.Path] = span{first: base + pre + 1 + j, last: base + (n-1)*stride + pre + 1 + j, runs: n > 0}
	}
	seq = base + n*stride
	linear(pb.OnSuccess, branchSuccess)
	linear(pb.OnFail, branchFail)
	linear(pb.PostBook, branchNone)
	return pos
}

// taskPathOf cuts a field path inside a task ("hooks.on_fail[1].slack.text") down to the
// task's path ("hooks.on_fail[1].slack").
func taskPathOf(p string) string {
	i := strings.Index(p, "]")
	if i < 0 || i+1 >= len(p) || p[i+1] != '.' {
		return p
	}
	rest := p[i+2:]
	if j := strings.IndexAny(rest, ".["); j >= 0 {
		return p[:i+2+j]
	}
	return p
}
