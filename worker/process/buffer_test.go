package process

import (
	"strings"
	"testing"
)

func TestCappedBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"fits", []string{"ab", "cd"}, "abcd"},
		{"exactly full", []string{"abcdefgh"}, "abcdefgh"},
		{"one big write", []string{"abcdefghij"}, "abcd\n[... 2 bytes omitted ...]\nghij"},
		{"many small writes", strings.Split("abcdefghijklmnopqrstuvwxyz", ""), "abcd\n[... 18 bytes omitted ...]\nwxyz"},
		{"tail spans writes", []string{"abcde", "fghijkl", "mn"}, "abcd\n[... 6 bytes omitted ...]\nklmn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewCappedBuffer(8)
			var total int64
			for _, w := range tc.writes {
				total += int64(len(w))
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write %q: %d %v", w, n, err)
				}
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if b.Total() != total {
				t.Errorf("total %d, want %d", b.Total(), total)
			}
		})
	}
}
