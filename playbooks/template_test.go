package playbooks

import (
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"
)

func testScope() Scope {
	start := time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)
	return Scope{
		Inputs:    map[string]any{"cluster": "alpha", "n": 3, "ok": true, "list": []any{"a", "b"}, "m": map[string]any{"k": 1}, "evil": "{{ inputs.cluster }}", "f": 2.5},
		Nodes:     map[string][]string{"web": {"w1", "w2"}},
		Metadata:  map[string]any{"name": "pb", "tags": []any{"x", "y"}},
		Previous:  &PreviousTask{Ran: true, Success: true, Description: "prev", Msg: "done", Data: []any{"d"}, Runtime: 1234 * time.Millisecond},
		StartedAt: start,
		Now:       func() time.Time { return start.Add(90500 * time.Millisecond) },
	}
}

func TestRender(t *testing.T) {
	s := testScope()
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"three braces", "{{{ inputs.cluster }}}", "alpha"},
		{"two braces no spaces", "{{inputs.cluster}}", "alpha"},
		{"input alias", "{{ input.cluster }}", "alpha"},
		{"native int", "{{{ inputs.n }}}", 3},
		{"native bool", "{{ inputs.ok }}", true},
		{"native float", "{{ inputs.f }}", 2.5},
		{"native list", "{{ nodes.web }}", []any{"w1", "w2"}},
		{"native map", "{{ inputs.m }}", map[string]any{"k": 1}},
		{"embedded list", "hosts: {{ nodes.web }}", "hosts: w1, w2"},
		{"embedded map", "m={{ inputs.m }}", `m={"k":1}`},
		{"embedded scalars", "{{ inputs.n }}/{{ inputs.ok }}/{{ inputs.f }}", "3/true/2.5"},
		{"metadata", "{{ metadata.name }}", "pb"},
		{"metadata tags embedded", "tags {{ metadata.tags }}", "tags x, y"},
		{"previous success", "{{ previous_task.success }}", true},
		{"previous description", "{{ previous_task.description }}", "prev"},
		{"previous msg", "{{ previous_task.msg }}", "done"},
		{"previous message", "{{ previous_task.message }}", "done"},
		{"previous data", "{{ previous_task.data }}", []any{"d"}},
		{"previous runtime", "{{ previous_task.runtime }}", 1.23},
		{"utc date", "{{ utc_date(%Y-%m-%d %H:%M) }}", "2024-03-05 14:08"},
		{"quoted date format", `{{ utc_date("%F") }}`, "2024-03-05"},
		{"single quoted date format", `{{ utc_date('%T') }}`, "14:08:39"},
		{"elapsed time", "{{ elapsed_time }}", 90.5},
		{"unknown form left literal", "{{ inputs.cluster | upcase }}", "{{ inputs.cluster | upcase }}"},
		{"unknown form among known", "{{ foo }} {{ inputs.cluster }}", "{{ foo }} alpha"},
		{"single brace literal", "{ inputs.cluster }", "{ inputs.cluster }"},
		{"no second-order evaluation", "{{ inputs.evil }}", "{{ inputs.cluster }}"},
		{"no second-order when embedded", "x {{ inputs.evil }}", "x {{ inputs.cluster }}"},
		{"walks maps and lists, keys untouched", map[string]any{"{{ inputs.cluster }}": []any{"{{ inputs.n }}", 1, nil}},
			map[string]any{"{{ inputs.cluster }}": []any{3, 1, nil}}},
		{"scalars pass through", 42, 42},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.in, s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestRenderDeepCopies(t *testing.T) {
	s := testScope()
	in := map[string]any{"l": []any{"x"}}
	out, _ := Render(in, s)
	out.(map[string]any)["l"].([]any)[0] = "changed"
	if in["l"].([]any)[0] != "x" {
		t.Fatal("Render modified its input")
	}
	v, _ := Render("{{ inputs.list }}", s)
	v.([]any)[0] = "changed"
	if s.Inputs["list"].([]any)[0] != "a" {
		t.Fatal("Render shares input values")
	}
}

func TestRenderUUIDIsFresh(t *testing.T) {
	s := testScope()
	a, _ := RenderString("{{ uuid }}", s)
	b, _ := RenderString("{{ uuid }}", s)
	if a == b || !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(a) {
		t.Fatalf("uuids %q %q", a, b)
	}
}

func TestRenderPreviousFallbacks(t *testing.T) {
	cases := []struct {
		name string
		prev *PreviousTask
		expr string
		want any
	}{
		{"none success", nil, "{{ previous_task.success }}", false},
		{"none msg", nil, "{{ previous_task.msg }}", "No previous task were found"},
		{"none description", nil, "{{ previous_task.description }}", "No previous task were found"},
		{"none data", nil, "{{ previous_task.data }}", []any{}},
		{"none runtime", nil, "{{ previous_task.runtime }}", 0.0},
		{"did not run msg", &PreviousTask{Description: "x"}, "{{ previous_task.msg }}", "Previous task did not run"},
		{"did not run success", &PreviousTask{Success: true}, "{{ previous_task.success }}", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.expr, Scope{Previous: tc.prev})
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v (%v), want %#v", got, err, tc.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	s := testScope()
	cases := []struct {
		name string
		in   any
		want error
	}{
		{"unknown input", "{{ inputs.nope }}", ErrUnknownInput},
		{"unknown node set", "x {{ nodes.db }}", ErrUnknownNodeSet},
		{"unknown metadata", "{{ metadata.owner }}", ErrUnknownMetadata},
		{"nested unknown input", map[string]any{"a": []any{"{{ inputs.nope }}"}}, ErrUnknownInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.in, s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	_, err := Render(map[string]any{"a": []any{"{{ inputs.nope }}"}}, s)
	if err == nil || err.Error() != `a[0]: unknown input "nope"` {
		t.Fatalf("error must name where: %v", err)
	}
}

func TestTemplates(t *testing.T) {
	got := Templates(`{{ inputs.a }} {{{nodes.b}}} {{ metadata.name }} {{ date("%F") }} {{ uuid }} {{ elapsed_time }} {{ what }}`)
	want := []struct {
		kind ExprKind
		name string
	}{{ExprInput, "a"}, {ExprNodes, "b"}, {ExprMetadata, "name"}, {ExprDate, "%F"}, {ExprUUID, ""}, {ExprElapsedTime, ""}, {ExprUnknown, ""}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Name != w.name {
			t.Errorf("expr %d: got %+v, want %v", i, got[i], w)
		}
	}
}

func TestStrftime(t *testing.T) {
	tm := time.Date(2024, 3, 5, 14, 7, 9, 123e6, time.FixedZone("CET", 3600))
	cases := map[string]string{
		"%Y-%m-%d %H:%M:%S": "2024-03-05 14:07:09",
		"%y %b %B %a %A":    "24 Mar March Tue Tuesday",
		"%j|%e|%I%p":        "065| 5|02PM",
		"%Z %z":             "CET +0100",
		"%s":                "1709644029",
		"%F %T.%L":          "2024-03-05 14:07:09.123",
		"100%% %q":          "100% %q",
		"trailing %":        "trailing %",
	}
	for f, want := range cases {
		t.Run(f, func(t *testing.T) {
			if got := Strftime(f, tm); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}
