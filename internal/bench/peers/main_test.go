package main

import (
	"strings"
	"testing"
)

// The peer completes its tasks on both storages and reports a rate in fleetbook bench's shape.
func TestAsyncjobsTasks(t *testing.T) {
	for _, memory := range []bool{false, true} {
		res, note, err := asyncjobsTasks(40, 8, 0, memory)
		if err != nil {
			t.Fatal(err)
		}
		if res.Name != "steps_per_second" || res.Unit != "tasks/s" || res.Value <= 0 || !strings.Contains(note, "40 no-op tasks") {
			t.Errorf("memory %v: result %+v, note %q", memory, res, note)
		}
	}
}
