package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// oneStepBook is the smallest useful playbook: one shell step.
const oneStepBook = `name: one_step
version: "0.1.0"
author: "fleetbook benchmarks"
description: "One shell step"
tasks:
  - shell:
      description: "say hi"
      command: "echo hi"
`

// BenchmarkEmbeddedOneShot measures a whole `fleetbook run --embedded` process of a one-step
// playbook (issue 17's embedded_one_shot_seconds): start, the run, and the shutdown that flushes
// the store. "reused" runs in a data dir that already exists, "fresh" in a new one each time
// (which also makes the credentials setup and the streams).
//
//	go test ./cmd/fleetbook -run '^$' -bench EmbeddedOneShot -benchtime 5x
func BenchmarkEmbeddedOneShot(b *testing.B) {
	dir := b.TempDir()
	book := filepath.Join(dir, "book.yaml")
	if err := os.WriteFile(book, []byte(oneStepBook), 0o600); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, state string) {
		b.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, "run", book, "--embedded", "--data-dir", state)
		cmd.Dir, cmd.Env = dir, testEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("run --embedded: %v\n%s", err, out)
		}
	}
	b.Run("reused", func(b *testing.B) {
		state := filepath.Join(b.TempDir(), "state")
		run(b, state) // the first run makes the data dir; b.Loop starts the timer after it
		for b.Loop() {
			run(b, state)
		}
	})
	b.Run("fresh", func(b *testing.B) {
		parent := b.TempDir()
		n := 0
		for b.Loop() {
			n++
			run(b, filepath.Join(parent, "state"+strconv.Itoa(n)))
		}
	})
}
