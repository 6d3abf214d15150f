package playbooks

// Playbook is a decoded and validated playbook document.
//
// Every string is kept exactly as written: templates are rendered later, by the caller, with
// Render, RenderString or RenderShell.
type Playbook struct {
	// Schema is the ignored `$schema` key (lets editors validate the document).
	Schema string
	// Name is the playbook name (required).
	Name string
	// Version is the playbook version (required), kept as its source text.
	Version string
	// Author is the playbook author (required).
	Author string
	// Description is the playbook description (required).
	Description string
	// Tags are free-form labels.
	Tags []string
	// Loglevel is one of debug, info, warn, error, fatal; default info.
	Loglevel string
	// RunAs is the optional caller id (`word=word.word`); it has no effect at run time.
	RunAs string
	// FailPolicy is the top-level `on_fail` key: always "fail" (the default), the only policy
	// Choria implemented. It is readable as metadata.on_fail.
	FailPolicy string
	// Uses maps agent names to SemVer ranges.
	Uses map[string]string
	// Inputs are the declared inputs in declaration order.
	Inputs []Input
	// DataStores maps store names to their declarations.
	DataStores map[string]DataStore
	// Locks lists lock entries: "store" or "store/key", in the order they are taken.
	Locks []string
	// Nodes are the node sets in declaration order.
	Nodes []NodeSet

	// PreBook is the hooks.pre_book list.
	PreBook []Task
	// Tasks is the main task list.
	Tasks []Task
	// PreTask is the hooks.pre_task list, run before each main task.
	PreTask []Task
	// PostTask is the hooks.post_task list, run after each main task.
	PostTask []Task
	// OnSuccess is the hooks.on_success list.
	OnSuccess []Task
	// OnFail is the hooks.on_fail list.
	OnFail []Task
	// PostBook is the hooks.post_book list.
	PostBook []Task

	// Warnings are non-fatal findings, such as deprecated spellings, for tools to show.
	Warnings []Problem
}

// ListName names a task list.
type ListName string

// The task lists, the main one and the six hook lists.
const (
	ListPreBook   ListName = "pre_book"
	ListTasks     ListName = "tasks"
	ListPreTask   ListName = "pre_task"
	ListPostTask  ListName = "post_task"
	ListOnSuccess ListName = "on_success"
	ListOnFail    ListName = "on_fail"
	ListPostBook  ListName = "post_book"
)

// ListNames returns every task list name: the main list and the hook lists.
func ListNames() []ListName {
	return []ListName{ListPreBook, ListTasks, ListPreTask, ListPostTask, ListOnSuccess, ListOnFail, ListPostBook}
}

// IsHook reports whether n is one of the six hook list names.
func (n ListName) IsHook() bool {
	switch n {
	case ListPreBook, ListPreTask, ListPostTask, ListOnSuccess, ListOnFail, ListPostBook:
		return true
	}
	return false
}

// List returns the tasks of the named list, nil for an unknown name.
func (p *Playbook) List(name ListName) []Task {
	if l := p.listPtr(name); l != nil {
		return *l
	}
	return nil
}

// Lists returns every list that has tasks, keyed by name.
func (p *Playbook) Lists() map[ListName][]Task {
	out := map[ListName][]Task{}
	for _, n := range ListNames() {
		if l := p.List(n); len(l) > 0 {
			out[n] = l
		}
	}
	return out
}

func (p *Playbook) listPtr(name ListName) *[]Task {
	switch name {
	case ListPreBook:
		return &p.PreBook
	case ListTasks:
		return &p.Tasks
	case ListPreTask:
		return &p.PreTask
	case ListPostTask:
		return &p.PostTask
	case ListOnSuccess:
		return &p.OnSuccess
	case ListOnFail:
		return &p.OnFail
	case ListPostBook:
		return &p.PostBook
	}
	return nil
}

// MetadataKeys are the keys readable as `metadata.KEY` in templates.
var MetadataKeys = []string{"name", "version", "author", "description", "tags", "on_fail", "loglevel", "run_as"}

// Metadata returns the eight metadata values readable as `metadata.KEY` in templates.
func (p *Playbook) Metadata() map[string]any {
	tags := make([]any, 0, len(p.Tags))
	for _, t := range p.Tags {
		tags = append(tags, t)
	}
	return map[string]any{
		"name":        p.Name,
		"version":     p.Version,
		"author":      p.Author,
		"description": p.Description,
		"tags":        tags,
		"on_fail":     p.FailPolicy,
		"loglevel":    p.Loglevel,
		"run_as":      p.RunAs,
	}
}

// Input returns the declared input called name.
func (p *Playbook) Input(name string) (Input, bool) {
	for _, in := range p.Inputs {
		if in.Name == name {
			return in, true
		}
	}
	return Input{}, false
}

// NodeSet returns the declared node set called name.
func (p *Playbook) NodeSet(name string) (NodeSet, bool) {
	for _, ns := range p.Nodes {
		if ns.Name == name {
			return ns, true
		}
	}
	return NodeSet{}, false
}
