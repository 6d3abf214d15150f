package playbooks

import (
	"strings"
	"testing"
)

// exprBook is a playbook with one fleet node set (its filter keys from nodeKeys, at line 7) and
// one rpc task (its keys from taskKeys, at line 11), for the expression tables.
func exprBook(nodeKeys, taskType, taskKeys string) string {
	return header + // lines 1-4
		"nodes:\n" + // 5
		"  web:\n" + // 6
		"    type: fleet\n" + // 7
		"    " + nodeKeys + "\n" + // 8
		"tasks:\n" + // 9
		"  - " + taskType + ":\n" + // 10
		"      action: app.status\n" + // 11
		"      nodes: \"{{ nodes.web }}\"\n" + // 12
		"      " + taskKeys + "\n" // 13
}

// TestBrokenExpressionsAreRefusedByParse: every expression language is parsed at decode time, so
// a broken expression is a validation problem naming its field and line, like any other.
func TestBrokenExpressionsAreRefusedByParse(t *testing.T) {
	const okNodes, okTask = "classes: [apache]", "silent: false"
	nodeCase := func(keys string) string { return exprBook(keys, "rpc", okTask) }
	taskCase := func(keys string) string { return exprBook(okNodes, "rpc", keys) }
	for _, tc := range []struct {
		name, doc, path string
		line            int
		msg             string
	}{
		// rpc assert expressions
		{"assert empty", taskCase(`assert: " "`), "tasks[0].rpc.assert", 13, "empty expression"},
		{"assert no operator", taskCase(`assert: "idling"`), "tasks[0].rpc.assert", 13, "expected an operator"},
		{"assert no value", taskCase(`assert: "idling="`), "tasks[0].rpc.assert", 13, "expected a value"},
		{"assert dangling and", taskCase(`assert: "a=1 and"`), "tasks[0].rpc.assert", 13, "expected a key"},
		{"assert unclosed paren", taskCase(`assert: "(a=1"`), "tasks[0].rpc.assert", 13, "missing ')'"},
		{"assert extra paren", taskCase(`assert: "a=1)"`), "tasks[0].rpc.assert", 13, `unexpected ")"`},
		{"assert bad regex", taskCase(`assert: "a=~("`), "tasks[0].rpc.assert", 13, "regular expression"},
		{"assert unterminated quote", taskCase(`assert: "a='x"`), "tasks[0].rpc.assert", 13, "unterminated '"},
		{"assert no key", taskCase(`assert: "=1"`), "tasks[0].rpc.assert", 13, "expected a key"},
		{"assert two comparisons", taskCase(`assert: "a=1 b=2"`), "tasks[0].rpc.assert", 13, `unexpected "b=2"`},
		{"mcollective alias", exprBook(okNodes, "mcollective", `assert: "status=="`), "tasks[0].mcollective.assert", 13, "expected a value"},
		// rpc_assert expression lists
		{"rpc_assert bad operator", exprBook(okNodes, "rpc_assert", `expression: [status, "~~", ok]`), "tasks[0].rpc_assert.expression", 13, "is not a valid assert expression"},
		{"rpc_assert bad regex", exprBook(okNodes, "rpc_assert", `expression: [status, "=~", "("]`), "tasks[0].rpc_assert.expression", 13, "regular expression"},
		{"rpc_assert empty key", exprBook(okNodes, "rpc_assert", `expression: ["", "==", ok]`), "tasks[0].rpc_assert.expression", 13, "expected a key"},
		{"rpc_assert nested value", exprBook(okNodes, "rpc_assert", `expression: [status, "==", [ok]]`), "tasks[0].rpc_assert.expression", 13, "must be scalars"},
		// compound filters
		{"compound dangling and", nodeCase(`compound: "apache and"`), "nodes.web.compound", 8, "expression ends"},
		{"compound missing operator", nodeCase(`compound: "apache nginx"`), "nodes.web.compound", 8, "missing and/or"},
		{"compound unclosed paren", nodeCase(`compound: "(apache or nginx"`), "nodes.web.compound", 8, "missing )"},
		{"compound leading and", nodeCase(`compound: "and apache"`), "nodes.web.compound", 8, `unexpected "and"`},
		{"compound bad regex", nodeCase(`compound: "country=~/(/"`), "nodes.web.compound", 8, "invalid regular expression"},
		{"compound unterminated quote", nodeCase(`compound: 'os.name="Red Hat'`), "nodes.web.compound", 8, "unterminated quote"},
		{"compound unterminated regex", nodeCase(`compound: "identity:/web"`), "nodes.web.compound", 8, "unterminated regular expression"},
		{"compound empty agent", nodeCase(`compound: "agent:"`), "nodes.web.compound", 8, "agent must not be empty"},
		{"compound fact without name", nodeCase(`compound: "=uk"`), "nodes.web.compound", 8, "has no fact name"},
		// fact filters
		{"fact without operator", nodeCase(`facts: [country]`), "nodes.web.facts", 8, `item 0: fact filter "country" has no operator`},
		{"fact without name", nodeCase(`facts: [country=uk, "=uk"]`), "nodes.web.facts", 8, "item 1: fact filter \"=uk\" has no fact name"},
		{"fact bad regex", nodeCase(`facts: ["a=~("]`), "nodes.web.facts", 8, "invalid regular expression"},
		{"fact bad slash regex", nodeCase(`facts: ["env=/[/"]`), "nodes.web.facts", 8, "invalid regular expression"},
		// class, identity and agent matchers
		{"identity bad regex", nodeCase(`identities: ["/(/"]`), "nodes.web.identities", 8, `identities entry "/(/": invalid regular expression`},
		{"class empty", nodeCase(`classes: [""]`), "nodes.web.classes", 8, "classes entry must not be empty"},
		{"class bad regex", nodeCase(`classes: [apache, "/[a-/"]`), "nodes.web.classes", 8, "item 1: classes entry"},
		{"agent bad regex", nodeCase(`agents: ["/*/"]`), "nodes.web.agents", 8, "agents entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			probs := problemsOf(t, err)
			for _, p := range probs {
				if p.Path == tc.path {
					if p.Line != tc.line || !strings.Contains(p.Message, tc.msg) {
						t.Fatalf("problem %s, want line %d and a message containing %q", p, tc.line, tc.msg)
					}
					return
				}
			}
			t.Fatalf("no problem at %s in %v", tc.path, probs)
		})
	}
}

// TestGoodExpressionsParse: the checks refuse only what is broken, and leave templated
// expressions to be checked once rendered.
func TestGoodExpressionsParse(t *testing.T) {
	for _, doc := range []string{
		exprBook(`compound: "(apache or nginx) and country=uk and not agent:/^pup/"`, "rpc", `assert: "status=OK and load<5"`),
		exprBook(`facts: ["country=uk", "os.release.major>=8", "env=~/^pr/"]`, "rpc", `assert: "idling=true || !(enabled=false)"`),
		exprBook(`identities: ["/^web\\d/", web1.example.net]`, "rpc_assert", `expression: [status, "==", "Red Hat"]`),
		exprBook(`compound: "{{ inputs.filter }}"`, "rpc", `assert: "revision={{ inputs.revision }}"`),
		exprBook(`facts: ["{{ inputs.fact }}", "country=uk"]`, "rpc", `assert: "{{ previous_task.msg }}"`),
		exprBook(`compound: "  "`, "rpc_assert", `expression: [status, "==", "{{ inputs.status }}"]`),
	} {
		doc = strings.Replace(doc, "tasks:\n", "inputs:\n  filter: {type: String, required: false}\n  revision: {type: String, required: false}\n  fact: {type: String, required: false}\n  status: {type: String, required: false}\ntasks:\n", 1)
		if _, err := Parse([]byte(doc)); err != nil {
			t.Errorf("Parse refused a good document: %v\n%s", err, doc)
		}
	}
}

// exprInputs declares the inputs the templated-expression documents read.
const exprInputs = `inputs:
  filter: {type: String, required: false}
  revision: {type: String, required: false}
  fact: {type: String, required: false}
  facts: {type: Array, required: false}
  token: {type: String, required: false, sensitive: true}
`

// TestTemplatedExpressionsAreCheckedWithTheInputs: an expression templated only with inputs is
// rendered with the given inputs by ResolveInputs (run by validate and by every submit), so a
// value that breaks it is refused before anything runs; one that reads run-time values is left
// to the step.
func TestTemplatedExpressionsAreCheckedWithTheInputs(t *testing.T) {
	book := func(nodeKeys, taskKeys string) *Playbook {
		doc := strings.Replace(exprBook(nodeKeys, "rpc", taskKeys), "tasks:\n", exprInputs+"tasks:\n", 1)
		return mustParse(t, doc)
	}
	for _, tc := range []struct {
		name               string
		nodeKeys, taskKeys string
		inputs             map[string]any
		path, msg          string
		// line is the node set's name line (6) or the task's type line (16: exprInputs adds 6).
		line int
	}{
		{"compound", `compound: "{{ inputs.filter }}"`, "silent: false", map[string]any{"filter": "apache and"}, "nodes.web.compound", "expression ends", 6},
		{"compound part", `compound: "apache and {{ inputs.filter }}"`, "silent: false", map[string]any{"filter": "(nginx"}, "nodes.web.compound", "missing )", 6},
		{"fact item", `facts: ["country=uk", "{{ inputs.fact }}"]`, "silent: false", map[string]any{"fact": "country"}, "nodes.web.facts", "item 1: fact filter \"country\" has no operator", 6},
		{"facts list", `facts: "{{ inputs.facts }}"`, "silent: false", map[string]any{"facts": []any{"a=1", "b=~("}}, "nodes.web.facts", "item 1:", 6},
		{"assert", "classes: [apache]", `assert: "revision={{ inputs.revision }}"`, map[string]any{"revision": "1.0 )"}, "tasks[0].rpc.assert", `unexpected ")"`, 16},
		{"sensitive value not shown", "classes: [apache]", `assert: "token={{ inputs.token }}"`, map[string]any{"token": "s3cr3t value"}, "tasks[0].rpc.assert", `sensitive input "token"`, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pb := book(tc.nodeKeys, tc.taskKeys)
			_, err := pb.ResolveInputs(tc.inputs)
			probs := problemsOf(t, err)
			if len(probs) != 1 || probs[0].Path != tc.path || probs[0].Line != tc.line || !strings.Contains(probs[0].Message, tc.msg) {
				t.Fatalf("problems %v, want one at %s line %d containing %q", probs, tc.path, tc.line, tc.msg)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("the error shows a sensitive value: %v", err)
			}
		})
	}

	t.Run("good values pass", func(t *testing.T) {
		pb := book(`compound: "{{ inputs.filter }}"`, `assert: "revision={{ inputs.revision }}"`)
		if _, err := pb.ResolveInputs(map[string]any{"filter": "apache or nginx", "revision": "1.2.3"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("inputs not given are left to the run", func(t *testing.T) {
		pb := book(`compound: "{{ inputs.filter }}"`, `assert: "revision={{ inputs.revision }}"`)
		if _, err := pb.ResolveInputs(nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("run-time values are left to the step", func(t *testing.T) {
		pb := book("classes: [apache]", `assert: "revision={{ inputs.revision }} and {{ previous_task.msg }}"`)
		if _, err := pb.ResolveInputs(map[string]any{"revision": "("}); err != nil {
			t.Fatal(err)
		}
	})
}
