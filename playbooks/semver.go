package playbooks

import (
	"fmt"
	"strconv"
	"strings"
)

// SemVersion is a parsed SemVer 2.0 version, as agents declare theirs. Build metadata is dropped:
// it has no precedence.
type SemVersion struct {
	major, minor, patch uint64
	pre                 []string
}

// ParseSemVersion parses an agent's version. Like Choria, it pads missing parts: "1.2" is
// 1.2.0 and "1" is 1.0.0; a leading "v" is allowed.
func ParseSemVersion(s string) (SemVersion, error) {
	p, err := parsePartial(s)
	if err != nil {
		return SemVersion{}, err
	}
	if p.parts < 3 && p.wild {
		return SemVersion{}, fmt.Errorf("version %q has a wildcard", s)
	}
	return p.v, nil
}

// partialVersion is a version as a range writes it: some leading parts given, the rest missing
// or wildcards (x, X, *).
type partialVersion struct {
	v SemVersion
	// parts counts the numeric parts given: 0 for "*", 1 for "1" or "1.x", 2 for "1.2".
	parts int
	// wild is set when a part was spelt x, X or *, rather than left out.
	wild bool
}

func parsePartial(s string) (partialVersion, error) {
	orig := s
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "=")
	if s == "" {
		return partialVersion{}, fmt.Errorf("empty version")
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var pre []string
	if i := strings.IndexByte(s, '-'); i >= 0 {
		for _, id := range strings.Split(s[i+1:], ".") {
			if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
				return partialVersion{}, fmt.Errorf("version %q has an invalid pre-release part %q", orig, s[i+1:])
			}
			pre = append(pre, id)
		}
		s = s[:i]
	}
	fields := strings.Split(s, ".")
	if len(fields) > 3 {
		return partialVersion{}, fmt.Errorf("version %q has more than three parts", orig)
	}
	var p partialVersion
	nums := [3]*uint64{&p.v.major, &p.v.minor, &p.v.patch}
	for i, f := range fields {
		if f == "x" || f == "X" || f == "*" {
			p.wild = true
			for _, rest := range fields[i+1:] {
				if rest != "x" && rest != "X" && rest != "*" {
					return partialVersion{}, fmt.Errorf("version %q has a number after a wildcard", orig)
				}
			}
			break
		}
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return partialVersion{}, fmt.Errorf("version %q: part %q is not a number", orig, f)
		}
		*nums[i] = n
		p.parts++
	}
	if pre != nil && p.parts < 3 {
		return partialVersion{}, fmt.Errorf("version %q has a pre-release on an incomplete version", orig)
	}
	p.v.pre = pre
	return p, nil
}

// String prints the version in its full form (1.2 is printed 1.2.0).
func (v SemVersion) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
	if len(v.pre) > 0 {
		s += "-" + strings.Join(v.pre, ".")
	}
	return s
}

// Compare orders versions by SemVer precedence: -1, 0 or 1.
func (v SemVersion) Compare(o SemVersion) int {
	for _, d := range [][2]uint64{{v.major, o.major}, {v.minor, o.minor}, {v.patch, o.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.pre) == 0 && len(o.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(o.pre) == 0:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(o.pre); i++ {
		if c := comparePreID(v.pre[i], o.pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.pre) < len(o.pre):
		return -1
	case len(v.pre) > len(o.pre):
		return 1
	}
	return 0
}

// comparePreID orders two pre-release identifiers: numbers numerically and below words.
func comparePreID(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// comparator is one bound of a range: op is one of < <= > >= =.
type comparator struct {
	op string
	v  SemVersion
}

func (c comparator) allows(v SemVersion) bool {
	d := v.Compare(c.v)
	switch c.op {
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	}
	return d == 0
}

// VersionRange is a SemVer range, as the top-level uses gives one per agent: alternatives (||)
// of comparator sets that must all hold. Parse it with ParseVersionRange.
type VersionRange struct {
	text string
	alts [][]comparator
}

// Allows reports whether v is inside the range.
func (r VersionRange) Allows(v SemVersion) bool {
	for _, set := range r.alts {
		ok := true
		for _, c := range set {
			if !c.allows(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// ParseVersionRange parses the range syntax of Choria's uses (Puppet's SemanticPuppet) and of
// npm, which overlap: comparators (=, <, <=, >, >=, an operator may be followed by a space),
// ~ and ~> (patch updates, or minor when only the major is given), ^ (updates that keep the
// left-most non-zero part), x-ranges (1.x, 1.2.*, *, or a partial version such as 1.2),
// hyphen ranges (1.2 - 2.0), comparators separated by spaces or commas all holding, and ||
// between alternatives.
func ParseVersionRange(text string) (VersionRange, error) {
	r := VersionRange{text: text}
	for _, alt := range strings.Split(text, "||") {
		set, err := parseComparatorSet(alt)
		if err != nil {
			return VersionRange{}, fmt.Errorf("invalid version range %q: %w", text, err)
		}
		r.alts = append(r.alts, set)
	}
	return r, nil
}

// rangeOps are the operators a range term may start with, longest first.
var rangeOps = []string{"~>", ">=", "<=", "==", "!=", ">", "<", "=", "~", "^"}

func parseComparatorSet(s string) ([]comparator, error) {
	words := strings.Fields(strings.ReplaceAll(s, ",", " "))
	if len(words) == 0 {
		return nil, nil // "" and "||" alternatives allow everything, as in npm
	}
	if len(words) == 3 && words[1] == "-" {
		return hyphenRange(words[0], words[2])
	}
	var out []comparator
	for i := 0; i < len(words); i++ {
		term := words[i]
		op := ""
		for _, o := range rangeOps {
			if strings.HasPrefix(term, o) {
				op = o
				break
			}
		}
		ver := term[len(op):]
		if ver == "" && op != "" {
			// "~ 1.0.0", ">= 1.2": the operator stands alone and applies to the next word.
			if i+1 >= len(words) {
				return nil, fmt.Errorf("operator %s has no version", op)
			}
			i++
			ver = words[i]
		}
		cs, err := expandTerm(op, ver)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// expandTerm turns one operator and (possibly partial) version into plain comparators.
func expandTerm(op, ver string) ([]comparator, error) {
	if op == "!=" {
		return nil, fmt.Errorf("operator != is not supported")
	}
	p, err := parsePartial(ver)
	if err != nil {
		return nil, err
	}
	lo := p.v
	switch op {
	case "", "=", "==":
		if p.parts == 3 {
			return []comparator{{"=", lo}}, nil
		}
		return xRange(p), nil
	case ">=":
		return []comparator{{">=", lo}}, nil
	case "<":
		return []comparator{{"<", lo}}, nil
	case ">":
		if p.parts == 3 {
			return []comparator{{">", lo}}, nil
		}
		return []comparator{{">=", bump(p)}}, nil // >1.2 means above every 1.2.x
	case "<=":
		if p.parts == 3 {
			return []comparator{{"<=", lo}}, nil
		}
		return []comparator{{"<", bump(p)}}, nil // <=1.2 includes every 1.2.x
	case "~", "~>":
		hi := SemVersion{major: lo.major + 1}
		if p.parts >= 2 {
			hi = SemVersion{major: lo.major, minor: lo.minor + 1}
		}
		if p.parts == 0 {
			return nil, nil
		}
		return []comparator{{">=", lo}, {"<", hi}}, nil
	case "^":
		var hi SemVersion
		switch {
		case p.parts == 0:
			return nil, nil
		case lo.major > 0 || p.parts == 1:
			hi = SemVersion{major: lo.major + 1}
		case lo.minor > 0 || p.parts == 2:
			hi = SemVersion{minor: lo.minor + 1}
		default:
			hi = SemVersion{patch: lo.patch + 1}
		}
		return []comparator{{">=", lo}, {"<", hi}}, nil
	}
	return nil, fmt.Errorf("unknown operator %q", op)
}

// xRange is the range a partial version stands for: 1.2 is >=1.2.0 <1.3.0; * is anything.
func xRange(p partialVersion) []comparator {
	if p.parts == 0 {
		return nil
	}
	return []comparator{{">=", p.v}, {"<", bump(p)}}
}

// bump is the first version above every version the partial p covers.
func bump(p partialVersion) SemVersion {
	if p.parts == 1 {
		return SemVersion{major: p.v.major + 1}
	}
	return SemVersion{major: p.v.major, minor: p.v.minor + 1}
}

// hyphenRange is "a - b": at least a, and at most b (every b.x when b is partial).
func hyphenRange(a, b string) ([]comparator, error) {
	lo, err := parsePartial(a)
	if err != nil {
		return nil, err
	}
	hi, err := parsePartial(b)
	if err != nil {
		return nil, err
	}
	out := []comparator{{">=", lo.v}}
	switch {
	case hi.parts == 3:
		out = append(out, comparator{"<=", hi.v})
	case hi.parts > 0:
		out = append(out, comparator{"<", bump(hi)})
	}
	return out, nil
}

// String is the range as it was written.
func (r VersionRange) String() string { return r.text }
