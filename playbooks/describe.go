package playbooks

// Description is a playbook described for people and tools (`fleetbook show`): its metadata,
// inputs, node sets, data stores, locks and task lists. Defaults of sensitive inputs are
// redacted. It is the decoded document, so YAML anchors and merge keys are already applied.
type Description struct {
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	Author      string            `json:"author"`
	Description string            `json:"description"`
	Tags        []string          `json:"tags,omitempty"`
	Loglevel    string            `json:"loglevel"`
	RunAs       string            `json:"run_as,omitempty"`
	Uses        map[string]string `json:"uses,omitempty"`
	Inputs      []InputInfo       `json:"inputs"`
	Nodes       []NodeSetInfo     `json:"nodes"`
	DataStores  map[string]string `json:"data_stores,omitempty"`
	Locks       []string          `json:"locks,omitempty"`
	Lists       []TaskListInfo    `json:"lists"`
	Warnings    []string          `json:"warnings,omitempty"`
}

// InputInfo describes one input.
type InputInfo struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Default     any    `json:"default,omitempty"`
	HasDefault  bool   `json:"has_default"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Dynamic     bool   `json:"dynamic,omitempty"`
	Data        string `json:"data,omitempty"`
	Save        bool   `json:"save,omitempty"`
	Validation  any    `json:"validation,omitempty"`
	Description string `json:"description,omitempty"`
}

// NodeSetInfo describes one node set.
type NodeSetInfo struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	AtLeast    int            `json:"at_least"`
	Limit      int            `json:"limit,omitempty"`
	EmptyOK    bool           `json:"empty_ok,omitempty"`
	Test       bool           `json:"test,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// TaskListInfo describes one non-empty task list.
type TaskListInfo struct {
	List  ListName   `json:"list"`
	Tasks []TaskInfo `json:"tasks"`
}

// TaskInfo describes one task.
type TaskInfo struct {
	Type        string         `json:"type"`
	Description string         `json:"description"`
	Register    string         `json:"register,omitempty"`
	Tries       int            `json:"tries"`
	FailOK      bool           `json:"fail_ok,omitempty"`
	Line        int            `json:"line"`
	Properties  map[string]any `json:"properties,omitempty"`
}

// Describe returns the playbook's Description.
func (p *Playbook) Describe() Description {
	d := Description{
		Name: p.Name, Version: p.Version, Author: p.Author, Description: p.Description,
		Tags: p.Tags, Loglevel: p.Loglevel, RunAs: p.RunAs, Uses: p.Uses, Locks: p.Locks,
		Inputs: []InputInfo{}, Nodes: []NodeSetInfo{}, Lists: []TaskListInfo{},
	}
	for _, in := range p.Inputs {
		info := InputInfo{
			Name: in.Name, Type: in.Type, Required: in.Required, HasDefault: in.HasDefault,
			Default: deepCopy(in.Default), Sensitive: in.Sensitive, Dynamic: in.Dynamic, Data: in.Data,
			Save: in.Save, Validation: in.Validation, Description: in.Description,
		}
		if in.Sensitive && in.HasDefault {
			info.Default = Redacted
		}
		d.Inputs = append(d.Inputs, info)
	}
	for _, ns := range p.Nodes {
		d.Nodes = append(d.Nodes, NodeSetInfo{
			Name: ns.Name, Type: ns.Type, AtLeast: ns.AtLeast, Limit: ns.Limit, EmptyOK: ns.EmptyOK,
			Test: ns.Test, Properties: ns.Properties,
		})
	}
	if len(p.DataStores) > 0 {
		d.DataStores = map[string]string{}
		for name, ds := range p.DataStores {
			d.DataStores[name] = ds.Type
		}
	}
	for _, ln := range ListNames() {
		var tasks []TaskInfo
		for _, t := range p.List(ln) {
			tasks = append(tasks, TaskInfo{
				Type: t.Type, Description: t.Description, Register: t.Register, Tries: t.Tries,
				FailOK: t.FailOK, Line: t.Line, Properties: t.Properties,
			})
		}
		if len(tasks) > 0 {
			d.Lists = append(d.Lists, TaskListInfo{List: ln, Tasks: tasks})
		}
	}
	for _, w := range p.Warnings {
		d.Warnings = append(d.Warnings, w.String())
	}
	return d
}
