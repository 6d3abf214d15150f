package playbooks

import (
	"strings"
	"testing"
)

// TestDocumentBidiControlsRefused: every bidirectional control is refused wherever it is in a
// document, with its line and column.
func TestDocumentBidiControlsRefused(t *testing.T) {
	for _, r := range []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C} {
		for _, place := range []struct{ name, doc string }{
			{"string", header + "tasks:\n  - log: {message: \"ab" + string(r) + "c\"}\n"},
			{"comment", header + "# ok " + string(r) + "\ntasks:\n  - log: {message: x}\n"},
			{"key", header + "tasks:\n  - log: {message: x, lev" + string(r) + "el: info}\n"},
		} {
			_, err := Parse([]byte(place.doc))
			probs := problemsOf(t, err)
			p := probs[0]
			line := strings.Count(place.doc[:strings.IndexRune(place.doc, r)], "\n") + 1
			lineStart := strings.LastIndex(place.doc[:strings.IndexRune(place.doc, r)], "\n") + 1
			col := len([]rune(place.doc[lineStart:strings.IndexRune(place.doc, r)])) + 1
			if p.Line != line || p.Column != col || !strings.Contains(p.Message, "bidirectional") || !strings.Contains(p.String(), "line") {
				t.Fatalf("%U in a %s: got %+v, want line %d column %d", r, place.name, p, line, col)
			}
		}
	}
	// Right-to-left text itself is fine.
	if _, err := Parse([]byte(header + "tasks:\n  - log: {message: \"שלום עולם\"}\n")); err != nil {
		t.Fatalf("Hebrew text refused: %v", err)
	}
}

func TestDocumentInvalidUTF8AndNULRefusedWithPosition(t *testing.T) {
	for _, tc := range []struct{ doc, msg string }{
		{header + "tasks:\n  - log: {message: \"a\xffb\"}\n", "not valid UTF-8"},
		{header + "tasks:\n  - log: {message: \"a\x00b\"}\n", "NUL"},
	} {
		_, err := Parse([]byte(tc.doc))
		p := problemsOf(t, err)[0]
		if p.Line != 6 || p.Column != 22 || !strings.Contains(p.Message, tc.msg) {
			t.Fatalf("got %+v, want line 6 column 22 %q", p, tc.msg)
		}
	}
}

// TestInputValueTextRules: NUL, invalid UTF-8, C0 controls other than tab and newline, DEL,
// C1 controls and bidirectional controls are refused in input values, naming the input and
// never quoting the value; tabs, newlines and any other text pass.
func TestInputValueTextRules(t *testing.T) {
	pb, err := Parse([]byte(header + "inputs:\n  x: {type: String}\n  l: {type: Array, required: false}\n  s: {type: String, sensitive: true, required: false}\ntasks:\n  - log: {message: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"ESC (OSC title)":  "a\x1b]0;pwned\x07b",
		"ESC (clear)":      "\x1b[2J",
		"NUL":              "a\x00b",
		"invalid UTF-8":    "a\xffb",
		"carriage return":  "ok\rEVIL",
		"backspace":        "abc\b\b\b",
		"DEL":              "a\x7f",
		"C1 CSI":           "a\u009b2J",
		"RIGHT-TO-LEFT":    "user\u202e",
		"POP DIRECTIONAL ": "\u2069",
	}
	for name, v := range bad {
		for _, input := range []string{"x", "s"} {
			_, err := pb.ResolveInputs(map[string]any{input: v, "x": "fine"})
			if input == "x" {
				_, err = pb.ResolveInputs(map[string]any{"x": v})
			}
			p := problemsOf(t, err)[0]
			if p.Path != "inputs."+input || !strings.Contains(p.Message, `input "`+input+`"`) || strings.Contains(p.Message, v) {
				t.Fatalf("%s in %s: got %+v", name, input, p)
			}
		}
	}
	if _, err := pb.ResolveInputs(map[string]any{"x": "fine", "l": []any{"a", "b\x1b[2J"}}); err == nil || !strings.Contains(err.Error(), "item 1") {
		t.Fatalf("a control character in a list item: %v", err)
	}
	if _, err := pb.ValidateInputValue("x", "from a store \x1b[2J"); err == nil || !strings.Contains(err.Error(), "inputs.x") {
		t.Fatalf("a value read from a store: %v", err)
	}
	for _, ok := range []string{"tab\there", "line 1\nline 2", "ünïcödé 日本 שלום", "", "--help", "; rm -rf / #"} {
		if _, err := pb.ResolveInputs(map[string]any{"x": ok}); err != nil {
			t.Fatalf("%q refused: %v", ok, err)
		}
	}
}
