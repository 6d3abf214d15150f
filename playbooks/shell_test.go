package playbooks

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// runShell runs the rendered command with sh -c in dir, with env added.
func runShell(t *testing.T, dir, command string, env map[string]string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", command, err, out)
	}
	return string(out)
}

func TestRenderShellHostileValues(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	hostile := []string{
		"; touch canary #",
		"$(touch canary)",
		"`touch canary`",
		`"; touch canary; echo "`,
		`'; touch canary; echo '`,
		"a\nb\ntouch canary\n",
		"-n",
		"--help",
		"$HOME ${PATH}",
		"*",
		`\`,
		"  spaced   value  ",
		"",
		"|| touch canary && touch canary",
		"> canary",
		"{{ inputs.other }}",
	}
	forms := []struct {
		name, command, prefix, suffix string
	}{
		{"bare word", `printf '%s' {{ inputs.v }}`, "", ""},
		{"three braces", `printf '%s' {{{inputs.v}}}`, "", ""},
		{"double quoted", `printf '%s' "{{ inputs.v }}"`, "", ""},
		{"embedded in double quotes", `printf '%s' "pre {{ inputs.v }} post"`, "pre ", " post"},
		{"embedded in a word", `printf '%s' x{{ inputs.v }}y`, "x", "y"},
		{"assignment", `V={{ inputs.v }}; printf '%s' "$V"`, "", ""},
	}
	for _, f := range forms {
		for i, v := range hostile {
			t.Run(f.name+"/"+strings.ReplaceAll(v, "/", "_"), func(t *testing.T) {
				dir := t.TempDir()
				s := Scope{Inputs: map[string]any{"v": v, "other": "SECOND"}}
				rendered, env, err := RenderShell(f.command, s)
				if err != nil {
					t.Fatalf("RenderShell: %v", err)
				}
				if strings.Contains(rendered, v) && v != "" && v != "*" && v != "-n" && v != `\` {
					t.Fatalf("value %d leaked into the command line: %s", i, rendered)
				}
				got := runShell(t, dir, rendered, env)
				if want := f.prefix + v + f.suffix; got != want {
					t.Fatalf("output %q, want %q (command %s)", got, want, rendered)
				}
				if _, err := os.Stat(filepath.Join(dir, "canary")); err == nil {
					t.Fatal("canary file was created: the value ran as shell code")
				}
			})
		}
	}
}

func TestRenderShellOutput(t *testing.T) {
	s := Scope{Inputs: map[string]any{"v": "x y", "l": []any{"a", "b"}}, Nodes: map[string][]string{"web": {"w1", "w2"}}}
	cases := []struct {
		name, command, rendered string
		env                     map[string]string
	}{
		{"unquoted", "echo {{ inputs.v }}", `echo "${FLEETBOOK_TPL_1}"`, map[string]string{"FLEETBOOK_TPL_1": "x y"}},
		{"double quoted", `echo "a{{ inputs.v }}b"`, `echo "a${FLEETBOOK_TPL_1}b"`, map[string]string{"FLEETBOOK_TPL_1": "x y"}},
		{"list uses the Choria text form", "echo {{ nodes.web }} {{ inputs.l }}", `echo "${FLEETBOOK_TPL_1}" "${FLEETBOOK_TPL_2}"`,
			map[string]string{"FLEETBOOK_TPL_1": "w1, w2", "FLEETBOOK_TPL_2": "a, b"}},
		{"unknown form literal", "echo {{ nope }}", "echo {{ nope }}", map[string]string{}},
		{"escaped quote before", `echo \"{{ inputs.v }}`, `echo \""${FLEETBOOK_TPL_1}"`, map[string]string{"FLEETBOOK_TPL_1": "x y"}},
		{"template in a comment is left alone", "echo ok # it's {{ inputs.v }}\necho {{ inputs.v }}", "echo ok # it's {{ inputs.v }}\necho \"${FLEETBOOK_TPL_1}\"",
			map[string]string{"FLEETBOOK_TPL_1": "x y"}},
		{"after a closed single-quoted part", `echo 'a' {{ inputs.v }}`, `echo 'a' "${FLEETBOOK_TPL_1}"`, map[string]string{"FLEETBOOK_TPL_1": "x y"}},
		{"after a command substitution", `echo $(date) {{ inputs.v }}`, `echo $(date) "${FLEETBOOK_TPL_1}"`, map[string]string{"FLEETBOOK_TPL_1": "x y"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, env, err := RenderShell(tc.command, s)
			if err != nil {
				t.Fatal(err)
			}
			if r != tc.rendered || !reflect.DeepEqual(env, tc.env) {
				t.Fatalf("got %q %v, want %q %v", r, env, tc.rendered, tc.env)
			}
		})
	}
}

func TestRenderShellRefusesUnsafePositions(t *testing.T) {
	s := Scope{Inputs: map[string]any{"v": "x"}}
	cases := []struct{ name, command, reason string }{
		{"single quotes", `echo '{{ inputs.v }}'`, "single quotes"},
		{"single quotes embedded", `echo 'a {{ inputs.v }} b'`, "single quotes"},
		{"dollar single quotes", `echo $'{{ inputs.v }}'`, "$'...'"},
		{"after backslash", `echo \{{ inputs.v }}`, "backslash"},
		{"after backslash in double quotes", `echo "\{{ inputs.v }}"`, "backslash"},
		{"after dollar", `echo ${{ inputs.v }}`, "'$'"},
		{"command substitution", `echo $(echo {{ inputs.v }})`, "command substitution"},
		{"nested double quotes in substitution", `echo "$(echo "{{ inputs.v }}")"`, "command substitution"},
		{"backticks", "echo `echo {{ inputs.v }}`", "backtick"},
		{"parameter expansion", `echo ${X:-{{ inputs.v }}}`, "parameter expansion"},
		{"here document", "cat <<EOF\n{{ inputs.v }}\nEOF", "here-document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := RenderShell(tc.command, s)
			if !errors.Is(err, ErrUnsafeShellTemplate) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "double quotes") {
				t.Fatalf("got %v, want refusal mentioning %q", err, tc.reason)
			}
		})
	}
	if _, _, err := RenderShell("echo {{ inputs.nope }}", s); !errors.Is(err, ErrUnknownInput) {
		t.Fatalf("unknown input: %v", err)
	}
	if _, _, err := RenderShell("echo {{ inputs.v }}", Scope{Inputs: map[string]any{"v": "a\x00b"}}); !errors.Is(err, ErrTemplateValue) {
		t.Fatalf("NUL byte: %v", err)
	}
}

func TestDecodeShell(t *testing.T) {
	good := []struct {
		name  string
		props map[string]any
		want  ShellSpec
	}{
		{"minimal", map[string]any{"command": "ls"}, ShellSpec{Command: "ls"}},
		{"all", map[string]any{"command": "ls", "cwd": "/tmp", "timeout": 2.5, "environment": map[string]any{"A": "b", "N": 1}, "nodes": []any{"n1", "n2"}},
			ShellSpec{Command: "ls", Cwd: "/tmp", Timeout: 2500 * time.Millisecond, Environment: map[string]string{"A": "b", "N": "1"}, Nodes: []string{"n1", "n2"}}},
		{"numeric string timeout", map[string]any{"command": "ls", "timeout": "30"}, ShellSpec{Command: "ls", Timeout: 30 * time.Second}},
		{"int timeout", map[string]any{"command": "ls", "timeout": 5}, ShellSpec{Command: "ls", Timeout: 5 * time.Second}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeShell(tc.props)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
	bad := []struct {
		name  string
		props map[string]any
		path  string
	}{
		{"missing command", map[string]any{"cwd": "/"}, "shell.command"},
		{"empty command", map[string]any{"command": " "}, "shell.command"},
		{"timeout text", map[string]any{"command": "ls", "timeout": "abc"}, "shell.timeout"},
		{"timeout still templated", map[string]any{"command": "ls", "timeout": "{{ inputs.t }}"}, "shell.timeout"},
		{"timeout zero", map[string]any{"command": "ls", "timeout": 0}, "shell.timeout"},
		{"nodes not a list", map[string]any{"command": "ls", "nodes": "a,b"}, "shell.nodes"},
		{"environment list", map[string]any{"command": "ls", "environment": []any{"A=b"}}, "shell.environment"},
		{"unknown key", map[string]any{"command": "ls", "shell": "bash"}, "shell.shell"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeShell(tc.props)
			probs := problemsOf(t, err)
			if probs[0].Path != tc.path {
				t.Fatalf("got %v, want path %s", err, tc.path)
			}
		})
	}
}
