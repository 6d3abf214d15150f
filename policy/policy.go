package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Action is something an identity may be allowed to do.
type Action string

// Actions.
const (
	// Submit starts a run of a playbook (child runs of playbook tasks included).
	Submit Action = "submit"
	// Cancel stops a run of a playbook.
	Cancel Action = "cancel"
	// Prune deletes ended runs, of every playbook.
	Prune Action = "prune"
	// Read shows runs of a playbook (runs show, runs list).
	Read Action = "read"
	// Audit reads the audit records, of every playbook.
	Audit Action = "audit"
	// Schedule adds, changes, pauses, resumes, triggers, backfills and deletes schedules of a
	// playbook. Adding or changing one also needs submit on its playbook, which every slot's run
	// is asked for again; reading schedules is read.
	Schedule Action = "schedule"
	// Console lets an identity act for the identities that signed in to it (a web console
	// carrying their session grants): each such request is decided as the signed-in identity's
	// own. By itself it grants nothing else: a console without a grant may do nothing.
	Console Action = "console"
)

// Actions lists every action, in the order the documentation gives them.
var Actions = []Action{Submit, Cancel, Prune, Read, Audit, Schedule, Console}

// scoped reports whether a rule's playbooks and tags limit the action: prune and audit act on
// every run at once, and console is about identities, not playbooks, so only a rule for every
// playbook grants them.
func (a Action) scoped() bool { return a == Submit || a == Cancel || a == Read || a == Schedule }

// Who values with a meaning of their own.
const (
	// Unsigned is the identity of a request without a signature, and the rule name that matches it.
	Unsigned = "unsigned"
	// Anyone, in a rule's who, matches every identity the policy names (not unsigned requests,
	// and not signed keys the policy does not name).
	Anyone = "*"
)

// Policy is a parsed policy: named identities and the rules that grant them actions. A nil
// *Policy is not valid; the coordinator's "no policy" is the absence of one.
type Policy struct {
	// names maps a public key to its name.
	names map[string]string
	rules []rule
}

type rule struct {
	// index and line place the rule in its document, for the reasons of decisions.
	index, line int
	who         []string
	allow       []Action
	// playbooks are globs over playbook names; tags are playbook tags. Both empty: every playbook.
	playbooks, tags []string
}

// Decision is the answer to one question put to a policy.
type Decision struct {
	Allowed bool
	// Reason says which rule allowed, or why nothing did.
	Reason string
	// Name is the identity's name in the policy: "unsigned", a name of identities, or "" for a
	// key the policy does not name.
	Name string
}

// NameOf returns the name the policy gives identity: Unsigned for Unsigned or "", the name of a
// key listed under identities, and "" for any other key.
func (p *Policy) NameOf(identity string) string {
	if identity == "" || identity == Unsigned {
		return Unsigned
	}
	return p.names[identity]
}

// Decide says whether identity (a public user nkey, or Unsigned) may do action to a run of the
// playbook named playbook that carries tags. For prune and audit, which are about every playbook,
// playbook and tags are ignored. Whatever no rule grants is denied.
func (p *Policy) Decide(identity string, action Action, playbook string, tags []string) Decision {
	name := p.NameOf(identity)
	d := Decision{Name: name}
	if name == "" {
		d.Reason = fmt.Sprintf("key %s is not one of the policy's identities", identity)
		return d
	}
	for _, r := range p.rules {
		if r.grants(name, action) && (!action.scoped() || r.covers(playbook, tags)) {
			d.Allowed, d.Reason = true, fmt.Sprintf("allowed by rules[%d] (line %d)", r.index, r.line)
			return d
		}
	}
	d.Reason = fmt.Sprintf("no rule allows %s to %s", name, action)
	if action.scoped() {
		d.Reason += fmt.Sprintf(" playbook %q", playbook)
		if len(tags) > 0 {
			d.Reason += fmt.Sprintf(" (tags %s)", strings.Join(tags, ", "))
		}
	}
	return d
}

// Grants reports whether some rule grants identity action on at least one playbook: whether
// asking about a particular run can be allowed at all.
func (p *Policy) Grants(identity string, action Action) bool {
	name := p.NameOf(identity)
	if name == "" {
		return false
	}
	return slices.ContainsFunc(p.rules, func(r rule) bool { return r.grants(name, action) })
}

// grants reports whether the rule gives action to the identity called name.
func (r rule) grants(name string, action Action) bool {
	if !slices.Contains(r.allow, action) {
		return false
	}
	return slices.Contains(r.who, name) || name != Unsigned && slices.Contains(r.who, Anyone)
}

// covers reports whether the rule is about the playbook: every playbook when it names none, else
// one whose name matches a glob of playbooks or that carries one of tags.
func (r rule) covers(playbook string, tags []string) bool {
	if len(r.playbooks) == 0 && len(r.tags) == 0 {
		return true
	}
	for _, g := range r.playbooks {
		if ok, _ := path.Match(g, playbook); ok {
			return true
		}
	}
	for _, t := range tags {
		if slices.Contains(r.tags, t) {
			return true
		}
	}
	return false
}

// everyPlaybook reports whether the rule is about every playbook.
func (r rule) everyPlaybook() bool {
	return len(r.tags) == 0 && (len(r.playbooks) == 0 || slices.Contains(r.playbooks, "*"))
}
