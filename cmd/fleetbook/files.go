package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// maxChildPlaybooks bounds how many playbook documents one submission attaches, so a cycle or a
// runaway tree of playbook tasks is refused instead of read forever.
const maxChildPlaybooks = 64

// childPlaybooks reads the playbooks that doc's playbook tasks start, and theirs in turn, so the
// run carries every document it may need: a coordinator on another machine cannot read our files.
// A task's `file` is a path relative to the playbook that names it; its `name` is looked up as
// NAME.yaml or NAME.yml beside it. What does not exist is left out: the coordinator then refuses
// the run naming the task's field.
//
// Every child must stay inside the directory of the playbook given on the command line (the
// root), after symbolic links are resolved: a playbook must not make the submitter's CLI read and
// send any other file. A child that escapes, is not a regular file, or is not a valid playbook is
// refused here, naming the task's field; no message quotes a file's content (a child that is not
// a playbook is named with the lines of its problems only).
func childPlaybooks(path string, doc []byte, opts ...playbooks.ParseOption) (map[string]string, *protocol.ErrorResponse) {
	root, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		root = filepath.Dir(path)
	}
	root, _ = filepath.Abs(root)
	files := map[string]string{}
	var probs []protocol.Problem
	var walk func(dir, via string, doc []byte)
	walk = func(dir, via string, doc []byte) {
		pb, err := playbooks.Parse(doc, opts...)
		if err != nil {
			return
		}
		for _, tasks := range pb.Lists() {
			for _, t := range tasks {
				if t.Type != playbooks.TypePlaybook || len(files) >= maxChildPlaybooks {
					continue
				}
				ref, field, candidates := "", "file", []string(nil)
				if f, ok := t.Properties["file"].(string); ok {
					ref, candidates = f, []string{f}
				} else if n, ok := t.Properties["name"].(string); ok && !strings.Contains(n, "{{") {
					ref, field, candidates = n, "name", []string{n + ".yaml", n + ".yml"}
				}
				if ref == "" {
					continue
				}
				if _, seen := files[ref]; seen {
					continue
				}
				refuse := func(format string, a ...any) {
					msg := fmt.Sprintf(format, a...)
					if via != "" {
						msg = fmt.Sprintf("in child playbook %q: %s", via, msg)
					}
					probs = append(probs, protocol.Problem{Path: t.Path + "." + field, Line: t.Line, Message: msg})
				}
				if err := playbooks.CheckChildPath(ref); err != nil {
					refuse("%v", err)
					continue
				}
				for _, c := range candidates {
					child, next, err := readChild(root, filepath.Join(dir, c))
					if errors.Is(err, fs.ErrNotExist) {
						continue
					}
					if err != nil {
						refuse("playbook %q: %v", ref, err)
						break
					}
					if _, err := playbooks.Parse(child, opts...); err != nil {
						refuse("playbook %q is not a valid playbook (%s; check it with `fleetbook validate`)", ref, problemLines(err))
						break
					}
					files[ref] = string(child)
					walk(next, ref, child)
					break
				}
			}
		}
	}
	walk(root, "", doc)
	if len(probs) > 0 {
		return nil, &protocol.ErrorResponse{Code: protocol.CodeInvalidPlaybook,
			Message: "invalid playbook: a child playbook cannot be sent with the run", Problems: probs}
	}
	if len(files) == 0 {
		return nil, nil
	}
	return files, nil
}

// errOutsideRoot refuses a child playbook that resolves outside the root playbook's directory.
var errOutsideRoot = errors.New("resolves outside the playbook's directory")

// readChild reads the child playbook at p once its real path (symbolic links resolved) is
// known to be a regular file inside root, and returns it with its real directory. It reads at
// most playbooks.MaxDocumentBytes+1 bytes, enough for Parse to refuse a larger one.
func readChild(root, p string) ([]byte, string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		return nil, "", errors.New("cannot be resolved")
	}
	real, _ = filepath.Abs(real)
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, "", fmt.Errorf("%w (through a symbolic link)", errOutsideRoot)
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, "", errors.New("cannot be opened")
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, "", errors.New("is not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, playbooks.MaxDocumentBytes+1))
	if err != nil {
		return nil, "", errors.New("cannot be read")
	}
	return b, filepath.Dir(real), nil
}

// problemLines names where a child document's problems are, without their messages: a file that
// is no playbook must not have any of its text copied into the submitter's output.
func problemLines(err error) string {
	var verr *playbooks.ValidationError
	if !errors.As(err, &verr) {
		return "it does not parse"
	}
	seen := map[int]bool{}
	var lines []int
	for _, p := range verr.Problems {
		if p.Line > 0 && !seen[p.Line] {
			seen[p.Line] = true
			lines = append(lines, p.Line)
		}
	}
	sort.Ints(lines)
	if len(lines) == 0 {
		return fmt.Sprintf("%d problem(s)", len(verr.Problems))
	}
	if len(lines) > 5 {
		lines = lines[:5]
	}
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = fmt.Sprint(l)
	}
	return fmt.Sprintf("%d problem(s), at line %s", len(verr.Problems), strings.Join(s, ", "))
}
