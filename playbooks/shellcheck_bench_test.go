package playbooks

import (
	"strings"
	"testing"
	"time"
)

// hostileShellCommands are commands of nearly MaxTemplatedShellBytes built to make the check slow.
func hostileShellCommands() map[string]string {
	n := 1500
	var chain strings.Builder
	for i := n; i > 0; i-- {
		chain.WriteString("V" + itoa(i+1) + "=\"$V" + itoa(i) + "\"\n")
	}
	chain.WriteString("V1={{ inputs.x }}\n")
	return map[string]string{
		"reversed assignment chain": chain.String(),
		"nested braces":             strings.Repeat("{ ", n) + "echo {{ inputs.x }}" + strings.Repeat("; }", n),
		"nested subshells":          strings.Repeat("(", n) + "echo {{ inputs.x }}" + strings.Repeat(")", n),
		"nested at the limit":       strings.Repeat("{ ", maxShellNesting-1) + "echo {{ inputs.x }}" + strings.Repeat(";}", maxShellNesting-1),
		"long pipeline":             "echo {{ inputs.x }}" + strings.Repeat("|cat", 4*n),
		"long and-list":             "echo {{ inputs.x }}" + strings.Repeat("&&cat", 3*n),
		"many templates":            strings.Repeat("echo {{ inputs.x }};", n/2),
		"nested ifs":                strings.Repeat("if true;then ", n) + "echo {{ inputs.x }}" + strings.Repeat(";fi", n),
		"pipeline of blocks":        strings.Repeat("{ echo {{ inputs.x }};}|", n/2) + "cat",
	}
}

func itoa(i int) string {
	b := []byte{}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func BenchmarkShellCheckHostile(b *testing.B) {
	for name, cmd := range hostileShellCommands() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				checkCommandText(cmd, nil)
			}
		})
	}
}

// TestShellCheckHostileSizes checks the verdict on each hostile command (deep nesting is refused
// before parsing, the rest is checked in full or refused once the budget is spent) and logs how
// long each took: no threshold, BenchmarkShellCheckHostile is the measurement.
func TestShellCheckHostileSizes(t *testing.T) {
	for name, cmd := range hostileShellCommands() {
		start := time.Now()
		probs := checkCommandText(cmd, nil)
		t.Logf("%-26s %7d bytes  %v  (%d problem(s))", name, len(cmd), time.Since(start), len(probs))
		if strings.HasPrefix(name, "nested braces") || strings.HasPrefix(name, "nested subshells") {
			if len(probs) != 1 || !strings.Contains(probs[0].Message, "nests ( and {") {
				t.Errorf("%s: got %v, want the nesting refused", name, probs)
			}
		}
	}
	// Past the size limit: refused before parsing.
	huge := "echo {{ inputs.x }}" + strings.Repeat("|cat", MaxTemplatedShellBytes/4)
	if probs := checkCommandText(huge, nil); len(probs) != 1 || !strings.Contains(probs[0].Message, "bytes, more than") {
		t.Errorf("a command past the size limit: got %v", probs)
	}
}
