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
	avail := availableRegisters(pb)
	for _, r := range d.taskRefs {
		name := r.expr.Name
		reg, ok := registeredAt[name]
		if !ok {
			d.probs.add(r.tpl.path, r.tpl.node, "template %s refers to %q, but no task has register: %s", r.expr.Text, name, name)
			continue
		}
		seen, runs := avail[taskPathOf(r.tpl.path)]
		if runs && !seen[name] {
			d.probs.add(r.tpl.path, r.tpl.node, "template %s refers to %q, which %s registers, but that task never runs before this one", r.expr.Text, name, reg.Path)
		}
	}
}

// availableRegisters walks the task lists in run order and returns, for each task path, the
// register names that may have been set by the time the task starts (at any of its runs).
// Tasks that never run (pre_task and post_task without main tasks) are absent.
func availableRegisters(pb *Playbook) map[string]map[string]bool {
	avail := map[string]map[string]bool{}
	walk := func(list []Task, seen map[string]bool) map[string]bool {
		for _, t := range list {
			a := avail[t.Path]
			if a == nil {
				a = map[string]bool{}
				avail[t.Path] = a
			}
			for k := range seen {
				a[k] = true
			}
			if t.Register != "" {
				next := copySet(seen)
				next[t.Register] = true
				seen = next
			}
		}
		return seen
	}
	seen := walk(pb.PreBook, map[string]bool{})
	for _, t := range pb.Tasks {
		seen = walk(pb.PreTask, seen)
		seen = walk([]Task{t}, seen)
		seen = walk(pb.PostTask, seen)
	}
	onSuccess := walk(pb.OnSuccess, copySet(seen))
	onFail := walk(pb.OnFail, copySet(seen))
	for k := range onFail {
		onSuccess[k] = true
	}
	walk(pb.PostBook, onSuccess)
	return avail
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m)+1)
	for k := range m {
		out[k] = true
	}
	return out
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
