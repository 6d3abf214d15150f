package playbooks

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// CheckChildPath is the rule for the `file` (or `name`) of a playbook task, the path of a child
// playbook the submitting CLI reads and bundles: relative to the parent playbook's directory,
// and staying inside it, so a playbook cannot make the CLI read (and send to the coordinators)
// any other file of the submitter's. An absolute path, a volume name and any ".." element are
// refused; the CLI resolves symbolic links and checks the result is still inside (see
// cmd/fleetbook/files.go). The error wraps ErrChildPath and quotes the path, never a file.
func CheckChildPath(ref string) error {
	switch {
	case ref == "":
		return fmt.Errorf("%w: the path is empty", ErrChildPath)
	case strings.ContainsRune(ref, 0):
		return fmt.Errorf("%w: %q holds a NUL byte", ErrChildPath, ref)
	case filepath.IsAbs(ref) || path.IsAbs(ref) || strings.HasPrefix(ref, `\`) || filepath.VolumeName(ref) != "":
		return fmt.Errorf("%w: %q is absolute; give a path relative to the playbook's directory", ErrChildPath, ref)
	}
	for _, elem := range strings.FieldsFunc(ref, func(r rune) bool { return r == '/' || r == '\\' }) {
		if elem == ".." {
			return fmt.Errorf("%w: %q leaves the playbook's directory (..)", ErrChildPath, ref)
		}
	}
	return nil
}
