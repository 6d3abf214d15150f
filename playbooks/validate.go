package playbooks

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// topLevelKeys are the keys a playbook document may have (Choria's list).
var topLevelKeys = map[string]bool{
	"name": true, "version": true, "author": true, "description": true, "tags": true,
	"on_fail": true, "loglevel": true, "run_as": true, "uses": true, "inputs": true,
	"locks": true, "data_stores": true, "nodes": true, "tasks": true, "hooks": true,
	"macros": true, "$schema": true,
}

// requiredKeys must be present (and not empty) in every playbook.
var requiredKeys = []string{"name", "version", "author", "description"}

// Loglevels are the accepted `loglevel` values.
var Loglevels = []string{"debug", "info", "warn", "error", "fatal"}

var (
	callerIDRe     = regexp.MustCompile(`^\w+=[\w.\-]+$`)
	playbookNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	lockRe         = regexp.MustCompile(`^[a-zA-Z0-9_-]+(/.+)?$`)
)

// playbook decodes and validates the top-level map.
func (d *decoder) playbook(root *yaml.Node) *Playbook {
	pb := &Playbook{Loglevel: "info", FailPolicy: "fail", Uses: map[string]string{}, DataStores: map[string]DataStore{}}
	entries, ok := d.pairs(root, "", 1)
	if !ok {
		return pb
	}
	present := map[string]*yaml.Node{}
	for _, e := range entries {
		present[e.Key] = e.KeyN
		switch e.Key {
		case "name", "version", "author", "description", "$schema":
			s, ok := d.text(e.Value, e.Key)
			switch {
			case !ok:
			case strings.TrimSpace(s) == "" && e.Key != "$schema":
				d.probs.add(e.Key, e.Value, "must not be empty")
			case e.Key == "name" && !playbookNameRe.MatchString(s):
				// Choria's schema said so (its code did not check): the name becomes part of
				// lock keys, KV keys and file names.
				d.probs.add(e.Key, e.Value, "must be 1 to 64 letters, digits, '_' or '-', got %q", s)
			}
			d.setMeta(pb, e.Key, s)
		case "tags":
			pb.Tags, _ = d.stringList(e.Value, "tags", 1)
		case "loglevel":
			if s, ok := d.text(e.Value, e.Key); ok {
				if !containsFold(Loglevels, s) {
					d.probs.add("loglevel", e.Value, "must be one of %s, got %q", strings.Join(Loglevels, ", "), s)
				}
				pb.Loglevel = strings.ToLower(s)
			}
		case "run_as":
			if s, ok := d.text(e.Value, e.Key); ok {
				if !callerIDRe.MatchString(s) {
					d.probs.add("run_as", e.Value, `must be a caller id like "choria=deployer", got %q`, s)
				}
				pb.RunAs = s
			}
		case "on_fail":
			if s, ok := d.text(e.Value, e.Key); ok {
				switch s {
				case "fail":
				case "continue":
					d.probs.add("on_fail", e.Value, `"continue" is not supported (Choria declared it but never implemented it); use "fail" or leave on_fail out`)
				default:
					d.probs.add("on_fail", e.Value, `must be "fail", got %q`, s)
				}
				pb.FailPolicy = s
			}
		case "uses":
			if ps, ok := d.pairs(e.Value, "uses", 1); ok {
				for _, u := range ps {
					if s, ok := d.text(u.Value, joinPath("uses", u.Key)); ok {
						pb.Uses[u.Key] = s
					}
				}
			}
		case "inputs":
			pb.Inputs = d.inputs(e.Value)
		case "data_stores":
			if ds := d.dataStores(e.Value); ds != nil {
				pb.DataStores = ds
				d.checkStores(ds)
			}
		case "locks":
			if items, ok := d.seq(e.Value, "locks", 1); ok {
				d.lockNodes = items
				for i, it := range items {
					s, _ := d.text(it, indexPath("locks", i))
					pb.Locks = append(pb.Locks, s)
				}
			}
		case "nodes":
			pb.Nodes = d.nodeSets(e.Value)
		case "tasks":
			pb.Tasks = d.taskList(e.Value, "tasks")
		case "hooks":
			d.hooks(pb, e.Value)
		case "macros":
			// Never read: it only gives YAML anchors a legal place to live.
		case "data_sources":
			d.probs.add(e.Key, e.KeyN, `"data_sources" is the January-2017 spelling of "data_stores": rename the key to data_stores (same contents)`)
		default:
			d.probs.add(e.Key, e.KeyN, "unknown key %q%s", e.Key, suggest(e.Key, topLevelKeys))
		}
	}
	for _, k := range requiredKeys {
		if present[k] == nil {
			d.probs.add(k, nil, "required key %q is missing", k)
		}
	}
	d.crossCheck(pb, present)
	d.checkTemplates(pb)
	d.checkRegisters(pb)
	pb.Warnings = d.warnings.list
	return pb
}

// setMeta stores a metadata string.
func (d *decoder) setMeta(pb *Playbook, key, s string) {
	switch key {
	case "name":
		pb.Name = s
	case "version":
		pb.Version = s
	case "author":
		pb.Author = s
	case "description":
		pb.Description = s
	case "$schema":
		pb.Schema = s
	}
}

// hooks decodes the `hooks` map of hook lists.
func (d *decoder) hooks(pb *Playbook, n *yaml.Node) {
	entries, ok := d.pairs(n, "hooks", 1)
	if !ok {
		return
	}
	for _, e := range entries {
		name := ListName(e.Key)
		if !name.IsHook() {
			d.probs.add(joinPath("hooks", e.Key), e.KeyN, "unknown hook list %q (allowed: pre_book, on_success, on_fail, post_book, pre_task, post_task)", e.Key)
			continue
		}
		*pb.listPtr(name) = d.taskList(e.Value, joinPath("hooks", e.Key))
	}
}

// crossCheck verifies references between sections: stores named by inputs, locks and data
// tasks exist; agents named by node sets are declared in uses.
func (d *decoder) crossCheck(pb *Playbook, present map[string]*yaml.Node) {
	storeExists := func(path string) bool {
		store, _, _ := strings.Cut(path, "/")
		_, ok := pb.DataStores[store]
		return ok
	}
	for i, l := range pb.Locks {
		p := indexPath("locks", i)
		at := present["locks"]
		if i < len(d.lockNodes) {
			at = d.lockNodes[i]
		}
		switch {
		case !lockRe.MatchString(l):
			d.probs.add(p, at, `must be "store" or "store/key", got %q`, l)
		case !storeExists(l):
			d.probs.add(p, at, "lock %q names an undeclared data store", l)
		default:
			store, _, _ := strings.Cut(l, "/")
			if typ := pb.DataStores[store].Type; !StoreTypes[typ].CanLock {
				if _, known := StoreTypes[typ]; known {
					d.probs.add(p, at, "lock %q is on data store %q of type %s, which cannot lock (only %s stores can)", l, store, typ, lockableStores())
				}
			}
		}
	}
	for _, in := range pb.Inputs {
		if in.Data != "" && !storeExists(in.Data) {
			d.probs.add(joinPath(joinPath("inputs", in.Name), "data"), &yaml.Node{Line: in.Line}, "data %q names an undeclared data store", in.Data)
		}
	}
	for _, ns := range pb.Nodes {
		if store, ok := ns.Properties["store"].(string); ok && ns.Type == NodesData {
			if _, declared := pb.DataStores[store]; !declared {
				d.probs.add(joinPath(joinPath("nodes", ns.Name), "store"), &yaml.Node{Line: ns.Line}, "store %q names an undeclared data store (declare it in data_stores)", store)
			}
		}
		for i, u := range ns.Uses {
			if _, ok := pb.Uses[u]; !ok {
				d.probs.add(indexPath(joinPath(joinPath("nodes", ns.Name), "uses"), i), &yaml.Node{Line: ns.Line}, "agent %q is not declared in the top-level uses", u)
			}
		}
	}
	for _, ln := range ListNames() {
		for i, t := range pb.List(ln) {
			if t.Type != TypeData {
				continue
			}
			if k, ok := t.Properties["key"].(string); ok && !isTemplate(k) && !storeExists(k) {
				d.probs.add(listPath(ln, i)+".data.key", &yaml.Node{Line: t.Line}, "key %q names an undeclared data store", k)
			}
		}
	}
}

// listPath is the field path of a task list item (approximate for multi-key entries).
func listPath(ln ListName, i int) string {
	if ln == ListTasks {
		return indexPath("tasks", i)
	}
	return indexPath(joinPath("hooks", string(ln)), i)
}
