package playbooks

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestDescribeShowsTheMergedDocument(t *testing.T) {
	pb := mustParse(t, header+`macros:
  hook: &hook
    uri: https://hooks.example.invalid/
    method: POST
inputs:
  token: {type: String, sensitive: true, default: not-for-show, required: false}
  tier: {type: String, validation: [alfa, bravo], description: Tier}
tasks:
  - webhook:
      <<: *hook
      data: {tier: "{{ inputs.tier }}"}
      register: hooked
`)
	d := pb.Describe()
	if d.Inputs[0].Default != Redacted || d.Inputs[1].Required != true || d.Inputs[1].Description != "Tier" {
		t.Fatalf("inputs %+v", d.Inputs)
	}
	task := d.Lists[0].Tasks[0]
	if d.Lists[0].List != ListTasks || task.Register != "hooked" || task.Properties["method"] != "POST" || task.Properties["uri"] != "https://hooks.example.invalid/" {
		t.Fatalf("merge keys must be applied in the description: %+v", task)
	}
	b, err := json.Marshal(d)
	if err != nil || strings.Contains(string(b), "not-for-show") {
		t.Fatalf("json %s %v", b, err)
	}
}

func TestPreviousTaskTypeAndMalformedForms(t *testing.T) {
	v, err := Render("{{ previous_task.type }}", Scope{Previous: &PreviousTask{Ran: true, Type: "shell"}})
	if err != nil || v != "shell" {
		t.Fatalf("%v %v", v, err)
	}
	exprs := Templates("{{ tasks.x.msg }} {{ tasks.x }} {{ foo }} {{ inputs }}")
	got := []string{}
	for _, e := range exprs {
		got = append(got, string(e.Kind)+":"+e.Name+":"+e.Field+":"+strconv.FormatBool(e.Malformed != ""))
	}
	want := []string{"tasks:x:msg:false", "unknown:::true", "unknown:::false", "unknown:::true"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}
