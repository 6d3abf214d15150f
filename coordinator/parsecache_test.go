package coordinator

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// A playbook submitted again is not parsed again, and the runs that share its parsed copy leave
// it exactly as parsed: inputs resolved and saved, stores read, a lock taken, a task registered,
// templates rendered into commands, environments and descriptions, tries, every hook.
func TestParsedPlaybookIsNeverChangedByARun(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	c := e.runCoordinatorOn(nc, WithName("c1"), WithLease(time.Second), WithReconcile(200*time.Millisecond))
	tries := 0
	e.startTestWorker(func(job *protocol.Job) protocol.Result {
		if job.Description == "flaky" && tries < 1 {
			tries++
			return protocol.Result{Msg: "not yet", ExitCode: 1}
		}
		return protocol.Result{Success: true, Msg: "ok " + job.Description, Data: job.Shell.Environment}
	})
	doc := header + "data_stores:\n  ds:\n    type: kv\n" +
		"locks:\n  - ds/upgrade-{{{ inputs.tier }}}\n" +
		"inputs:\n  tier:\n    type: String\n    description: t\n  rev:\n    type: String\n    description: r\n    data: ds/rev\n    save: true\n" +
		"  count:\n    type: Integer\n    description: c\n    default: 3\n" +
		"tasks:\n  - shell:\n      description: \"flaky\"\n      command: \"echo {{{ inputs.tier }}}\"\n      tries: 2\n      try_sleep: 0\n      register: first\n" +
		"      environment:\n        REV: \"{{{ inputs.rev }}}\"\n" +
		"  - log:\n      message: \"first said {{{ tasks.first.msg }}} for {{{ inputs.tier }}} x{{{ inputs.count }}}\"\n" +
		"hooks:\n  pre_task:\n" + shell("pre {{{ inputs.tier }}}") + "  on_success:\n" + shell("yay") + "  post_book:\n" + shell("end")

	for i, tier := range []string{"alfa", "bravo", "charlie"} {
		id := e.submit(doc, map[string]any{"tier": tier, "rev": fmt.Sprintf("1.%d", i)})
		if r := e.waitFinal(id, 20*time.Second); r.Status != protocol.StatusSuccess {
			t.Fatalf("run %d: %s: %s", i, r.Status, r.Error)
		}
	}
	cached, ok := c.parsed.get(doc)
	if !ok {
		t.Fatal("the playbook submitted three times is not kept parsed")
	}
	if again, _ := c.validatePlaybook(doc); again != cached {
		t.Error("a playbook submitted again was parsed again")
	}
	fresh, err := ValidatePlaybook([]byte(doc), c.opts.parse...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cached, fresh) {
		t.Errorf("three runs changed the parsed playbook they shared:\n got %+v\nwant %+v", cached, fresh)
	}
}

// A document that fails validation is never kept: each submission reports its problems.
func TestInvalidPlaybookIsNotKept(t *testing.T) {
	e := newEnv(t, kvstore.Config{})
	nc, _ := natstest.Connect(t, e.url)
	c := e.runCoordinatorOn(nc, WithName("c1"))
	doc := header + "tasks:\n  - shell:\n      comand: true\n"
	for range 2 {
		_, err := e.client.Submit(context.Background(), protocol.SubmitRequest{Playbook: doc, IdempotencyKey: t.Name() + time.Now().String()})
		if err == nil {
			t.Fatal("an invalid playbook was accepted")
		}
	}
	if _, ok := c.parsed.get(doc); ok {
		t.Error("an invalid playbook was kept parsed")
	}
}

// The cache keeps at most maxParsed playbooks and maxParsedBytes of their text, dropping the
// least recently used.
func TestParseCacheBounds(t *testing.T) {
	var p parseCache
	for i := range maxParsed + 10 {
		p.put(fmt.Sprintf("doc %d", i), nil)
		if i == 0 {
			continue
		}
		p.get("doc 0") // kept in use, so never the least recently used
	}
	if len(p.entries) != maxParsed {
		t.Errorf("%d entries, want %d", len(p.entries), maxParsed)
	}
	if _, ok := p.get("doc 0"); !ok {
		t.Error("the playbook in use was evicted")
	}
	if _, ok := p.get("doc 1"); ok {
		t.Error("the least recently used playbook was kept")
	}
	big := string(make([]byte, maxParsedBytes/2+1))
	p.put(big, nil)
	p.put(big+"x", nil)
	if p.bytes > maxParsedBytes {
		t.Errorf("%d bytes kept, bound %d", p.bytes, maxParsedBytes)
	}
	if _, ok := p.get(big + "x"); !ok {
		t.Error("the newest document was not kept")
	}
}
