package playbooks

import (
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

// TestSealedBucketLiteral: every bucket fleetbook keeps its own state in, and the reserved prefix
// in any case, is refused at Parse naming data_stores.NAME.bucket; the data bucket is not.
func TestSealedBucketLiteral(t *testing.T) {
	names := append([]string{"fleetbook_x", "FLEETBOOK_secrets", "Fleetbook_runs"}, protocol.InternalBuckets...)
	for _, name := range names {
		src := header + "data_stores:\n  s: {type: kv, bucket: " + name + "}\n"
		assertRefused(t, []byte(src), "data_stores.s.bucket", "reserved bucket")
	}
	for _, name := range []string{protocol.DataBucket, "team_data", "fleetbookish"} {
		if _, err := Parse([]byte(header + "data_stores:\n  s: {type: kv, bucket: " + name + "}\n")); err != nil {
			t.Errorf("bucket %s refused: %v", name, err)
		}
	}
}

// TestSealedBucketRenderedFromInputs: a bucket templated with inputs is checked once the inputs
// are known, naming the field, and a sensitive input's value is not quoted.
func TestSealedBucketRenderedFromInputs(t *testing.T) {
	src := header + `inputs:
  b: {type: String}
  hidden: {type: String, sensitive: true, default: x}
data_stores:
  s: {type: kv, bucket: "{{ inputs.b }}"}
  h: {type: kv, bucket: "fleetbook_{{ inputs.hidden }}"}
`
	pb, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pb.ResolveInputs(map[string]any{"b": "fleetbook_secrets", "hidden": "runs"})
	probs := problemsOf(t, err)
	found := map[string]string{}
	for _, p := range probs {
		found[p.Path] = p.Message
	}
	if m := found["data_stores.s.bucket"]; !strings.Contains(m, "reserved bucket") || !strings.Contains(m, "rendered from the inputs") {
		t.Errorf("data_stores.s.bucket: %q (all: %v)", m, probs)
	}
	if m := found["data_stores.h.bucket"]; !strings.Contains(m, `sensitive input "hidden"`) || strings.Contains(m, "fleetbook_runs") {
		t.Errorf("data_stores.h.bucket: %q (all: %v)", m, probs)
	}
	if _, err := pb.ResolveInputs(map[string]any{"b": "team_data", "hidden": "x"}); err == nil {
		t.Error("fleetbook_x was accepted")
	}
	if _, err := pb.ResolveInputs(map[string]any{"b": "team_data", "hidden": "data"}); err != nil {
		t.Errorf("fleetbook_data refused: %v", err)
	}
}

// TestRenderedCountsChecked: a batch_size or batch_sleep_time templated with inputs is checked
// like a literal one once rendered (-7 is refused, not taken as "no batching").
func TestRenderedCountsChecked(t *testing.T) {
	src := header + `inputs:
  n: {type: Integer}
  pause: {type: String, default: "1"}
tasks:
  - rpc:
      action: service.restart
      nodes: [a, b]
      batch_size: "{{ inputs.n }}"
      batch_sleep_time: "{{ inputs.pause }}"
`
	pb, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		given map[string]any
		path  string
		msg   string
	}{
		{map[string]any{"n": -7}, "tasks[0].rpc.batch_size", "at least 1"},
		{map[string]any{"n": 0}, "tasks[0].rpc.batch_size", "at least 1"},
		{map[string]any{"n": 2, "pause": "-3"}, "tasks[0].rpc.batch_sleep_time", "negative"},
		{map[string]any{"n": 2, "pause": "soon"}, "tasks[0].rpc.batch_sleep_time", "number of seconds"},
	} {
		_, err := pb.ResolveInputs(tc.given)
		probs := problemsOf(t, err)
		if len(probs) != 1 || probs[0].Path != tc.path || !strings.Contains(probs[0].Message, tc.msg) {
			t.Errorf("inputs %v: %v", tc.given, probs)
		}
	}
	if _, err := pb.ResolveInputs(map[string]any{"n": 2}); err != nil {
		t.Errorf("batch_size 2: %v", err)
	}
}

// TestNotAPlaybookQuotesNothing: a file that is no playbook (a password file, a binary, a
// key=value config) is refused by line and kind only: no part of its text is in any message.
func TestNotAPlaybookQuotesNothing(t *testing.T) {
	for _, src := range []string{
		"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
		"PASSWORD=hunter2-secret\nTOKEN=abc-secret\n",
		"- hunter2-secret\n- abc\n",
		"42\n",
		"true\n",
		"!custom hunter2-secret\n",
		"\x7fELF\x02\x01\x01hunter2-secret\x00\x00",
	} {
		_, err := Parse([]byte(src))
		if err == nil {
			t.Fatalf("accepted %q", src)
		}
		for _, word := range []string{"root:x", "hunter2", "secret", "daemon", "custom", "ELF"} {
			if strings.Contains(err.Error(), word) && strings.Contains(src, word) {
				t.Errorf("the error quotes %q of the file: %v", word, err)
			}
		}
	}
}

// TestRenderedURLsAndPercentChecked: a webhook URL or a max_fail_percentage templated with inputs
// is checked once rendered, naming the field.
func TestRenderedURLsAndPercentChecked(t *testing.T) {
	src := header + `inputs:
  host: {type: String, default: hooks.example}
  pct: {type: String, default: "10"}
tasks:
  - webhook: {uri: "http://{{ inputs.host }}/x"}
  - rpc: {action: a.b, nodes: [n], max_fail_percentage: "{{ inputs.pct }}"}
`
	pb, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		given      map[string]any
		path, want string
	}{
		{map[string]any{"host": ""}, "tasks[0].webhook.uri", "must name a host"},
		{map[string]any{"pct": "150"}, "tasks[1].rpc.max_fail_percentage", "percentage from 0 to 100"},
	} {
		probs := problemsOf(t, func() error { _, err := pb.ResolveInputs(tc.given); return err }())
		if len(probs) != 1 || probs[0].Path != tc.path || !strings.Contains(probs[0].Message, tc.want) {
			t.Errorf("inputs %v: %v", tc.given, probs)
		}
	}
	if _, err := pb.ResolveInputs(nil); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestInputsSizeLimit: a given value larger than MaxInputsBytes, or inputs larger together, are
// refused naming the (largest) input and the limit, without the value; just under passes.
func TestInputsSizeLimit(t *testing.T) {
	src := header + "inputs:\n  a: {type: String, required: false}\n  b: {type: String, required: false, sensitive: true}\n"
	pb, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 3<<20)
	half := strings.Repeat("y", MaxInputsBytes/2+10)
	for _, tc := range []struct {
		given map[string]any
		path  string
	}{
		{map[string]any{"a": huge}, "inputs.a"},
		{map[string]any{"b": huge}, "inputs.b"},
		{map[string]any{"a": half, "b": half + "z"}, "inputs.b"},
	} {
		probs := problemsOf(t, func() error { _, err := pb.ResolveInputs(tc.given); return err }())
		if len(probs) != 1 || probs[0].Path != tc.path || !strings.Contains(probs[0].Message, "262144 bytes") || strings.Contains(probs[0].Message, "xxx") || strings.Contains(probs[0].Message, "yyy") {
			t.Errorf("%s: %v", tc.path, probs)
		}
	}
	if _, err := pb.ResolveInputs(map[string]any{"a": strings.Repeat("x", MaxInputsBytes-100)}); err != nil {
		t.Errorf("just under the limit: %v", err)
	}
}
