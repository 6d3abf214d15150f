package playbooks

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const inputsDoc = header + `data_stores:
  kv: {type: consul}
inputs:
  name:
    type: String
    validation: ":shellsafe"
  count:
    type: Integer
    required: false
    default: 3
  ratio:
    type: Float
    required: false
  num:
    type: Numeric
    required: false
  flag:
    type: Boolean
  hosts:
    type: Array
    required: false
    validation: "/^web[0-9]+$/"
  colour:
    type: String
    required: false
    validation: [red, green]
  addr:
    type: String
    required: false
    validation: ":ipv4address"
  code:
    type: String
    required: false
    validation: "^[A-Z]{3}$"
  token:
    type: String
    data: kv/token
    sensitive: true
  live:
    type: String
    dynamic: true
    data: kv/live
`

func TestResolveInputs(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	cases := []struct {
		name  string
		given map[string]any
		want  map[string]any
	}{
		{"cli strings are converted", map[string]any{"name": "a", "flag": "yes", "count": "7", "ratio": "1.5", "num": "2", "hosts": "web1, web2"},
			map[string]any{"name": "a", "flag": true, "count": 7, "ratio": 1.5, "num": 2, "hosts": []any{"web1", "web2"}}},
		{"native values", map[string]any{"name": "a", "flag": false, "count": 4.0, "ratio": 2, "num": 2.5, "hosts": []any{"web3"}},
			map[string]any{"name": "a", "flag": false, "count": 4, "ratio": 2.0, "num": 2.5, "hosts": []any{"web3"}}},
		{"json array text", map[string]any{"name": "a", "flag": "0", "hosts": `["web1","web9"]`},
			map[string]any{"name": "a", "flag": false, "count": 3, "hosts": []any{"web1", "web9"}}},
		{"enum ip and bare regex", map[string]any{"name": "a", "flag": true, "colour": "red", "addr": "10.0.0.1", "code": "ABC"},
			map[string]any{"name": "a", "flag": true, "count": 3, "colour": "red", "addr": "10.0.0.1", "code": "ABC"}},
		{"data input given becomes static", map[string]any{"name": "a", "flag": true, "token": "s3cret"},
			map[string]any{"name": "a", "flag": true, "count": 3, "token": "s3cret"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pb.ResolveInputs(tc.given)
			if err != nil {
				t.Fatalf("ResolveInputs: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestResolveInputsRefuses(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	cases := []struct {
		name    string
		given   map[string]any
		path    string
		message string
	}{
		{"unknown input", map[string]any{"name": "a", "flag": true, "nope": 1}, "inputs.nope", `unknown input "nope"`},
		{"integer from bad text", map[string]any{"name": "a", "flag": true, "count": "three"}, "inputs.count", `must be of type integer, got "three"`},
		{"integer from fraction", map[string]any{"name": "a", "flag": true, "count": 1.5}, "inputs.count", "must be of type integer, got 1.5"},
		{"bad boolean", map[string]any{"name": "a", "flag": "maybe"}, "inputs.flag", `must be of type boolean, got "maybe"`},
		{"string given a number", map[string]any{"name": 5, "flag": true}, "inputs.name", "must be of type string, got 5"},
		{"shellsafe", map[string]any{"name": "a; rm -rf /", "flag": true}, "inputs.name", "not shell safe"},
		{"enum", map[string]any{"name": "a", "flag": true, "colour": "blue"}, "inputs.colour", "should be one of red, green"},
		{"regex on array items", map[string]any{"name": "a", "flag": true, "hosts": []any{"web1", "db1"}}, "inputs.hosts", `item 1: "db1" does not match`},
		{"ipv4", map[string]any{"name": "a", "flag": true, "addr": "::1"}, "inputs.addr", "not a valid ipv4address"},
		{"bare regex", map[string]any{"name": "a", "flag": true, "code": "abcd"}, "inputs.code", "does not match"},
		{"bad json array", map[string]any{"name": "a", "flag": true, "hosts": "[web1"}, "inputs.hosts", "invalid JSON array"},
		{"dynamic given", map[string]any{"name": "a", "flag": true, "live": "x"}, "inputs.live", "is dynamic"},
		{"required missing", map[string]any{"flag": true}, "inputs.name", `required input "name" (string) is missing`},
		{"nil counts as missing", map[string]any{"name": nil, "flag": true}, "inputs.name", "is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pb.ResolveInputs(tc.given)
			for _, p := range problemsOf(t, err) {
				if p.Path == tc.path && strings.Contains(p.Message, tc.message) {
					return
				}
			}
			t.Fatalf("no problem %s: %q in %v", tc.path, tc.message, err)
		})
	}
}

func TestResolveInputsCollectsAll(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	_, err := pb.ResolveInputs(map[string]any{"count": "x", "bogus": 1})
	if probs := problemsOf(t, err); len(probs) != 4 {
		t.Fatalf("want 4 problems (bogus, name, count, flag), got %v", err)
	}
}

func TestRequiredRules(t *testing.T) {
	cases := []struct {
		name, decl string
		given      map[string]any
		ok         bool
	}{
		{"required by default", "type: String", nil, false},
		{"default satisfies required", "type: String\n    default: x", nil, true},
		{"false boolean counts as given", "type: Boolean", map[string]any{"x": false}, true},
		{"data binding exempts", "type: String\n    data: kv/x", nil, true},
		{"optional", "type: String\n    required: false", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pb := mustParse(t, header+"data_stores:\n  kv: {type: consul}\ninputs:\n  x:\n    "+tc.decl+"\n")
			_, err := pb.ResolveInputs(tc.given)
			if (err == nil) != tc.ok {
				t.Fatalf("ok=%v, err=%v", tc.ok, err)
			}
		})
	}
}

func TestDefaultsAreCopied(t *testing.T) {
	pb := mustParse(t, header+"inputs:\n  l:\n    type: Array\n    default: [a]\n")
	got, err := pb.ResolveInputs(nil)
	if err != nil {
		t.Fatal(err)
	}
	got["l"].([]any)[0] = "changed"
	if pb.Inputs[0].Default.([]any)[0] != "a" {
		t.Fatal("ResolveInputs must not share the default with the caller")
	}
}

func TestDynamicInputsAndStoreValues(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	if got := pb.DynamicInputs(); !reflect.DeepEqual(got, []string{"token", "live"}) {
		t.Fatalf("dynamic %v", got)
	}
	got, err := pb.ResolveInputs(map[string]any{"name": "a", "flag": true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["token"]; ok {
		t.Fatal("data-bound input without a value must be left to the store")
	}
	if v, err := pb.ValidateInputValue("count", "12"); err != nil || v != 12 {
		t.Fatalf("store value: %v %v", v, err)
	}
	if _, err := pb.ValidateInputValue("colour", "blue"); err == nil {
		t.Fatal("store value must be validated")
	}
	if _, err := pb.ValidateInputValue("nope", "x"); err == nil {
		t.Fatal("unknown input must fail")
	}
}

func TestRedact(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	in := map[string]any{"token": "s3cret", "name": "a", "hosts": []any{"web1"}}
	got := pb.Redact(in)
	if got["token"] != Redacted || got["name"] != "a" || in["token"] != "s3cret" {
		t.Fatalf("redact %v (input %v)", got, in)
	}
	if _, ok := got["live"]; ok {
		t.Fatal("redact must not add keys")
	}
}

func TestValidators(t *testing.T) {
	cases := []struct {
		rule any
		v    any
		ok   bool
	}{
		{":string", "x", true}, {":string", 1, false},
		{":integer", 1, true}, {":integer", 1.5, false},
		{":float", 1, true}, {":float", "1", false},
		{":number", 2.5, true}, {":boolean", false, true}, {":boolean", "no", false},
		{":array", []any{1}, true}, {":hash", map[string]any{}, true}, {":hash", []any{}, false},
		{":shellsafe", "plain-value_1", true}, {":shellsafe", "a && b", false}, {":shellsafe", "`x`", false}, {":shellsafe", "a\nb", false},
		{":ipv4address", "192.168.1.1", true}, {":ipv4address", "300.1.1.1", false},
		{":ipv6address", "fe80::1", true}, {":ipv6address", "10.0.0.1", false}, {":ipaddress", "::1", true},
		{"/^a+$/", "aaa", true}, {"/^a+$/", "ab", false}, {"^[0-9]+$", 42, true},
		{[]any{"a", 1}, 1, true}, {[]any{"a", 1}, "b", false},
	}
	for _, tc := range cases {
		t.Run(describe(tc.rule)+"_"+describe(tc.v), func(t *testing.T) {
			c, msg := compileValidation(tc.rule)
			if msg != "" {
				t.Fatal(msg)
			}
			if got := c.validate(tc.v) == ""; got != tc.ok {
				t.Fatalf("validate(%v) ok=%v, want %v", tc.v, got, tc.ok)
			}
		})
	}
	for _, bad := range []any{":nope", "/(/", []any{}, []any{[]any{1}}, 3} {
		if _, msg := compileValidation(bad); msg == "" {
			t.Errorf("rule %v must be refused", bad)
		}
	}
}

func TestInputTypeSpellings(t *testing.T) {
	for spelling, want := range map[string]string{"String": InputString, ":string": InputString, "Fixnum": InputInteger, ":fixnum": InputInteger,
		"Integer": InputInteger, "Float": InputFloat, ":float": InputFloat, "Numeric": InputNumeric, ":numeric": InputNumeric,
		"Array": InputArray, ":array": InputArray, "Boolean": InputBoolean, ":bool": InputBoolean, ":boolean": InputBoolean} {
		t.Run(spelling, func(t *testing.T) {
			pb := mustParse(t, header+"inputs:\n  x:\n    type: \""+spelling+"\"\n    required: false\n")
			if pb.Inputs[0].Type != want {
				t.Fatalf("got %s", pb.Inputs[0].Type)
			}
		})
	}
}

func TestHashInputAndSensitive(t *testing.T) {
	pb := mustParse(t, header+`data_stores:
  kv1: {type: kv}
inputs:
  labels: {type: Hash, required: false}
  token: {type: String, sensitive: true, validation: "/^tok-[a-z]+$/"}
  keys: {type: Array, sensitive: true, required: false}
  remembered: {type: String, data: kv1/remembered, save: true}
`)
	got, err := pb.ResolveInputs(map[string]any{"labels": `{"a": 1}`, "token": "tok-abc", "keys": []any{"k1", "k22"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["labels"], map[string]any{"a": 1}) {
		t.Fatalf("hash from JSON text: %#v", got["labels"])
	}
	if _, err := pb.ResolveInputs(map[string]any{"labels": "a=1", "token": "tok-abc"}); err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Fatalf("bad hash: %v", err)
	}
	red := pb.Redact(got)
	if red["token"] != Redacted || red["keys"] != Redacted || red["labels"] == Redacted {
		t.Fatalf("redact %v", red)
	}
	if vals := pb.SensitiveValues(map[string]any{"keys": []any{true, "k1"}}); !reflect.DeepEqual(vals, []string{"true, k1", "k1"}) {
		t.Fatalf("booleans are not scrubbed on their own: %q", vals)
	}
	secrets := pb.SensitiveValues(got)
	if !reflect.DeepEqual(secrets, []string{"tok-abc", "k1, k22", "k22", "k1"}) {
		t.Fatalf("secrets %q", secrets)
	}
	out := ScrubValue(map[string]any{"out": []any{"login tok-abc ok", "k22 and k1"}}, secrets)
	if !reflect.DeepEqual(out, map[string]any{"out": []any{"login [redacted] ok", "[redacted] and [redacted]"}}) {
		t.Fatalf("scrub %v", out)
	}
	// A sensitive value that fails validation is not quoted in the error.
	_, err = pb.ResolveInputs(map[string]any{"token": "hunter2"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "inputs.token") {
		t.Fatalf("sensitive validation error: %v", err)
	}
	if _, err := pb.ValidateInputValue("token", "hunter2"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("sensitive store value error: %v", err)
	}
	if !reflect.DeepEqual(pb.StoreInputs(), map[string]string{"remembered": "kv1/remembered"}) {
		t.Fatalf("store inputs %v", pb.StoreInputs())
	}
	_, err = Parse([]byte(header + "inputs:\n  pw: {type: Integer, sensitive: true, default: hunter2}\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("sensitive default error: %v", err)
	}
}

func TestStoreValueFallsBackToDefault(t *testing.T) {
	pb := mustParse(t, header+`data_stores:
  kv1: {type: kv}
inputs:
  colour: {type: String, data: kv1/colour, default: blue, validation: ["blue", "green"]}
  count: {type: Integer, data: kv1/count}
`)
	cases := []struct {
		name, input string
		v           any
		readErr     error
		want        any
		warn, err   string
	}{
		{"good value", "colour", "green", nil, "green", "", ""},
		{"text converted", "count", "7", nil, 7, "", ""},
		{"invalid falls back", "colour", "red", nil, "blue", "not valid", ""},
		{"read error falls back", "colour", nil, errors.New("no such key"), "blue", "could not read kv1/colour: no such key", ""},
		{"no default", "count", "x", nil, nil, "", "inputs.count: has no value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, warn, err := pb.StoreValue(tc.input, tc.v, tc.readErr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err != nil || got != tc.want || !strings.Contains(warn, tc.warn) || (tc.warn == "") != (warn == "") {
				t.Fatalf("got %v %q %v", got, warn, err)
			}
		})
	}
}

func TestSaveWrites(t *testing.T) {
	pb := mustParse(t, header+`data_stores:
  prefs: {type: file, file: /tmp/p.json, format: json}
inputs:
  token: {type: String, data: prefs/token, save: true}
  region: {type: String, data: prefs/region, default: eu}
`)
	given, err := pb.ResolveInputs(map[string]any{"token": "abc", "region": "us"})
	if err != nil {
		t.Fatal(err)
	}
	if got := pb.SaveWrites(given); !reflect.DeepEqual(got, map[string]any{"prefs/token": "abc"}) {
		t.Fatalf("writes %v", got)
	}
	none, _ := pb.ResolveInputs(nil)
	if got := pb.SaveWrites(none); len(got) != 0 {
		t.Fatalf("nothing given, nothing saved: %v", got)
	}
}

func TestRepeatedValueForScalarInput(t *testing.T) {
	pb := mustParse(t, header+"inputs:\n  release: {type: String}\n  servers: {type: Array}\n")
	_, err := pb.ResolveInputs(map[string]any{"release": []any{"1.0", "2.0"}, "servers": []any{"a", "b"}})
	if err == nil || !strings.Contains(err.Error(), "inputs.release: given 2 values, but only Array inputs take several") {
		t.Fatalf("%v", err)
	}
	got, err := pb.ResolveInputs(map[string]any{"release": "1.0", "servers": []any{"a", "b"}})
	if err != nil || !reflect.DeepEqual(got["servers"], []any{"a", "b"}) {
		t.Fatalf("%v %v", got, err)
	}
}
