package task

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

func TestGraphiteEvent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		extra    map[string]any
		wantTags string
		wantData string
	}{
		{"defaults", map[string]any{"data": "deployed 1.2"}, "fleetbook", "deployed 1.2"},
		{"tags and structured data", map[string]any{"tags": []any{"deploy", "web"}, "data": map[string]any{"rev": "abc"}}, "deploy,web", `{"rev":"abc"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, false, 200, "")
			props := map[string]any{"what": "deploy", "graphite": rc.URL + "/events/", "headers": map[string]any{"Authorization": "Basic eDp5"}}
			for k, v := range tc.extra {
				props[k] = v
			}
			before := time.Now().Unix()
			res := mustExecute(t, testEnv(), propJob(t, protocol.TaskGraphiteEvent, props))
			after := time.Now().Unix()
			if !res.Success || res.Msg != "POST "+rc.URL+"/events/: HTTP 200 OK" {
				t.Errorf("result: %+v", res)
			}
			got := rc.only(t)
			var ev graphiteEvent
			if err := json.Unmarshal(got.body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.What != "deploy" || ev.Tags != tc.wantTags || ev.Data != tc.wantData || ev.When < before || ev.When > after {
				t.Errorf("event %+v (when should be in [%d, %d])", ev, before, after)
			}
			if got.method != "POST" || got.header.Get("Authorization") != "Basic eDp5" ||
				got.header.Get("Content-Type") != "application/json" || got.header.Get(protocol.HTTPRequestIDHeader) != "r1/3/2/0" {
				t.Errorf("request %s %v", got.method, got.header)
			}
		})
	}
}

func TestGraphiteEventFailures(t *testing.T) {
	rc := newReceiver(t, false, 400, "bad event")
	res := mustExecute(t, testEnv(), propJob(t, protocol.TaskGraphiteEvent, map[string]any{"what": "w", "data": "d", "graphite": rc.URL}))
	if res.Success || res.Msg != "POST "+rc.URL+": HTTP 400 Bad Request: bad event" {
		t.Errorf("result: %+v", res)
	}
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"no what", map[string]any{"data": "d", "graphite": "http://g"}, "property what: is required"},
		{"no data", map[string]any{"what": "w", "graphite": "http://g"}, "property data: is required"},
		{"no graphite", map[string]any{"what": "w", "data": "d"}, "property graphite: is required"},
		{"tags map", map[string]any{"what": "w", "data": "d", "graphite": "http://g", "tags": map[string]any{}}, "property tags: must be a list of strings, got a map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustExecute(t, testEnv(), propJob(t, protocol.TaskGraphiteEvent, tc.props))
			if res.Success || res.Msg != tc.want {
				t.Errorf("got %+v, want %q", res, tc.want)
			}
		})
	}
}
