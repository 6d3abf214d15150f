package playbooks

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// tplString is a decoded string that holds a template, with where it was found.
type tplString struct {
	path string
	node *yaml.Node
	text string
}

// noteTemplate records n when it holds a template.
func (d *decoder) noteTemplate(path string, n *yaml.Node) {
	if strings.Contains(n.Value, "{{") {
		d.tpls = append(d.tpls, tplString{path: path, node: n, text: n.Value})
	}
}

// checkTemplates verifies, before anything runs, that every template in a rendered section
// names a declared input, a declared node set (only in task lists, since node sets are not known
// while data stores, uses and node sets are rendered) and a known metadata key, and collects
// tasks.NAME references for checkRegisters. Forms that start like a reference but do not parse
// (inputs.a.b, tasks.x) are refused; other unknown forms, which stay literal text, are warnings.
func (d *decoder) checkTemplates(pb *Playbook) {
	inputs := map[string]bool{}
	for _, in := range pb.Inputs {
		inputs[in.Name] = true
	}
	nodes := map[string]bool{}
	for _, ns := range pb.Nodes {
		nodes[ns.Name] = true
	}
	for _, t := range d.tpls {
		section, _, _ := strings.Cut(t.path, ".")
		section, _, _ = strings.Cut(section, "[")
		inTasks := section == "tasks" || section == "hooks"
		if !inTasks && section != "nodes" && section != "data_stores" && section != "uses" {
			continue
		}
		for _, e := range Templates(t.text) {
			switch e.Kind {
			case ExprInput:
				if !inputs[e.Name] {
					d.probs.add(t.path, t.node, "template %s refers to undeclared input %q", e.Text, e.Name)
				}
			case ExprNodes:
				switch {
				case !inTasks:
					d.probs.add(t.path, t.node, "template %s cannot be used here: node sets are discovered after %s is rendered", e.Text, section)
				case !nodes[e.Name]:
					d.probs.add(t.path, t.node, "template %s refers to undeclared node set %q", e.Text, e.Name)
				}
			case ExprMetadata:
				if !isMetadataKey(e.Name) {
					d.probs.add(t.path, t.node, "template %s refers to unknown metadata %q (known: %s)", e.Text, e.Name, strings.Join(MetadataKeys, ", "))
				}
			case ExprPreviousTask:
				if !inTasks {
					d.probs.add(t.path, t.node, "template %s cannot be used here: no task has run when %s is rendered", e.Text, section)
				}
			case ExprTask:
				if !inTasks {
					d.probs.add(t.path, t.node, "template %s cannot be used here: only tasks can read registered task results", e.Text)
					continue
				}
				d.taskRefs = append(d.taskRefs, taskRef{tpl: t, expr: e})
			case ExprUnknown:
				if e.Malformed != "" {
					d.probs.add(t.path, t.node, "template %s is not a valid reference: %s", e.Text, e.Malformed)
					continue
				}
				d.warnings.add(t.path, t.node, "template %s is not a known form and will be left as literal text", e.Text)
			}
		}
	}
}
