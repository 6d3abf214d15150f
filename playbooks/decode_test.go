package playbooks

import (
	"errors"
	"strings"
	"testing"
)

// header is a valid metadata block of 4 lines; bodies appended to it start at line 5.
const header = "name: t\nversion: 1.0.0\nauthor: me\ndescription: test\n"

// mustParse parses src or fails the test.
func mustParse(t *testing.T, src string) *Playbook {
	t.Helper()
	pb, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return pb
}

// problemsOf returns the problems of a *ValidationError, failing the test for any other error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("expected *ValidationError, got %T: %v", err, err)
	}
	if !errors.Is(err, ErrInvalidPlaybook) {
		t.Fatalf("error does not match ErrInvalidPlaybook")
	}
	return ve.Problems
}

func TestParseRefusesBadDocuments(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	deepPath := "tasks[0].webhook.data.x" + strings.Repeat("[0]", MaxDepth-5)
	cases := []struct {
		name    string
		src     string
		path    string
		line    int
		message string
	}{
		{"malformed yaml", header + "tasks:\n  - shell: [\n", "", 6, "malformed YAML"},
		{"tab indentation", header + "tasks:\n\t- shell:\n\t    command: ls\n", "", 6, "line 6 is indented with a tab: YAML indents with spaces only"},
		{"unknown top-level key", header + "foo: bar\n", "foo", 5, `unknown key "foo"`},
		{"misspelt top-level key", header + "task: []\n", "task", 5, `did you mean "tasks"?`},
		{"unknown task key", header + "tasks:\n  - shell:\n      command: ls\n      bogus: 1\n", "tasks[0].shell.bogus", 8, `unknown key "bogus" for a shell task`},
		{"tasks is a map", header + "tasks: {}\n", "tasks", 5, "must be a list, got a map"},
		{"inputs is a list", header + "inputs: []\n", "inputs", 5, "must be a map, got a list"},
		{"hooks is a list", header + "hooks: []\n", "hooks", 5, "must be a map"},
		{"locks is a map", header + "locks: {}\n", "locks", 5, "must be a list"},
		{"tags is a string", header + "tags: abc\n", "tags", 5, "must be a list"},
		{"bad loglevel", header + "loglevel: loud\n", "loglevel", 5, "must be one of debug, info, warn, error, fatal"},
		{"bad run_as", header + "run_as: bob\n", "run_as", 5, "caller id"},
		{"on_fail continue", header + "on_fail: continue\n", "on_fail", 5, "not supported"},
		{"on_fail other", header + "on_fail: retry\n", "on_fail", 5, `must be "fail"`},
		{"unknown hook list", header + "hooks:\n  on_error: []\n", "hooks.on_error", 6, "unknown hook list"},
		{"hook list is a map", header + "hooks:\n  on_fail: {}\n", "hooks.on_fail", 6, "must be a list"},
		{"unknown task type", header + "tasks:\n  - ansible: {}\n", "tasks[0].ansible", 6, `unknown task type "ansible"`},
		{"task item is a scalar", header + "tasks:\n  - shell\n", "tasks[0]", 6, "must be a map"},
		{"empty task item", header + "tasks:\n  - {}\n", "tasks[0]", 6, "empty map"},
		{"missing name", "version: 1\nauthor: a\ndescription: d\n", "name", 0, `required key "name" is missing`},
		{"empty author", "name: n\nversion: 1\nauthor: \"\"\ndescription: d\n", "author", 3, "must not be empty"},
		{"tries not a number", header + "tasks:\n  - shell:\n      command: ls\n      tries: abc\n", "tasks[0].shell.tries", 8, `must be an integer, got "abc"`},
		{"tries zero", header + "tasks:\n  - shell:\n      command: ls\n      tries: 0\n", "tasks[0].shell.tries", 8, "must be at least 1"},
		{"tries templated", header + "tasks:\n  - shell:\n      command: ls\n      tries: \"{{ uuid }}\"\n", "tasks[0].shell.tries", 8, "must be a literal value"},
		{"shell timeout not seconds", header + "tasks:\n  - shell:\n      command: ls\n      timeout: abc\n", "tasks[0].shell.timeout", 8, `must be a number of seconds, got "abc"`},
		{"shell timeout zero", header + "tasks:\n  - shell:\n      command: ls\n      timeout: 0\n", "tasks[0].shell.timeout", 8, "greater than 0"},
		{"shell environment list", header + "tasks:\n  - shell:\n      command: ls\n      environment: [a]\n", "tasks[0].shell.environment", 8, "must be a map"},
		{"shell missing command", header + "hooks:\n  post_book:\n    - shell:\n        cwd: /tmp\n", "hooks.post_book[0].shell.command", 7, `required key "command" is missing`},
		{"rpc missing action", header + "tasks:\n  - mcollective:\n      nodes: [a]\n", "tasks[0].mcollective.action", 6, `required key "action"`},
		{"rpc bad action", header + "tasks:\n  - rpc:\n      nodes: [a]\n      action: puppet\n", "tasks[0].rpc.action", 8, `must be "agent.action"`},
		{"rpc bad post", header + "tasks:\n  - rpc:\n      nodes: [a]\n      action: a.b\n      post: [report]\n", "tasks[0].rpc.post", 9, "must be one of summarize"},
		{"rpc nodes not a list", header + "tasks:\n  - rpc:\n      nodes: 3\n      action: a.b\n", "tasks[0].rpc.nodes", 7, "must be a list of strings"},
		{"webhook bad method", header + "tasks:\n  - webhook:\n      uri: http://x\n      method: PUT\n", "tasks[0].webhook.method", 8, "must be one of GET, POST"},
		{"webhook bad uri", header + "tasks:\n  - webhook:\n      uri: ftp://x\n", "tasks[0].webhook.uri", 7, "http:// or https://"},
		{"slack missing text", header + "tasks:\n  - slack:\n      token: t\n      channel: c\n", "tasks[0].slack.text", 6, `required key "text"`},
		{"data bad action", header + "data_stores:\n  s: {type: consul}\ntasks:\n  - data:\n      action: fetch\n      key: s/k\n", "tasks[0].data.action", 9, "must be one of read, write, delete"},
		{"data write without value", header + "data_stores:\n  s: {type: consul}\ntasks:\n  - data:\n      action: write\n      key: s/k\n", "tasks[0].data.value", 8, `required key "value"`},
		{"data undeclared store", header + "tasks:\n  - data:\n      action: delete\n      key: s/k\n", "tasks[0].data.key", 6, "undeclared data store"},
		{"playbook task name and file", header + "tasks:\n  - playbook:\n      name: a\n      file: b.yaml\n", "tasks[0].playbook", 6, `exactly one of "name" or "file"`},
		{"input unknown type", header + "inputs:\n  x:\n    type: Dictionary\n", "inputs.x.type", 7, "unknown input type"},
		{"input unknown key", header + "inputs:\n  x:\n    type: String\n    secret: true\n", "inputs.x.secret", 8, `unknown key "secret"`},
		{"input bad regex", header + "inputs:\n  x:\n    type: String\n    validation: \"/[a-/\"\n", "inputs.x.validation", 8, "invalid regular expression"},
		{"input unknown validator", header + "inputs:\n  x:\n    type: String\n    validation: \":email\"\n", "inputs.x.validation", 8, `unknown validator ":email"`},
		{"input default fails validation", header + "inputs:\n  x:\n    type: String\n    default: \"a;b\"\n    validation: \":shellsafe\"\n", "inputs.x.default", 8, "not shell safe"},
		{"input default wrong type", header + "inputs:\n  x:\n    type: Integer\n    default: abc\n", "inputs.x.default", 8, `must be of type integer, got "abc"`},
		{"input bad name", header + "inputs:\n  my.input:\n    type: String\n", "inputs.my.input", 6, "must match"},
		{"input save without data", header + "inputs:\n  x:\n    type: String\n    save: true\n", "inputs.x.save", 8, `needs a "data" binding`},
		{"input data undeclared store", header + "inputs:\n  x:\n    type: String\n    data: kv/x\n", "inputs.x.data", 6, "undeclared data store"},
		{"unknown template input", header + "tasks:\n  - shell:\n      command: \"echo {{ inputs.nope }}\"\n", "tasks[0].shell.command", 7, `undeclared input "nope"`},
		{"unknown template node set", header + "tasks:\n  - rpc:\n      action: a.b\n      nodes: \"{{{ nodes.web }}}\"\n", "tasks[0].rpc.nodes", 8, `undeclared node set "web"`},
		{"unknown template metadata", header + "tasks:\n  - shell:\n      command: \"echo {{ metadata.owner }}\"\n", "tasks[0].shell.command", 7, `unknown metadata "owner"`},
		{"node set template in nodes", header + "nodes:\n  a:\n    type: pql\n    query: \"{{ nodes.b }}\"\n", "nodes.a.query", 8, "node sets are discovered after"},
		{"node set unknown type", header + "nodes:\n  a:\n    type: ec2\n", "nodes.a.type", 7, "unknown node set type"},
		{"node set missing type", header + "nodes:\n  a:\n    limit: 2\n", "nodes.a.type", 6, `required key "type"`},
		{"pql missing query", header + "nodes:\n  a:\n    type: pql\n", "nodes.a.query", 6, `required key "query"`},
		{"node set old identity key", header + "nodes:\n  a:\n    type: mcollective\n    identity: [x]\n", "nodes.a.identity", 8, `did you mean "identities"?`},
		{"node set at_least not int", header + "nodes:\n  a:\n    type: shell\n    script: /x\n    at_least: many\n", "nodes.a.at_least", 9, "must be an integer"},
		{"node set undeclared agent", header + "nodes:\n  a:\n    type: shell\n    script: /x\n    uses: [puppet]\n", "nodes.a.uses[0]", 6, `agent "puppet" is not declared`},
		{"node set at_least with empty_ok", header + "nodes:\n  a:\n    type: shell\n    script: /x\n    empty_ok: true\n    at_least: 2\n", "nodes.a.at_least", 10, "contradicts empty_ok"},
		{"lock on undeclared store", header + "locks:\n  - kv\n", "locks[0]", 6, "undeclared data store"},
		{"duplicate top-level key", header + "name: again\n", "name", 5, `duplicate key "name" (first defined at line 1)`},
		{"duplicate task key", header + "tasks:\n  - shell:\n      command: a\n      command: b\n", "tasks[0].shell.command", 8, "duplicate key"},
		{"merge of a scalar", header + "tasks:\n  - shell:\n      <<: 3\n      command: a\n", "tasks[0].shell.<<", 7, "merge key must refer to a map"},
		{"uses value is a map", header + "uses:\n  puppet: {a: 1}\n", "uses.puppet", 6, "must be a string"},
		{"root is a list", "- a\n- b\n", "", 1, "must be a map of keys"},
		{"empty document", "", "", 0, "document is empty"},
		{"two documents", header + "---\n" + header, "", 5, "only one YAML document"},
		{"oversized document", header + "macros: \"" + strings.Repeat("x", MaxDocumentBytes) + "\"\n", "", 0, "more than the limit"},
		{"deep nesting", header + "tasks:\n  - webhook:\n      uri: http://x\n      data:\n        x: " + deep + "\n", deepPath, 9, "nesting is deeper than the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			probs := problemsOf(t, err)
			for _, p := range probs {
				if p.Path == tc.path && p.Line == tc.line && strings.Contains(p.Message, tc.message) {
					return
				}
			}
			t.Fatalf("no problem with path %q, line %d, message containing %q; got:\n%v", tc.path, tc.line, tc.message, err)
		})
	}
}

// billionLaughs expands to 9^9 strings through aliases.
const billionLaughs = `name: lol
version: "1"
author: a
description: d
macros:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
tasks:
  - webhook:
      uri: http://x
      data:
        lol: *i
`

// The alias bomb is refused by the expansion budget (MaxValueNodes), which bounds the work
// whatever the machine's speed; BenchmarkParseBillionLaughs measures how long the refusal takes.
func TestParseRefusesBillionLaughs(t *testing.T) {
	_, err := Parse([]byte(billionLaughs))
	probs := problemsOf(t, err)
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "too much alias expansion") {
		t.Fatalf("want one alias expansion problem, got %v", err)
	}
}

func BenchmarkParseBillionLaughs(b *testing.B) {
	for b.Loop() {
		if _, err := Parse([]byte(billionLaughs)); err == nil {
			b.Fatal("the alias bomb was accepted")
		}
	}
}

func TestParseCollectsEveryProblem(t *testing.T) {
	src := header + "loglevel: loud\nfoo: 1\ntasks:\n  - shell:\n      timeout: abc\n  - rpc:\n      action: x\n      nodes: [a]\n"
	probs := problemsOf(t, func() error { _, err := Parse([]byte(src)); return err }())
	want := []string{"loglevel", "foo", "tasks[0].shell.timeout", "tasks[0].shell.command", "tasks[1].rpc.action"}
	if len(probs) != len(want) {
		t.Fatalf("want %d problems, got %d:\n%v", len(want), len(probs), probs)
	}
	for i, w := range want {
		if probs[i].Path != w {
			t.Errorf("problem %d: want path %q, got %q", i, w, probs[i].Path)
		}
	}
}

func TestValidationErrorFormat(t *testing.T) {
	_, err := Parse([]byte(header + "tasks:\n  - shell:\n      command: ls\n      timeout: abc\n"))
	want := "invalid playbook: 1 problem(s)\n  line 8: tasks[0].shell.timeout: must be a number of seconds, got \"abc\""
	if err == nil || err.Error() != want {
		t.Fatalf("want\n%s\ngot\n%v", want, err)
	}
}

func TestDataStoreTypeDefaultsToKV(t *testing.T) {
	pb := mustParse(t, header+"data_stores:\n  team: {bucket: shared}\nlocks: [team]\n")
	if ds := pb.DataStores["team"]; ds.Type != DefaultStoreType || ds.Properties["bucket"] != "shared" {
		t.Fatalf("store %+v", ds)
	}
}
