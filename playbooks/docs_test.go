package playbooks

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docsPrelude declares what the examples in docs/playbooks.md refer to; a section is added only
// when the example does not have it.
var docsPrelude = map[string]string{
	"inputs": `inputs:
  tier: {type: String}
  release: {type: String}
  dc: {type: String}
  cluster: {type: String}
  hook_token: {type: String, sensitive: true}
  slack_token: {type: String, sensitive: true}
  new_colour: {type: String}
`,
	"nodes":       "nodes:\n  web: {type: yaml, source: /etc/groups.yaml, group: web}\n",
	"uses":        "uses:\n  appmgr: \"~1.2\"\n",
	"data_stores": "data_stores:\n  team_kv: {type: kv}\n  prefs: {type: file, file: /tmp/prefs.yaml, format: yaml}\n  vault_cli: {type: shell, command: /usr/local/bin/secrets}\n",
}

var topKeyRe = regexp.MustCompile(`(?m)^([a-z_$]+):`)

// TestDocsExamplesAreValid parses every YAML example of docs/playbooks.md: whole documents as
// they are, fragments inside a minimal playbook, task list items under `tasks:`.
func TestDocsExamplesAreValid(t *testing.T) {
	doc, err := os.ReadFile("../docs/playbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 10 {
		t.Fatalf("found %d YAML examples", len(blocks))
	}
	for i, b := range blocks {
		src := b[1]
		if !strings.HasPrefix(src, "name:") && !strings.HasPrefix(src, "$schema:") {
			src = wrapDocsExample(src)
		}
		if _, err := Parse([]byte(src)); err != nil {
			t.Errorf("example %d does not validate: %v\n%s", i+1, err, src)
		}
	}
}

// wrapDocsExample places a fragment in a playbook with the prelude sections it lacks.
func wrapDocsExample(frag string) string {
	if strings.HasPrefix(frag, "- ") {
		frag = "tasks:\n" + frag
	}
	have := map[string]bool{}
	for _, m := range topKeyRe.FindAllStringSubmatch(frag, -1) {
		have[m[1]] = true
	}
	var b strings.Builder
	b.WriteString(header)
	for _, k := range sortedKeys(docsPrelude) {
		if !have[k] {
			b.WriteString(docsPrelude[k])
		}
	}
	b.WriteString(frag)
	return b.String()
}
