package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// userKey makes a fresh public user nkey.
func userKey(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// Every problem names its field and line; several problems are all reported.
func TestParseErrorsNameFieldAndLine(t *testing.T) {
	alice := userKey(t)
	ok := "identities:\n  alice: " + alice + "\nrules:\n"
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"empty", "", []string{"empty"}},
		{"not yaml", "rules: [unclosed\n", []string{"line"}},
		{"unknown top-level key", ok + "  - who: [alice]\n    allow: [read]\nroles: []\n", []string{"line 6", `unknown key "roles"`, "identities and rules"}},
		{"unknown rule key", ok + "  - who: [alice]\n    allow: [read]\n    playbook: [x]\n", []string{"line 6", "playbook"}},
		{"unknown action", ok + "  - who: [alice]\n    allow: [read, submitt]\n", []string{"line 5", "rules[0].allow[1]", `"submitt"`}},
		{"unknown name", ok + "  - who: [alice, bob]\n    allow: [read]\n", []string{"line 4", "rules[0].who[1]", `"bob"`}},
		{"who missing", ok + "  - allow: [read]\n", []string{"line 4", "rules[0].who", "required"}},
		{"allow empty", ok + "  - who: [alice]\n    allow: []\n", []string{"line 5", "rules[0].allow", "empty"}},
		{"who not a list", ok + "  - who: alice\n    allow: [read]\n", []string{"line 4", "rules[0].who", "list"}},
		{"bad key", "identities:\n  alice: UNOTAKEY\nrules: []\n", []string{"line 2", "identities.alice", "UNOTAKEY"}},
		{"account key", "identities:\n  alice: " + accountKey(t) + "\nrules: []\n", []string{"line 2", "identities.alice", "user nkey"}},
		{"reserved name", "identities:\n  unsigned: " + alice + "\nrules: []\n", []string{"line 2", "identities.unsigned", "reserved"}},
		{"key twice", "identities:\n  a: " + alice + "\n  b: " + alice + "\nrules: []\n", []string{"line 3", "identities.b", "also given to a"}},
		{"bad glob", ok + "  - who: [alice]\n    allow: [read]\n    playbooks: [\"web-[\"]\n", []string{"line 6", "rules[0].playbooks[0]", "glob"}},
		{"prune limited to playbooks", ok + "  - who: [alice]\n    allow: [prune]\n    playbooks: [web-*]\n", []string{"line 5", "rules[0].allow", "prune"}},
		{"console limited to playbooks", ok + "  - who: [alice]\n    allow: [console]\n    tags: [ci]\n", []string{"line 5", "rules[0].allow", "console"}},
		{"two documents", ok + "  - who: [alice]\n    allow: [read]\n---\nrules: []\n", []string{"second"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var perr *ParseError
			if !errors.As(err, &perr) || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("want a *ParseError wrapping ErrInvalidPolicy, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func accountKey(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}

// Load names the file in its errors.
func TestLoadNamesTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte("rules:\n  - who: [nobody]\n    allow: [read]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(file)
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming %s and line 2, got %v", file, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
}

func TestDecide(t *testing.T) {
	alice, ci, viewer, stranger := userKey(t), userKey(t), userKey(t), userKey(t)
	doc := `identities:
  alice: ` + alice + `
  ci-bot: ` + ci + `
  viewer: ` + viewer + `
rules:
  - who: [alice]
    allow: [submit, cancel, prune, read, audit]
    playbooks: ["*"]
  - who: [ci-bot]
    allow: [submit, cancel]
    playbooks: ["web-*"]
    tags: [ci]
  - who: ["*"]
    allow: [read]
  - who: [unsigned]
    allow: [read]
    playbooks: [public]
`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		who      string
		action   Action
		playbook string
		tags     []string
		allowed  bool
		wantName string
		reason   string
	}{
		{"admin submits anything", alice, Submit, "db-migrate", nil, true, "alice", "rules[0] (line 6)"},
		{"admin prunes", alice, Prune, "", nil, true, "alice", "rules[0]"},
		{"bot submits by glob", ci, Submit, "web-deploy", nil, true, "ci-bot", "rules[1] (line 9)"},
		{"bot submits by tag", ci, Cancel, "db-backup", []string{"nightly", "ci"}, true, "ci-bot", "rules[1]"},
		{"bot denied by playbook", ci, Submit, "db-migrate", []string{"nightly"}, false, "ci-bot", `no rule allows ci-bot to submit playbook "db-migrate" (tags nightly)`},
		{"bot denied by action", ci, Prune, "", nil, false, "ci-bot", "no rule allows ci-bot to prune"},
		{"bot reads through *", ci, Read, "db-migrate", nil, true, "ci-bot", "rules[2]"},
		{"viewer reads", viewer, Read, "anything", nil, true, "viewer", "rules[2]"},
		{"viewer cannot cancel", viewer, Cancel, "anything", nil, false, "viewer", "no rule allows viewer to cancel"},
		{"viewer cannot audit", viewer, Audit, "", nil, false, "viewer", "no rule allows viewer to audit"},
		{"unsigned reads public", Unsigned, Read, "public", nil, true, Unsigned, "rules[3]"},
		{"unsigned is not *", Unsigned, Read, "private", nil, false, Unsigned, "no rule allows unsigned to read"},
		{"empty identity is unsigned", "", Submit, "public", nil, false, Unsigned, "no rule allows unsigned to submit"},
		{"unknown key gets nothing", stranger, Read, "public", nil, false, "", "is not one of the policy's identities"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.who, tc.action, tc.playbook, tc.tags)
			if d.Allowed != tc.allowed || d.Name != tc.wantName || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %+v, want allowed=%v name=%q reason containing %q", d, tc.allowed, tc.wantName, tc.reason)
			}
		})
	}
	if !p.Grants(Unsigned, Read) || p.Grants(Unsigned, Submit) || p.Grants(stranger, Read) || !p.Grants(ci, Cancel) {
		t.Error("Grants disagrees with the rules")
	}
	if p.NameOf(stranger) != "" || p.NameOf(alice) != "alice" || p.NameOf("") != Unsigned {
		t.Error("NameOf disagrees with identities")
	}
}

// console lets an identity act for those who signed in to it and grants nothing else; no other
// action, not even every action for every playbook, includes it.
func TestConsoleAction(t *testing.T) {
	alice, console := userKey(t), userKey(t)
	p, err := Parse([]byte("identities:\n  alice: " + alice + "\n  console: " + console + "\n" +
		"rules:\n  - who: [console]\n    allow: [console]\n  - who: [alice]\n    allow: [submit, cancel, prune, read, audit, schedule]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(console, Console, "", nil); !d.Allowed || !strings.Contains(d.Reason, "rules[0]") {
		t.Errorf("console may not act for others: %+v", d)
	}
	for _, a := range Actions {
		if d := p.Decide(console, a, "web", nil); d.Allowed != (a == Console) {
			t.Errorf("console, %s: %+v", a, d)
		}
	}
	if d := p.Decide(alice, Console, "", nil); d.Allowed || !strings.Contains(d.Reason, "no rule allows alice to console") {
		t.Errorf("alice may act for others: %+v", d)
	}
}

// A policy without rules denies everything: the default is deny.
func TestDefaultDeny(t *testing.T) {
	alice := userKey(t)
	p, err := Parse([]byte("identities:\n  alice: " + alice + "\nrules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Actions {
		if d := p.Decide(alice, a, "x", nil); d.Allowed {
			t.Errorf("%s allowed without a rule: %+v", a, d)
		}
	}
}

// The example policy of docs/security.md parses, and means what the page says of it.
func TestDocsExampleParses(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), "```yaml\nidentities:")
	example, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("docs/security.md has no yaml block starting with identities:")
	}
	p, err := Parse([]byte("identities:" + example))
	if err != nil {
		t.Fatal(err)
	}
	ci := ""
	for key, name := range p.names {
		if name == "ci-bot" {
			ci = key
		}
	}
	if !p.Decide(ci, Submit, "web-deploy", nil).Allowed || p.Decide(ci, Submit, "db-migrate", nil).Allowed ||
		!p.Decide(ci, Cancel, "db-backup", []string{"ci"}).Allowed || p.Decide(ci, Prune, "", nil).Allowed {
		t.Error("the example's ci-bot rule does not decide as documented")
	}
}
