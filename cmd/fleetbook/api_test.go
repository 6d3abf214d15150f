package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/protocol"
)

// docExample is a `nats req SUBJECT 'BODY'` line of docs/api.md.
var docExample = regexp.MustCompile(`(?m)^nats req (\S+) '(.*)'$`)

// A wire format people can use, against coordinator and worker processes: every `nats req`
// example of docs/api.md works as written; unknown request fields are refused; errors carry the
// micro convention's numeric code with the text; the micro stats count errors and requests, and
// the service announces the build's version.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	f.coordinator("c1", 5*time.Second)
	f.worker("w1", 5*time.Second)
	nc, _ := natstest.Connect(t, f.url)
	req := func(subject, body string) *nats.Msg {
		t.Helper()
		var m *nats.Msg
		natstest.Eventually(t, 30*time.Second, func() error {
			var err error
			m, err = nc.Request(subject, []byte(body), 10*time.Second)
			return err
		})
		return m
	}

	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := docExample.FindAllStringSubmatch(string(doc), -1)
	if len(examples) < 6 {
		t.Fatalf("docs/api.md has %d nats req examples, want one per endpoint", len(examples))
	}
	runID := ""
	for _, ex := range examples {
		subject, body := ex[1], ex[2]
		if runID != "" {
			body = strings.ReplaceAll(body, "RUN_ID", runID)
		}
		m := req(subject, body)
		if code := m.Header.Get(protocol.ErrorCodeHeader); code != "" {
			t.Errorf("docs/api.md example %s: error %s %s", subject, code, m.Header.Get(protocol.ErrorHeader))
			continue
		}
		var reply map[string]any
		if err := json.Unmarshal(m.Data, &reply); err != nil {
			t.Errorf("docs/api.md example %s: reply is not JSON: %v", subject, err)
		}
		if subject == protocol.SubmitSubject {
			runID, _ = reply["run_id"].(string)
		}
	}
	if runID == "" {
		t.Fatal("the submit example gave no run id")
	}

	for _, tc := range []struct{ subject, body, code, text string }{
		{protocol.ListRunsSubject, `{"version":1,"limt":5}`, "400", `BAD_REQUEST: decode request: unknown field "limt"`},
		{protocol.GetRunSubject, `{"version":1,"run_id":"01a23804-2498-7e0a-b98d-90aa24846c01"}`, "404", "NOT_FOUND: no run"},
		{protocol.SubmitSubject, `{"version":1,"idempotency_key":"k","playbook":"name: [x"}`, "400", "INVALID_PLAYBOOK"},
	} {
		m := req(tc.subject, tc.body)
		if got := m.Header.Get(protocol.ErrorCodeHeader); got != tc.code || !strings.HasPrefix(m.Header.Get(protocol.ErrorHeader), tc.text) {
			t.Errorf("%s %s: error %q %q, want %s %q", tc.subject, tc.body, got, m.Header.Get(protocol.ErrorHeader), tc.code, tc.text)
		}
		var apiErr protocol.ErrorResponse
		if json.Unmarshal(m.Data, &apiErr) != nil || apiErr.Code == "" {
			t.Errorf("%s: the body is not the ErrorResponse: %s", tc.subject, m.Data)
		}
	}

	// Stats of every instance: the refusals above are counted as errors.
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("$SRV.STATS."+protocol.ServiceName, inbox, nil); err != nil {
		t.Fatal(err)
	}
	requests, errs := map[string]int{}, map[string]int{}
	for {
		m, err := sub.NextMsg(3 * time.Second)
		if err != nil {
			break // every instance answered within the wait
		}
		var st micro.Stats
		if err := json.Unmarshal(m.Data, &st); err != nil {
			t.Fatal(err)
		}
		for _, ep := range st.Endpoints {
			requests[ep.Name] += ep.NumRequests
			errs[ep.Name] += ep.NumErrors
			if ep.NumRequests > 0 && ep.ProcessingTime <= 0 {
				t.Errorf("endpoint %s: %d requests in no time", ep.Name, ep.NumRequests)
			}
		}
	}
	if errs["list"] < 1 || errs["get"] < 1 || errs["submit"] < 1 || requests["submit"] < 2 {
		t.Errorf("micro stats: requests %v, errors %v; want the refusals counted", requests, errs)
	}
	m := req("$SRV.INFO."+protocol.ServiceName, "")
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "", "--version")
	if want := strings.TrimSpace(strings.TrimPrefix(r.stdout, "fleetbook version ")); info.Version != want || want == "" {
		t.Errorf("service version %q, want the binary's %q", info.Version, want)
	}
}
