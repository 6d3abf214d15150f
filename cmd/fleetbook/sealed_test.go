package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// TestSealedBucketRenderedAtRunTime: a data store whose bucket is rendered at run time (from an
// input read from a data store, so validation cannot know it) into fleetbook_secrets fails its
// step in the worker, naming the bucket, and nothing of the secrets bucket reaches the report or
// the events. The same bucket rendered from a given input is refused at submit.
func TestSealedBucketRenderedAtRunTime(t *testing.T) {
	s := newStack(t)
	_, js := natstest.Connect(t, s.url)
	ctx := context.Background()
	canary := fmt.Sprintf("canary-%d", time.Now().UnixNano())
	put := func(bucket, key, value string) error {
		kv, err := js.KeyValue(ctx, bucket) // provisioned by the services as they start
		if err == nil {
			_, err = kv.Put(ctx, key, []byte(value))
		}
		return err
	}
	natstest.Eventually(t, 60*time.Second, func() error { return put(protocol.SecretsBucket, "victim", `"`+canary+`"`) })
	natstest.Eventually(t, 60*time.Second, func() error { return put(protocol.DataBucket, "suffix", `"secrets"`) })
	doc := stackHeader + "data_stores:\n  plain: {type: kv}\n  s: {type: kv, bucket: \"fleetbook_{{ inputs.suffix }}\"}\n" +
		"inputs:\n  suffix: {type: String, data: plain/suffix}\n" +
		"tasks:\n  - data: {action: read, key: s/victim}\n  - log: {message: \"read {{{ previous_task.data }}}\"}\n"

	r := s.run(doc, nil)
	if r.Status != protocol.StatusFailed || len(r.Tasks) == 0 {
		t.Fatalf("run %s: %+v", r.Status, r.Tasks)
	}
	if msg := r.Tasks[0].Msg; !strings.Contains(msg, "reserved bucket") || !strings.Contains(msg, protocol.SecretsBucket) {
		t.Errorf("step message %q does not name the refused bucket", msg)
	}
	report, _ := json.Marshal(r)
	if strings.Contains(string(report), canary) {
		t.Errorf("the report holds the secret: %s", report)
	}
	var events strings.Builder
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := s.client.Follow(fctx, r.ID, time.Second, func(e protocol.Event) {
		b, _ := json.Marshal(e)
		events.Write(b)
	}); err != nil {
		t.Fatal(err)
	}
	if events.Len() == 0 || strings.Contains(events.String(), canary) {
		t.Errorf("events (%d bytes) hold the secret or are missing", events.Len())
	}

	given := stackHeader + "data_stores:\n  s: {type: kv, bucket: \"fleetbook_{{ inputs.suffix }}\"}\n" +
		"inputs:\n  suffix: {type: String}\ntasks:\n  - data: {action: read, key: s/victim}\n"
	_, err := s.client.Submit(fctx, protocol.SubmitRequest{Playbook: given, Inputs: map[string]any{"suffix": "secrets"}, IdempotencyKey: "given-" + canary})
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) || !apiErr.Refused() || !strings.Contains(apiErr.Error(), "data_stores.s.bucket") {
		t.Fatalf("submit with a given input rendering to %s: %v", protocol.SecretsBucket, err)
	}
}
