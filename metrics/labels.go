package metrics

import "sync"

// bounded hands out label values from an open set (playbook names, which users choose) while
// keeping the set of distinct values small: the first max values seen are kept as they are,
// every later one becomes other. Each distinct value is a time series per metric in every
// scraper, so an unbounded label is a memory leak in the monitoring system.
type bounded struct {
	mu    sync.Mutex
	max   int
	other string
	seen  map[string]struct{}
}

func newBounded(max int, other string) *bounded {
	return &bounded{max: max, other: other, seen: make(map[string]struct{}, max)}
}

// value is the label value to use for v.
func (b *bounded) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return b.other
	}
	b.seen[v] = struct{}{}
	return v
}

// outcome is the label value of a success flag.
func outcome(success bool) string {
	if success {
		return "success"
	}
	return "failed"
}
