package playbooks

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Assertion is a parsed rpc `assert` expression: Choria's JGrep-style `key=value and key2>3`
// form, evaluated against one node's reply data. Parse checks every assert expression of a
// document (ParseAssertion), so a broken one is refused before anything runs; the worker parses
// the rendered text again with ParseAssertion and evaluates it.
//
// Grammar (keywords are case-insensitive; && || ! are accepted too):
//
//	expr       = and { ("or" | "||") and }
//	and        = unary { ("and" | "&&") unary }
//	unary      = ("not" | "!") unary | "(" expr ")" | comparison
//	comparison = path op value
//	path       = dot-separated keys into the data (a numeric key indexes a list)
//	op         = "=" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "=~"
//	value      = "quoted" | 'quoted' | /regex/ | bare word up to a space or ")"
//
// A comparison whose key is missing is false. Values compare as numbers when both sides are
// numbers, as booleans when the data is a boolean and the value true/false, otherwise as text.
type Assertion struct {
	src  string
	root assertNode
}

type assertNode interface {
	eval(data any) bool
}

type assertOr struct{ l, r assertNode }
type assertAnd struct{ l, r assertNode }
type assertNot struct{ x assertNode }
type assertCmp struct {
	path  []string
	op    string
	value string
	re    *regexp.Regexp
}

func (n assertOr) eval(d any) bool  { return n.l.eval(d) || n.r.eval(d) }
func (n assertAnd) eval(d any) bool { return n.l.eval(d) && n.r.eval(d) }
func (n assertNot) eval(d any) bool { return !n.x.eval(d) }

// String is the expression as written.
func (a *Assertion) String() string { return a.src }

// Eval reports whether data satisfies the assertion.
func (a *Assertion) Eval(data any) bool { return a.root.eval(data) }

// ParseAssertion parses an assert expression. The error, which wraps ErrInvalidExpression,
// quotes the expression and gives the offset of the problem.
func ParseAssertion(src string) (*Assertion, error) {
	a, err := parseAssertion(src)
	if err != nil {
		if strings.TrimSpace(src) == "" {
			return nil, invalidExpression(fmt.Errorf("assert: %w", err))
		}
		return nil, invalidExpression(fmt.Errorf("assert %q: %w", src, err))
	}
	return a, nil
}

// parseAssertion is ParseAssertion with an error that does not repeat the expression, for
// validation messages that already name the field.
func parseAssertion(src string) (*Assertion, error) {
	p := &assertParser{src: src}
	p.skip()
	if p.pos == len(src) {
		return nil, errors.New("empty expression")
	}
	root, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos != len(src) {
		return nil, fmt.Errorf("unexpected %q at offset %d", src[p.pos:], p.pos)
	}
	return &Assertion{src: src, root: root}, nil
}

type assertParser struct {
	src string
	pos int
}

func (p *assertParser) skip() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

// keyword consumes one of words (or a symbol) when it comes next as a whole token.
func (p *assertParser) keyword(words ...string) bool {
	p.skip()
	rest := p.src[p.pos:]
	for _, w := range words {
		if len(rest) < len(w) || !strings.EqualFold(rest[:len(w)], w) {
			continue
		}
		isWord := unicode.IsLetter(rune(w[0]))
		if isWord && len(rest) > len(w) && !unicode.IsSpace(rune(rest[len(w)])) && rest[len(w)] != '(' {
			continue
		}
		p.pos += len(w)
		return true
	}
	return false
}

func (p *assertParser) expr() (assertNode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or", "||") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = assertOr{l, r}
	}
	return l, nil
}

func (p *assertParser) and() (assertNode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and", "&&") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = assertAnd{l, r}
	}
	return l, nil
}

func (p *assertParser) unary() (assertNode, error) {
	p.skip()
	if p.pos < len(p.src) && p.src[p.pos] == '!' && !strings.HasPrefix(p.src[p.pos:], "!=") {
		p.pos++
		x, err := p.unary()
		return assertNot{x}, err
	}
	if p.keyword("not") {
		x, err := p.unary()
		return assertNot{x}, err
	}
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		p.pos++
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.skip(); p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, fmt.Errorf("missing ')' at offset %d", p.pos)
		}
		p.pos++
		return x, nil
	}
	return p.comparison()
}

var assertOps = []string{"==", "!=", "<=", ">=", "=~", "=", "<", ">"}

func (p *assertParser) comparison() (assertNode, error) {
	p.skip()
	start := p.pos
	for p.pos < len(p.src) && !strings.ContainsRune(" \t\r\n=!<>~()", rune(p.src[p.pos])) {
		p.pos++
	}
	key := p.src[start:p.pos]
	if key == "" {
		return nil, fmt.Errorf("expected a key at offset %d", start)
	}
	p.skip()
	op := ""
	for _, o := range assertOps {
		if strings.HasPrefix(p.src[p.pos:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("expected an operator (= == != < > <= >= =~) after %q at offset %d", key, p.pos)
	}
	p.pos += len(op)
	if op == "==" {
		op = "="
	}
	p.skip()
	value, err := p.value(op == "=~")
	if err != nil {
		return nil, err
	}
	c := assertCmp{path: strings.Split(key, "."), op: op, value: value}
	if op == "=~" {
		if c.re, err = regexp.Compile(value); err != nil {
			return nil, fmt.Errorf("regular expression of %q: %w", key, err)
		}
	}
	return c, nil
}

func (p *assertParser) value(regex bool) (string, error) {
	if p.pos >= len(p.src) {
		return "", fmt.Errorf("expected a value at the end")
	}
	if q := p.src[p.pos]; q == '"' || q == '\'' || (regex && q == '/') {
		end := strings.IndexByte(p.src[p.pos+1:], q)
		if end < 0 {
			return "", fmt.Errorf("unterminated %c at offset %d", q, p.pos)
		}
		v := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return v, nil
	}
	start := p.pos
	for p.pos < len(p.src) && !unicode.IsSpace(rune(p.src[p.pos])) && p.src[p.pos] != ')' {
		p.pos++
	}
	if p.pos == start {
		return "", fmt.Errorf("expected a value at offset %d", start)
	}
	return p.src[start:p.pos], nil
}

func (c assertCmp) eval(data any) bool {
	v, ok := lookupPath(data, c.path)
	if !ok {
		return false
	}
	if c.op == "=~" {
		return c.re.MatchString(assertText(v))
	}
	if b, isBool := v.(bool); isBool {
		want, err := strconv.ParseBool(c.value)
		if err != nil {
			return c.op == "!="
		}
		switch c.op {
		case "=":
			return b == want
		case "!=":
			return b != want
		}
		return false
	}
	if x, ok := assertNumber(v); ok {
		if y, err := strconv.ParseFloat(c.value, 64); err == nil {
			return compareResult(c.op, cmpFloat(x, y))
		}
	}
	return compareResult(c.op, strings.Compare(assertText(v), c.value))
}

func compareResult(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	case ">=":
		return c >= 0
	}
	return false
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func lookupPath(data any, path []string) (any, bool) {
	cur := data
	for _, k := range path {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[k]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func assertNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func assertText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// AssertionText writes an rpc_assert `expression` [key, operator, value] as assert text, the
// form ParseAssertion reads. The value is quoted when it would not read back as one bare word
// (it holds a space or a parenthesis, or is empty). A key written as a Ruby symbol (":idling",
// as Choria's documents write it, `expression: [:idling, "==", true]`) names the same reply
// field as "idling": Ruby's YAML read it as a symbol, and Choria looked the symbol up.
func AssertionText(key, op, value any) string {
	k, o, v := fmt.Sprint(key), fmt.Sprint(op), fmt.Sprint(value)
	if len(k) > 1 && k[0] == ':' {
		k = k[1:]
	}
	bare := v != "" && !strings.ContainsAny(v, " \t\r\n()\"'")
	if o == "=~" && len(v) >= 2 && strings.HasPrefix(v, "/") && strings.HasSuffix(v, "/") {
		bare = true
	}
	switch {
	case bare:
	case !strings.Contains(v, `"`):
		v = `"` + v + `"`
	case !strings.Contains(v, "'"):
		v = "'" + v + "'"
	}
	return k + o + v
}
