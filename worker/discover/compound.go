package discover

import (
	"fmt"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// Compound filters combine terms with and, or, not and parentheses (&&, || and ! too). A term
// is one of:
//
//	apache, /^web/              a class, exact or by regular expression (as in mco -S)
//	class:apache                the same, spelt out
//	agent:puppet, agent:/^pu/   the node runs the agent
//	identity:web1, identity:/^web\d/
//	country=uk, os.release.major>=8, hostname=~/^web/
//	                            a fact comparison, as in the facts filter
//
// Values with spaces or parentheses go in quotes: os.name="Red Hat". Spaces around a fact
// operator are allowed. not binds tightest, then and, then or.

type compoundAnd struct{ l, r nodeFilter }

func (c compoundAnd) match(n *protocol.NodeInfo) bool { return c.l.match(n) && c.r.match(n) }

type compoundOr struct{ l, r nodeFilter }

func (c compoundOr) match(n *protocol.NodeInfo) bool { return c.l.match(n) || c.r.match(n) }

type compoundNot struct{ f nodeFilter }

func (c compoundNot) match(n *protocol.NodeInfo) bool { return !c.f.match(n) }

// compoundToken is a lexed piece: an operator word (and, or, not, "(", ")") or a term.
type compoundToken struct {
	op   string
	term string
	pos  int
}

// parseCompound parses a compound filter expression.
func parseCompound(s string) (nodeFilter, error) {
	toks, err := lexCompound(s)
	if err != nil {
		return nil, err
	}
	p := compoundParser{toks: toks, src: s}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errorf("unexpected %s", p.toks[p.i].describe())
	}
	return f, nil
}

func (t compoundToken) describe() string {
	if t.op != "" {
		return fmt.Sprintf("%q at offset %d", t.op, t.pos)
	}
	return fmt.Sprintf("term %q at offset %d", t.term, t.pos)
}

func isFactOpByte(c byte) bool { return c == '=' || c == '<' || c == '>' || c == '~' }

// lexCompound splits s into operators and terms. Quoted text and /regex/ values are kept
// whole, whatever they contain.
func lexCompound(s string) ([]compoundToken, error) {
	var toks []compoundToken
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return toks, nil
		}
		start := i
		switch {
		case s[i] == '(' || s[i] == ')':
			toks = append(toks, compoundToken{op: s[i : i+1], pos: start})
			i++
			continue
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, compoundToken{op: "and", pos: start})
			i += 2
			continue
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, compoundToken{op: "or", pos: start})
			i += 2
			continue
		case s[i] == '!' && !strings.HasPrefix(s[i:], "!="):
			toks = append(toks, compoundToken{op: "not", pos: start})
			i++
			continue
		}
		var b strings.Builder
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				// "country = uk": an operator on either side of the space joins the words.
				j := i
				for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
					j++
				}
				cur := b.String()
				endsOp := cur != "" && isFactOpByte(cur[len(cur)-1])
				nextOp := j < len(s) && (isFactOpByte(s[j]) || strings.HasPrefix(s[j:], "!="))
				if j < len(s) && (endsOp || nextOp) {
					i = j
					continue
				}
				break
			}
			if c == '(' || c == ')' {
				break
			}
			if c == '"' || c == '\'' {
				end := strings.IndexByte(s[i+1:], c)
				if end < 0 {
					return nil, fmt.Errorf("unterminated quote at offset %d in %q", i, s)
				}
				b.WriteString(s[i : i+end+2])
				i += end + 2
				continue
			}
			cur := b.String()
			if c == '/' && (cur == "" || strings.HasSuffix(cur, ":") || isFactOpByte(cur[len(cur)-1])) {
				end := regexEnd(s, i+1)
				if end < 0 {
					return nil, fmt.Errorf("unterminated regular expression at offset %d in %q", i, s)
				}
				b.WriteString(s[i : end+1])
				i = end + 1
				continue
			}
			b.WriteByte(c)
			i++
		}
		word := b.String()
		switch strings.ToLower(word) {
		case "and", "or", "not":
			toks = append(toks, compoundToken{op: strings.ToLower(word), pos: start})
		default:
			toks = append(toks, compoundToken{term: word, pos: start})
		}
	}
}

// regexEnd finds the closing slash of a regex whose body starts at from; a backslash escapes it.
func regexEnd(s string, from int) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '/':
			return i
		}
	}
	return -1
}

type compoundParser struct {
	toks []compoundToken
	i    int
	src  string
}

func (p *compoundParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s in %q", fmt.Sprintf(format, args...), p.src)
}

func (p *compoundParser) peek(op string) bool {
	return p.i < len(p.toks) && p.toks[p.i].op == op
}

func (p *compoundParser) or() (nodeFilter, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek("or") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = compoundOr{l, r}
	}
	return l, nil
}

func (p *compoundParser) and() (nodeFilter, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek("and") {
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = compoundAnd{l, r}
	}
	if p.i < len(p.toks) && (p.toks[p.i].term != "" || p.peek("(") || p.peek("not")) {
		return nil, p.errorf("missing and/or before %s", p.toks[p.i].describe())
	}
	return l, nil
}

func (p *compoundParser) unary() (nodeFilter, error) {
	if p.peek("not") {
		p.i++
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return compoundNot{f}, nil
	}
	return p.primary()
}

func (p *compoundParser) primary() (nodeFilter, error) {
	if p.i >= len(p.toks) {
		return nil, p.errorf("expression ends where a term was expected")
	}
	t := p.toks[p.i]
	p.i++
	switch {
	case t.op == "(":
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, p.errorf("missing ) for ( at offset %d", t.pos)
		}
		p.i++
		return f, nil
	case t.op != "":
		return nil, p.errorf("unexpected %s where a term was expected", t.describe())
	}
	f, err := compoundTerm(t.term)
	if err != nil {
		return nil, p.errorf("term at offset %d: %v", t.pos, err)
	}
	return f, nil
}

// compoundTerm reads one term: prefixed, a fact comparison, or a class.
func compoundTerm(term string) (nodeFilter, error) {
	for _, kind := range []string{"class:", "agent:", "identity:"} {
		rest, ok := strings.CutPrefix(term, kind)
		if !ok {
			continue
		}
		m, err := parseTextMatcher(strings.TrimSuffix(kind, ":"), unquote(rest))
		if err != nil {
			return nil, err
		}
		switch kind {
		case "class:":
			return classFilter{m}, nil
		case "agent:":
			return agentFilter{m}, nil
		}
		return identityFilter{m}, nil
	}
	if rest, ok := strings.CutPrefix(term, "fact:"); ok {
		term = rest
	}
	if !strings.HasPrefix(term, "/") && strings.ContainsAny(term, "=<>") {
		return parseFactFilter(term)
	}
	m, err := parseTextMatcher("class", unquote(term))
	if err != nil {
		return nil, err
	}
	return classFilter{m}, nil
}
