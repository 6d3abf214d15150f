package playbooks

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkCommandText runs the decode-time check on one command, as a shell task's command.
func checkCommandText(command string, props map[string]any) []Problem {
	t := &Task{Type: TypeShell, Path: "tasks[0].shell", Properties: map[string]any{"command": command}}
	for k, v := range props {
		t.Properties[k] = v
	}
	return checkShellTask(t, nil)
}

// TestShellPositionsTable is the verdict on where a template may stand: safe (data) positions
// pass, every position where the value could become code is refused with a reason.
func TestShellPositionsTable(t *testing.T) {
	cases := []struct {
		command string
		safe    bool
		reason  string // a part of the refusal
	}{
		// Safe: data positions.
		{`echo {{ inputs.x }}`, true, ""},
		{`echo "{{ inputs.x }}"`, true, ""},
		{`printf '%s\n' "pre {{ inputs.x }} post"`, true, ""},
		{`ls -l --color=never x{{ inputs.x }}y`, true, ""},
		{`V={{ inputs.x }}; printf '%s' "$V"`, true, ""},
		{`export V="{{ inputs.x }}"; env | grep -c V`, true, ""},
		{`DEPLOY={{ inputs.x }} make-release --quiet`, true, ""},
		{`echo ok > "/tmp/{{ inputs.x }}.log"`, true, ""},
		{`for f in {{ inputs.x }}; do echo "$f"; done`, true, ""},
		{`case "{{ inputs.x }}" in a) echo a;; *) echo other;; esac`, true, ""},
		{`[ "{{ inputs.x }}" = yes ] && echo yes`, true, ""},
		{`test -n "{{ inputs.x }}"`, true, ""},
		{`timeout 5 curl -sf "https://example.com/{{ inputs.x }}"`, true, ""},
		{`sudo -u deploy /usr/bin/appctl upgrade "{{ inputs.x }}"`, true, ""},
		{`env -i A=1 B="{{ inputs.x }}" /usr/bin/printenv B`, true, ""},
		{`nice -n 5 nohup tar -czf /tmp/x.tgz -- "{{ inputs.x }}"`, true, ""},
		{`bash /opt/deploy.sh "{{ inputs.x }}"`, true, ""},
		{`python3 /opt/tool.py --rev {{ inputs.x }}`, true, ""},
		{`printf '%s' "{{ inputs.x }}" | grep -q foo`, true, ""},
		{`printf '%s' "{{ inputs.x }}" | xargs -n1 echo`, true, ""},
		{`find /srv -name "{{ inputs.x }}" -delete`, true, ""},
		{`find /srv -name "{{ inputs.x }}" -exec rm -f {} \;`, true, ""},
		{`printf '%s\n' "{{ inputs.x }}" | while read -r l; do echo "$l"; done`, true, ""},
		{`sh -c 'echo "$X"'`, true, ""},
		{`echo ok # {{ inputs.x }} in a comment`, true, ""},
		{`sh -c "echo hi"; eval "echo no values"`, true, ""},
		{`V={{ inputs.x }}; n=$(grep -c "$V" /etc/hosts); echo "$n"`, true, ""},
		{`V={{ inputs.x }}; diff <(sort "$V") /tmp/b`, true, ""},
		{`V={{ inputs.x }}; eval "$(cat "$V")"`, false, "eval"},
		{`V={{ inputs.x }}; echo "$(sh -c "$V")"`, false, "argument of sh"},
		{`V={{ inputs.x }}; [[ $(cat "$V") -eq 1 ]]`, false, "command substitution"},
		{`V={{ inputs.x }}; echo $(( $(cat "$V") + 1 ))`, false, "command substitution"},

		// Refused: quoting and nesting (the lexer).
		{`echo '{{ inputs.x }}'`, false, "single quotes"},
		{`echo $(echo {{ inputs.x }})`, false, "command substitution"},
		{"echo `echo {{ inputs.x }}`", false, "backtick"},
		{`echo ${X:-{{ inputs.x }}}`, false, "parameter expansion"},
		{`echo \{{ inputs.x }}`, false, "backslash"},
		{"cat <<EOF\n{{ inputs.x }}\nEOF", false, "here-document"},
		{`cat <<< "{{ inputs.x }}"`, false, "here-document"},
		// Refused: evaluating commands.
		{`eval "{{ inputs.x }}"`, false, "eval"},
		{`sh -c "{{ inputs.x }}"`, false, "sh"},
		{`bash -c "{{ inputs.x }}"`, false, "bash"},
		{`/bin/zsh -c "{{ inputs.x }}"`, false, "zsh"},
		{`dash -ec "{{ inputs.x }}"`, false, "dash"},
		{`ksh -c {{ inputs.x }}`, false, "ksh"},
		{`bash "{{ inputs.x }}"`, false, "bash"},
		{`ssh web1 "{{ inputs.x }}"`, false, "ssh"},
		{`ssh -o BatchMode=yes web1 uptime {{ inputs.x }}`, false, "ssh"},
		{`printf '%s' "{{ inputs.x }}" | xargs sh -c`, false, "piped into"},
		{`printf '%s' "{{ inputs.x }}" | xargs -I{} sh -c 'echo {}'`, false, "piped into"},
		{`echo "{{ inputs.x }}" | sh`, false, "piped into sh"},
		{`echo "{{ inputs.x }}" | tee /tmp/log | bash -s`, false, "piped into"},
		{`printf '%s\n' "{{ inputs.x }}" | while read -r l; do eval "$l"; done`, false, "eval"},
		{`find . -exec sh -c "{{ inputs.x }}" \;`, false, "find -exec"},
		{`find . -exec {{ inputs.x }} \;`, false, "name of the command"},
		{`env sh -c "{{ inputs.x }}"`, false, "sh"},
		{`env -S "{{ inputs.x }}"`, false, "-S"},
		{`sudo sh -c "{{ inputs.x }}"`, false, "sh"},
		{`sudo -i "{{ inputs.x }}"`, false, "-i"},
		{`sudo --frobnicate x "{{ inputs.x }}"`, false, "option fleetbook does not know"},
		{`su -c "{{ inputs.x }}" deploy`, false, "su"},
		{`watch "ls {{ inputs.x }}"`, false, "watch"},
		{`timeout 5 bash -c "{{ inputs.x }}"`, false, "bash"},
		{`nohup sh -c "{{ inputs.x }}"`, false, "sh"},
		{`exec {{ inputs.x }}`, false, "name of the command"},
		{`source "{{ inputs.x }}"`, false, "source"},
		{`. "{{ inputs.x }}"`, false, "."},
		{`python3 -c "{{ inputs.x }}"`, false, "python3"},
		{`perl -e "{{ inputs.x }}"`, false, "perl"},
		{`ruby -e "{{ inputs.x }}"`, false, "ruby"},
		{`node -e "{{ inputs.x }}"`, false, "node"},
		{`awk "{{ inputs.x }}" /etc/hosts`, false, "awk"},
		{`sed -i "s/a/{{ inputs.x }}/" /tmp/f`, false, "sed"},
		{`docker run --rm alpine sh -c "{{ inputs.x }}"`, false, "follows sh"},
		{`{{ inputs.x }} --version`, false, "name of the command"},
		{`$CMD "{{ inputs.x }}"`, false, "not a literal word"},
		{`trap "{{ inputs.x }}" EXIT`, false, "trap"},
		{`read "{{ inputs.x }}" < /dev/null`, false, "read"},
		{`printf -v "{{ inputs.x }}" %s 1`, false, "printf -v"},
		{`test -v "{{ inputs.x }}"`, false, "-v"},
		{`[[ "{{ inputs.x }}" -eq 1 ]]`, false, "[[ ]]"},
		{`(( {{ inputs.x }} + 1 ))`, false, "arithmetic"},
		{`V="{{ inputs.x }}"; sh -c "$V"`, false, "$V"},
		{`for c in {{ inputs.x }}; do bash -c "$c"; done`, false, "$c"},
		{`PATH={{ inputs.x }} ls`, false, "PATH"},
		{`export LD_PRELOAD="{{ inputs.x }}"`, false, "LD_PRELOAD"},
		{`run() { eval "$1"; }; run "{{ inputs.x }}"`, false, "shell function run"},
		{`cat < "{{ inputs.x }}" | sh`, false, "piped into"},
		{`sh < "{{ inputs.x }}"`, false, "reads as code"},
		{`echo ok >& "{{ inputs.x }}"`, false, "descriptor"},
		{`echo "{{ inputs.x }}" "$(`, false, "does not parse"},
	}
	if len(cases) < 30 {
		t.Fatalf("the table must hold at least 30 commands, has %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.command, func(t *testing.T) {
			probs := checkCommandText(tc.command, nil)
			if tc.safe {
				if len(probs) > 0 {
					t.Fatalf("refused a safe command: %v", probs)
				}
				return
			}
			if len(probs) != 1 || probs[0].Path != "tasks[0].shell.command" {
				t.Fatalf("got %v, want one problem at tasks[0].shell.command", probs)
			}
			if !strings.Contains(probs[0].Message, tc.reason) || !strings.Contains(probs[0].Message, "{{ inputs.x }}") && !strings.Contains(probs[0].Message, "$") {
				t.Fatalf("message %q does not name the template and %q", probs[0].Message, tc.reason)
			}
		})
	}
}

// TestShellTaskEnvironmentAndNodes: an environment variable given a value is a value in the
// command too; loader variables may not get one; nodes appended to an evaluator are refused.
func TestShellTaskEnvironmentAndNodes(t *testing.T) {
	env := map[string]any{"X": "{{ inputs.x }}", "MODE": "fast"}
	if probs := checkCommandText(`sh -c 'echo "$X"'`, map[string]any{"environment": env}); len(probs) > 0 {
		t.Fatalf("the single-quoted script reading $X is the safe form: %v", probs)
	}
	if probs := checkCommandText(`sh -c "echo $MODE"`, map[string]any{"environment": env}); len(probs) > 0 {
		t.Fatalf("a literal environment value is no value: %v", probs)
	}
	probs := checkCommandText(`sh -c "echo $X"`, map[string]any{"environment": env})
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "$X") {
		t.Fatalf("got %v, want the templated $X refused", probs)
	}
	probs = checkCommandText(`ls`, map[string]any{"environment": map[string]any{"LD_PRELOAD": "{{ inputs.x }}"}})
	if len(probs) != 1 || probs[0].Path != "tasks[0].shell.environment.LD_PRELOAD" {
		t.Fatalf("got %v, want tasks[0].shell.environment.LD_PRELOAD", probs)
	}
	if probs := checkCommandText(`/usr/local/bin/report`, map[string]any{"nodes": []any{"a"}}); len(probs) > 0 {
		t.Fatalf("nodes after a plain command: %v", probs)
	}
	probs = checkCommandText(`eval`, map[string]any{"nodes": []any{"a"}})
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "nodes") {
		t.Fatalf("got %v, want the nodes refused after eval", probs)
	}
}

// TestCheckRenderedShell is the worker's check, on commands as rendered.
func TestCheckRenderedShell(t *testing.T) {
	if err := CheckRenderedShell(`echo "${FLEETBOOK_TPL_1}" --nodes "${FLEETBOOK_NODES}"`); err != nil {
		t.Fatal(err)
	}
	if err := CheckRenderedShell(`sh -c 'echo hi'`); err != nil {
		t.Fatal(err)
	}
	err := CheckRenderedShell(`sh -c "${FLEETBOOK_TPL_1}"`)
	if !errors.Is(err, ErrUnsafeShellTemplate) || !strings.Contains(err.Error(), "$FLEETBOOK_TPL_1") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := RenderShell(`eval "{{ inputs.v }}"`, Scope{Inputs: map[string]any{"v": "x"}}); !errors.Is(err, ErrUnsafeShellTemplate) {
		t.Fatalf("RenderShell must refuse too: %v", err)
	}
}

// TestParseRefusesUnsafeShellTemplates: the refusal comes from Parse, at the command's path.
func TestParseRefusesUnsafeShellTemplates(t *testing.T) {
	src := header + "inputs:\n  x: {type: String}\ntasks:\n  - shell: {command: \"touch /tmp/m\"}\n  - shell:\n      command: 'sh -c \"{{ inputs.x }}\"'\n"
	_, err := Parse([]byte(src))
	probs := problemsOf(t, err)
	if probs[0].Path != "tasks[1].shell.command" || !strings.Contains(probs[0].Message, "sh") {
		t.Fatalf("got %v", probs)
	}
}

// TestShellCanaryThroughSafePositions renders hostile values through every safe position of
// the table's kind, checks the command passes the decode-time check, and runs it with sh as a
// worker does: the canary is never created and what the command prints is the value, byte for
// byte.
func TestShellCanaryThroughSafePositions(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	hostile := []string{
		"; touch $CANARY #",
		"$(touch $CANARY)",
		"`touch $CANARY`",
		"'\"\n",
		"--help",
		"-n",
		"a\\b\\\\c",
		"x; touch \"$CANARY\"; echo '",
		"* ?",
	}
	// Each form prints the value (with the prefix and suffix given) on stdout.
	forms := []struct{ name, command, prefix, suffix string }{
		{"argument", `printf '%s' {{ inputs.v }}`, "", ""},
		{"double-quoted argument", `printf '%s' "{{ inputs.v }}"`, "", ""},
		{"inside a double-quoted word", `printf '%s' "<{{ inputs.v }}>"`, "<", ">"},
		{"part of a word", `printf '%s' --x={{ inputs.v }}`, "--x=", ""},
		{"assignment", `V={{ inputs.v }}; printf '%s' "$V"`, "", ""},
		{"export", `export V="{{ inputs.v }}"; printf '%s' "$V"`, "", ""},
		{"prefix assignment", `V={{ inputs.v }} sh -c 'printf "%s" "$V"'`, "", ""},
		{"through env", `env V={{ inputs.v }} sh -c 'printf "%s" "$V"'`, "", ""},
		{"through timeout", `timeout 30 printf '%s' "{{ inputs.v }}"`, "", ""},
		{"for item", `for i in {{ inputs.v }}; do printf '%s' "$i"; done`, "", ""},
		{"case subject", `case {{ inputs.v }} in *) printf '%s' "{{ inputs.v }}";; esac`, "", ""},
		{"redirect target", `printf '%s' "{{ inputs.v }}" > out.txt; cat out.txt`, "", ""},
		{"pipe into cat", `printf '%s' "{{ inputs.v }}" | cat`, "", ""},
		{"test operand", `[ "{{ inputs.v }}" = "{{ inputs.v }}" ] && printf '%s' "{{ inputs.v }}"`, "", ""},
	}
	for _, f := range forms {
		if probs := checkCommandText(f.command, nil); len(probs) > 0 {
			t.Fatalf("%s: the safe form is refused: %v", f.name, probs)
		}
		for i, v := range hostile {
			t.Run(fmt.Sprintf("%s/%d", f.name, i), func(t *testing.T) {
				dir := t.TempDir()
				canary := filepath.Join(dir, "canary")
				rendered, env, err := RenderShell(f.command, Scope{Inputs: map[string]any{"v": v}})
				if err != nil {
					t.Fatalf("RenderShell: %v", err)
				}
				env["CANARY"] = canary
				got := runShell(t, dir, rendered, env)
				if want := f.prefix + v + f.suffix; got != want {
					t.Fatalf("printed %q, want %q (command %s)", got, want, rendered)
				}
				if _, err := os.Stat(canary); err == nil {
					t.Fatal("the canary was created: the value ran as code")
				}
			})
		}
	}
}
