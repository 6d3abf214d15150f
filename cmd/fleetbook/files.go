package main

import (
	"os"
	"path/filepath"

	"github.com/fleetbook/fleetbook/playbooks"
)

// maxChildPlaybooks bounds how many playbook documents one submission attaches, so a cycle or a
// runaway tree of playbook tasks is refused instead of read forever.
const maxChildPlaybooks = 64

// childPlaybooks reads the playbooks that doc's playbook tasks start, and theirs in turn, so the
// run carries every document it may need: a coordinator on another machine cannot read our files.
// A task's `file` is a path relative to the playbook that names it; its `name` is looked up as
// NAME.yaml or NAME.yml beside it. What cannot be read is left out: the coordinator then refuses
// the run naming the task's field.
func childPlaybooks(path string, doc []byte, opts ...playbooks.ParseOption) map[string]string {
	files := map[string]string{}
	var walk func(dir string, doc []byte)
	walk = func(dir string, doc []byte) {
		pb, err := playbooks.Parse(doc, opts...)
		if err != nil {
			return
		}
		for _, tasks := range pb.Lists() {
			for _, t := range tasks {
				if t.Type != playbooks.TypePlaybook || len(files) >= maxChildPlaybooks {
					continue
				}
				ref, candidates := "", []string(nil)
				if f, ok := t.Properties["file"].(string); ok {
					ref, candidates = f, []string{f}
				} else if n, ok := t.Properties["name"].(string); ok {
					ref, candidates = n, []string{n + ".yaml", n + ".yml"}
				}
				if ref == "" {
					continue
				}
				if _, seen := files[ref]; seen {
					continue
				}
				for _, c := range candidates {
					if !filepath.IsAbs(c) {
						c = filepath.Join(dir, c)
					}
					child, err := os.ReadFile(c)
					if err != nil {
						continue
					}
					files[ref] = string(child)
					walk(filepath.Dir(c), child)
					break
				}
			}
		}
	}
	walk(filepath.Dir(path), doc)
	if len(files) == 0 {
		return nil
	}
	return files
}
