package playbooks

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// Text rules. A playbook document and the values given to it are text that people read in
// terminals, logs and reviews; characters that change how text is shown, rather than what it
// says, have no place in them:
//
//   - a document may not hold a bidirectional control character (IsBidiControl) anywhere, comments
//     included: they make a reviewer read other text than the parser does ("Trojan Source",
//     CVE-2021-42574). Such a document is refused with the line and column of the first one;
//   - a document must be valid UTF-8 without NUL (the YAML parser refuses both; Parse says where);
//   - an input value (given, or read from a data store) may not hold NUL, invalid UTF-8, a C0
//     control character other than tab and newline (so no ESC, no carriage return, no backspace),
//     DEL, a C1 control character (U+0080–U+009F, which terminals also obey) or a bidirectional
//     control. The problem names the input and the character's position, never the value, which
//     may be sensitive. String fields of the document follow the same rule (decoder.plainText),
//     except that a carriage return is let through there, since YAML folds line breaks itself.

// IsBidiControl reports whether r is a bidirectional formatting character: the embeddings,
// overrides and isolates of CVE-2021-42574 (U+202A–U+202E, U+2066–U+2069) that compilers such as
// Rust's refuse, and the implicit marks (U+200E, U+200F, U+061C), which reorder text too.
func IsBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// runeName names the characters the text rules refuse, for messages.
func runeName(r rune) string {
	names := map[rune]string{
		0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x0D: "CARRIAGE RETURN", 0x1B: "ESC", 0x7F: "DEL",
		0x9B: "CSI", 0x9D: "OSC", 0x061C: "ARABIC LETTER MARK", 0x200E: "LEFT-TO-RIGHT MARK",
		0x200F: "RIGHT-TO-LEFT MARK", 0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING",
		0x202C: "POP DIRECTIONAL FORMATTING", 0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE",
		0x2066: "LEFT-TO-RIGHT ISOLATE", 0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE",
		0x2069: "POP DIRECTIONAL ISOLATE",
	}
	if n, ok := names[r]; ok {
		return fmt.Sprintf("%U (%s)", r, n)
	}
	return fmt.Sprintf("%U", r)
}

// documentTextProblems finds what the text rules refuse in a whole document: invalid UTF-8, NUL
// and bidirectional controls, each with its line and column (counted in characters from 1).
func documentTextProblems(src []byte) []Problem {
	var probs []Problem
	line, col := 1, 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		msg := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("column %d: the document is not valid UTF-8 (byte 0x%02x)", col, src[i])
		case r == 0:
			msg = fmt.Sprintf("column %d: the document contains a NUL byte", col)
		case IsBidiControl(r):
			msg = fmt.Sprintf("column %d: the document contains the bidirectional control character %s, which makes the text read differently from what is parsed; remove it (write right-to-left text without controls)", col, runeName(r))
		}
		if msg != "" {
			probs = append(probs, Problem{Line: line, Column: col, Message: msg})
			if len(probs) == 10 {
				break
			}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return probs
}

// valueTextProblem explains the first character of s that an input value may not hold, or "".
// It never quotes s.
func valueTextProblem(s string) string {
	pos := 0
	for i, r := range s {
		pos++
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return fmt.Sprintf("is not valid UTF-8 (at character %d)", pos)
		case r == '\t' || r == '\n':
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0):
			return fmt.Sprintf("contains the control character %s at character %d; a value may hold text, tabs and newlines only", runeName(r), pos)
		case IsBidiControl(r):
			return fmt.Sprintf("contains the bidirectional control character %s at character %d, which makes text read differently from what it is", runeName(r), pos)
		}
	}
	return ""
}

// validRuneAt reports whether s holds a real U+FFFD at byte i (rather than an invalid byte).
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

// valueTreeProblem applies valueTextProblem to every string in v: lists and maps (keys too).
func valueTreeProblem(v any) string {
	switch x := v.(type) {
	case string:
		return valueTextProblem(x)
	case []string:
		for i, s := range x {
			if msg := valueTextProblem(s); msg != "" {
				return fmt.Sprintf("item %d %s", i, msg)
			}
		}
	case []any:
		for i, e := range x {
			if msg := valueTreeProblem(e); msg != "" {
				return fmt.Sprintf("item %d %s", i, msg)
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if msg := valueTextProblem(k); msg != "" {
				return "a key " + msg
			}
			if msg := valueTreeProblem(x[k]); msg != "" {
				return "a value in the map " + msg
			}
		}
	}
	return ""
}
