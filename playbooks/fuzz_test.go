package playbooks

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullDoc))
	f.Add([]byte(inputsDoc))
	f.Add([]byte(billionLaughs))
	f.Add([]byte(header + "tasks:\n  - shell: {command: \"{{ inputs.x }}\", <<: {a: 1}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("- x\n"))
	for _, name := range []string{"spec-playbook.yaml", "spec-illegal.yaml", "docs-app_upgrade.yaml"} {
		if b, err := os.ReadFile(filepath.Join(compatDir, name)); err == nil {
			f.Add(b)
		}
	}
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, name := range invalid {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		pb, err := Parse(src)
		if (pb == nil) == (err == nil) {
			t.Fatalf("Parse must return exactly one of a playbook or an error: %v %v", pb, err)
		}
		if pb != nil {
			_, _ = pb.ResolveInputs(nil)
			_ = pb.Metadata()
			_ = pb.Describe()
		}
	})
}

func FuzzRenderShell(f *testing.F) {
	for _, s := range []string{`echo {{ inputs.v }}`, `echo "{{inputs.v}}"`, `echo '{{ inputs.v }}'`, "echo `{{ inputs.v }}`", `$(x "{{ inputs.v }}")`, `${{{ inputs.v }}}`, `\`, `$'\'{{inputs.v}}'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, command string) {
		_, _, _ = RenderShell(command, Scope{Inputs: map[string]any{"v": "x"}})
		_, _ = Render(command, Scope{Inputs: map[string]any{"v": "x"}})
	})
}
