package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nkeys"
	"gopkg.in/yaml.v3"
)

// maxSize bounds a policy document, as playbooks are bounded: a policy is a few hundred lines.
const maxSize = 1 << 20

// document is the YAML shape of a policy. Fields are nodes so every problem can name its line;
// the decoder still refuses unknown keys (KnownFields) at both levels.
type document struct {
	Identities map[string]yaml.Node `yaml:"identities"`
	Rules      []ruleDoc            `yaml:"rules"`
}

type ruleDoc struct {
	Who       yaml.Node `yaml:"who"`
	Allow     yaml.Node `yaml:"allow"`
	Playbooks yaml.Node `yaml:"playbooks"`
	Tags      yaml.Node `yaml:"tags"`
}

// validName is what an identity may be called: something a person can type and read in a log.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]*$`)

// Load reads and parses the policy file at path. The error is a *ParseError naming the file and
// every problem, or the error reading it.
func Load(file string) (*Policy, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	p, err := Parse(data)
	var perr *ParseError
	if errors.As(err, &perr) {
		perr.Source = file
	}
	return p, err
}

// Parse parses a policy document. The error is a *ParseError (wrapping ErrInvalidPolicy) that
// names every problem with its field and line.
func Parse(data []byte) (*Policy, error) {
	fail := func(probs ...Problem) (*Policy, error) { return nil, &ParseError{Problems: probs} }
	if len(data) > maxSize {
		return fail(Problem{Message: fmt.Sprintf("the document is %d bytes, more than the %d a policy may have", len(data), maxSize)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc document
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(Problem{Message: "the document is empty: give identities and rules"})
		}
		return fail(yamlProblems(err)...)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fail(Problem{Line: extra.Line, Message: "a policy is one YAML document; found a second one"})
	}
	var probs []Problem
	p := &Policy{names: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(doc.Identities)) {
		n := doc.Identities[name]
		field := "identities." + name
		var key string
		switch {
		case name == Unsigned || name == Anyone:
			probs = append(probs, Problem{field, n.Line, fmt.Sprintf("%q is reserved: it has a meaning of its own in rules", name)})
			continue
		case !validName.MatchString(name):
			probs = append(probs, Problem{field, n.Line, "a name is letters, digits and _ . @ -, starting with a letter or digit"})
			continue
		case n.Decode(&key) != nil || n.Kind != yaml.ScalarNode:
			probs = append(probs, Problem{field, n.Line, "must be a public user nkey (U...)"})
			continue
		case !nkeys.IsValidPublicUserKey(key):
			probs = append(probs, Problem{field, n.Line, fmt.Sprintf("%q is not a public user nkey (56 characters starting with U)", key)})
			continue
		}
		if other, dup := p.names[key]; dup {
			probs = append(probs, Problem{field, n.Line, fmt.Sprintf("the key is also given to %s: one key, one name", other)})
			continue
		}
		p.names[key] = name
	}
	known := map[string]bool{}
	for name := range doc.Identities {
		known[name] = true
	}
	for i, rd := range doc.Rules {
		r, rprobs := parseRule(i, rd, known)
		probs = append(probs, rprobs...)
		p.rules = append(p.rules, r)
	}
	if len(probs) > 0 {
		return fail(probs...)
	}
	return p, nil
}

// parseRule checks one rule; known are the names of identities.
func parseRule(i int, rd ruleDoc, known map[string]bool) (rule, []Problem) {
	base := fmt.Sprintf("rules[%d]", i)
	r := rule{index: i, line: firstLine(rd.Who, rd.Allow, rd.Playbooks, rd.Tags)}
	var probs []Problem
	list := func(field string, n yaml.Node, required bool) []string {
		if n.Kind == 0 {
			if required {
				probs = append(probs, Problem{base + "." + field, r.line, "is required"})
			}
			return nil
		}
		var out []string
		if n.Kind != yaml.SequenceNode || n.Decode(&out) != nil {
			probs = append(probs, Problem{base + "." + field, n.Line, "must be a list of strings"})
			return nil
		}
		if required && len(out) == 0 {
			probs = append(probs, Problem{base + "." + field, n.Line, "must not be empty"})
		}
		return out
	}
	r.who = list("who", rd.Who, true)
	for j, w := range r.who {
		if w != Anyone && w != Unsigned && !known[w] {
			probs = append(probs, Problem{fmt.Sprintf("%s.who[%d]", base, j), itemLine(rd.Who, j),
				fmt.Sprintf("%q is not a name of identities (or %q, %q)", w, Anyone, Unsigned)})
		}
	}
	for j, a := range list("allow", rd.Allow, true) {
		if !slices.Contains(Actions, Action(a)) {
			probs = append(probs, Problem{fmt.Sprintf("%s.allow[%d]", base, j), itemLine(rd.Allow, j),
				fmt.Sprintf("unknown action %q (one of %s)", a, actionList())})
			continue
		}
		r.allow = append(r.allow, Action(a))
	}
	r.playbooks = list("playbooks", rd.Playbooks, false)
	for j, g := range r.playbooks {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			probs = append(probs, Problem{fmt.Sprintf("%s.playbooks[%d]", base, j), itemLine(rd.Playbooks, j),
				fmt.Sprintf("%q is not a valid glob", g)})
		}
	}
	r.tags = list("tags", rd.Tags, false)
	if !r.everyPlaybook() {
		for _, a := range r.allow {
			if !a.scoped() {
				probs = append(probs, Problem{base + ".allow", rd.Allow.Line,
					fmt.Sprintf("%s is not about one playbook's runs: a rule limited by playbooks or tags cannot grant it", a)})
			}
		}
	}
	return r, probs
}

// yamlProblems turns a decoding error of yaml.v3 into problems; its messages already start with
// "line N: ...".
func yamlProblems(err error) []Problem {
	var terr *yaml.TypeError
	if errors.As(err, &terr) {
		probs := make([]Problem, 0, len(terr.Errors))
		for _, e := range terr.Errors {
			if m := unknownField.FindStringSubmatch(e); m != nil {
				e = fmt.Sprintf("%s: unknown key %q (%s)", m[1], m[2], knownKeys[m[3]])
			}
			probs = append(probs, Problem{Message: e})
		}
		return probs
	}
	return []Problem{{Message: strings.TrimPrefix(err.Error(), "yaml: ")}}
}

// unknownField matches yaml.v3's message for a key KnownFields refused.
var unknownField = regexp.MustCompile(`^(line \d+): field (\S+) not found in type policy\.(document|ruleDoc)$`)

// knownKeys says, for the types of unknownField, which keys there are.
var knownKeys = map[string]string{
	"document": "a policy has identities and rules",
	"ruleDoc":  "a rule has who, allow, playbooks and tags",
}

// firstLine is the line of the first of nodes that is present: where the rule starts, near enough.
func firstLine(nodes ...yaml.Node) int {
	line := 0
	for _, n := range nodes {
		if n.Line > 0 && (line == 0 || n.Line < line) {
			line = n.Line
		}
	}
	return line
}

// itemLine is the line of the j-th item of a sequence node.
func itemLine(n yaml.Node, j int) int {
	if j < len(n.Content) {
		return n.Content[j].Line
	}
	return n.Line
}

func actionList() string {
	s := make([]string, len(Actions))
	for i, a := range Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
