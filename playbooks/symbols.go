package playbooks

import (
	"bytes"
	"fmt"
	"strings"
)

// maxSymbolRewrites bounds how many times parseYAML retries a document after quoting Ruby
// symbols on the line the YAML parser stopped at.
const maxSymbolRewrites = 32

// quoteFlowSymbols quotes the Ruby symbols that open an item of a flow list or map (`[:idling,
// "==", true]`, `{:message: hi}`) on the lines around line (the YAML parser's 1-based error
// line, which can be one short), outside quoted text and comments. Ruby's YAML read such an item
// as a symbol; YAML 1.2 (and yaml.v3) cannot read a flow item that starts with ':' at all. It
// returns the new document and the symbols quoted, or nil when there was nothing to quote.
func quoteFlowSymbols(src []byte, line int) ([]byte, []quotedSymbol) {
	lines := bytes.SplitAfter(src, []byte("\n"))
	var quoted []quotedSymbol
	for _, l := range []int{line - 1, line} { // 0-based: the reported line and the next one
		if l < 0 || l >= len(lines) {
			continue
		}
		out, syms := quoteLineSymbols(string(lines[l]))
		if len(syms) > 0 {
			lines[l] = []byte(out)
			for _, sym := range syms {
				quoted = append(quoted, quotedSymbol{sym: sym, line: l + 1})
			}
		}
	}
	if len(quoted) == 0 {
		return nil, nil
	}
	return bytes.Join(lines, nil), quoted
}

// quotedSymbol is a symbol quoteFlowSymbols quoted, and its 1-based line.
type quotedSymbol struct {
	sym  string
	line int
}

// quoteLineSymbols quotes every `:name` that directly follows '[', '{' or ',' (spaces allowed)
// in one line, outside '...' and "..." and before a comment.
func quoteLineSymbols(s string) (string, []string) {
	var b strings.Builder
	var syms []string
	var quote byte
	opener := false // the last significant byte opens a flow item
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				b.WriteByte(c)
				i++
				c = s[i]
			}
			b.WriteByte(c)
			continue
		case c == '"' || c == '\'':
			quote, opener = c, false
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			b.WriteString(s[i:])
			return b.String(), syms
		case c == ':' && opener && i+1 < len(s) && isSymbolStart(s[i+1]):
			j := i + 1
			for j < len(s) && (isSymbolStart(s[j]) || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			sym := s[i:j]
			fmt.Fprintf(&b, "%q", sym)
			syms = append(syms, sym)
			i, opener = j-1, false
			continue
		case c == '[' || c == '{' || c == ',':
			opener = true
		case c != ' ' && c != '\t':
			opener = false
		}
		b.WriteByte(c)
	}
	return b.String(), syms
}

// isSymbolStart reports whether c may start a Ruby symbol's name.
func isSymbolStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
