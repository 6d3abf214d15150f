package process

import (
	"fmt"
	"sync"
)

// CappedBuffer keeps the first and the last bytes written to it, up to a limit, and counts what it
// dropped in between: the start of a command's output says what it did, the end why it stopped.
// It is safe for concurrent writers (a command's stdout and stderr may share it).
type CappedBuffer struct {
	mu      sync.Mutex
	headCap int
	tailCap int
	head    []byte
	// tail holds at least the last tailCap bytes after the head; it grows to twice that before it
	// is compacted, so compaction costs O(1) per byte written.
	tail  []byte
	total int64
}

// NewCappedBuffer returns a buffer that keeps at most limit bytes: half from the start, half from
// the end.
func NewCappedBuffer(limit int) *CappedBuffer {
	return &CappedBuffer{headCap: limit / 2, tailCap: limit - limit/2}
}

// Write implements io.Writer; it never fails.
func (b *CappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.total += int64(n)
	if room := b.headCap - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	if len(p) >= b.tailCap {
		b.tail = append(b.tail[:0], p[len(p)-b.tailCap:]...)
		return n, nil
	}
	b.tail = append(b.tail, p...)
	if len(b.tail) > 2*b.tailCap {
		k := copy(b.tail, b.tail[len(b.tail)-b.tailCap:])
		b.tail = b.tail[:k]
	}
	return n, nil
}

// Total is the number of bytes written, kept or not.
func (b *CappedBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// String returns the kept output, with a marker where bytes were dropped.
func (b *CappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	tail := b.tail
	if len(tail) > b.tailCap {
		tail = tail[len(tail)-b.tailCap:]
	}
	omitted := b.total - int64(len(b.head)) - int64(len(tail))
	if omitted == 0 {
		return string(b.head) + string(tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes omitted ...]\n%s", b.head, omitted, tail)
}
