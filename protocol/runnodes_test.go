package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRunNodesRoundTrip(t *testing.T) {
	req := RunNodesRequest{Version: SubmitVersion, RunID: "r1", Seq: 2, Outcome: OutcomeFailed, Search: "web", Offset: 100, Limit: 50}
	resp := RunNodesResponse{
		Version: SubmitVersion, TotalMatching: 3, OK: 7, Failed: 3, NextOffset: 2, Complete: true,
		Nodes: []RunNode{{Identity: "web1", Msg: "no reply"}, {Identity: "web2", Success: true, Data: map[string]any{"v": "1"}}},
	}
	for _, v := range []any{&req, &resp} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(data, back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, back) {
			t.Errorf("round trip of %s: got %+v, want %+v", data, back, v)
		}
	}
	data, _ := json.Marshal(RunNodesResponse{Nodes: []RunNode{}})
	if want := `{"version":0,"nodes":[],"total_matching":0,"ok":0,"failed":0,"complete":false}`; string(data) != want {
		t.Errorf("empty response %s, want %s", data, want)
	}
}
