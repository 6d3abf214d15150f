package playbooks

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		task    Task
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{"no backoff", Task{TrySleep: 10 * time.Second}, 4, 0.9, 10 * time.Second},
		{"first retry", Task{TrySleep: time.Second, Backoff: true}, 1, 0, time.Second},
		{"doubles", Task{TrySleep: time.Second, Backoff: true}, 4, 0, 8 * time.Second},
		{"capped", Task{TrySleep: time.Second, Backoff: true, MaxTrySleep: 5 * time.Second}, 10, 0, 5 * time.Second},
		{"default cap", Task{TrySleep: time.Minute, Backoff: true}, 50, 0, DefaultMaxTrySleep},
		{"jitter takes up to a fifth", Task{TrySleep: time.Second, Backoff: true}, 2, 0.5, 1800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.task.RetryDelay(tc.attempt, tc.jitter); got != tc.want {
				t.Errorf("RetryDelay(%d, %v) = %s, want %s", tc.attempt, tc.jitter, got, tc.want)
			}
		})
	}
}

func TestBackoffKeys(t *testing.T) {
	pb, err := Parse([]byte("name: b\nversion: 1.0.0\nauthor: a\ndescription: d\ntasks:\n  - shell:\n      command: x\n      tries: 5\n      try_sleep: 2\n      backoff: true\n      max_try_sleep: 30\n"))
	if err != nil {
		t.Fatal(err)
	}
	if task := pb.Tasks[0]; !task.Backoff || task.MaxTrySleep != 30*time.Second {
		t.Errorf("task %+v", task)
	}
	if _, err := Parse([]byte("name: b\nversion: 1.0.0\nauthor: a\ndescription: d\ntasks:\n  - shell:\n      command: x\n      backoff: yes please\n")); err == nil {
		t.Error("a non-boolean backoff was accepted")
	}
}
