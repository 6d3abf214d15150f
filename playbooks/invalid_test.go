package playbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidCorpus parses every document under testdata/invalid. Each starts with
// `# want: PATH` (the field the error must name; "(document)" for the whole document, a trailing
// "..." for a path prefix) and `# message: TEXT` (a part of that problem's message).
func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("the corpus must hold at least 30 invalid playbooks, found %d", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, msg := corpusExpectations(t, string(src))
			assertRefused(t, src, want, msg)
		})
	}
	t.Run("generated/oversized", func(t *testing.T) {
		src := []byte(header + "macros:\n  pad: \"" + strings.Repeat("x", MaxDocumentBytes) + "\"\n")
		assertRefused(t, src, "(document)", "more than the limit")
	})
	t.Run("generated/many-tasks-bomb", func(t *testing.T) {
		// A wide alias bomb: one anchor of 1000 tasks referenced 1000 times.
		var b strings.Builder
		b.WriteString(header + "macros:\n  t: &t\n")
		for range 1000 {
			b.WriteString("    - log: {message: x}\n")
		}
		b.WriteString("hooks:\n  post_book: [" + strings.TrimSuffix(strings.Repeat("*t, ", 1000), ", ") + "]\n")
		assertRefused(t, []byte(b.String()), "hooks.post_book...", "")
	})
}

// corpusExpectations reads the `# want:` and `# message:` header lines.
func corpusExpectations(t *testing.T, src string) (want, msg string) {
	t.Helper()
	for _, line := range strings.Split(src, "\n") {
		if v, ok := strings.CutPrefix(line, "# want: "); ok {
			want = v
		}
		if v, ok := strings.CutPrefix(line, "# message: "); ok {
			msg = v
		}
	}
	if want == "" {
		t.Fatal("no `# want: PATH` line")
	}
	return want, msg
}

// assertRefused parses src and checks one problem names want and contains msg.
func assertRefused(t *testing.T, src []byte, want, msg string) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Parse panicked: %v", r)
		}
	}()
	pb, err := Parse(src)
	if err == nil {
		t.Fatalf("accepted: %+v", pb)
	}
	probs := problemsOf(t, err)
	for _, p := range probs {
		path := p.Path
		if path == "" {
			path = "(document)"
		}
		prefix, isPrefix := strings.CutSuffix(want, "...")
		if (path == want || (isPrefix && strings.HasPrefix(path, prefix))) && strings.Contains(p.Message, msg) {
			return
		}
	}
	t.Fatalf("no problem at %s containing %q; got:\n%v", want, msg, err)
}
