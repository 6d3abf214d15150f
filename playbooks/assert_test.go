package playbooks

import (
	"errors"
	"strings"
	"testing"
)

func TestAssert(t *testing.T) {
	data := map[string]any{
		"idling": true, "enabled": false, "status": "OK", "load": float64(3), "revision": "1.10.0",
		"summary": map[string]any{"resources": map[string]any{"failed": float64(0)}},
		"list":    []any{"a", "b"},
		"count":   "12",
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"idling=true", true},
		{"idling=false", false},
		{"enabled=false and idling=true", true},
		{"idling=true and enabled=true", false},
		{"enabled=true or idling=true", true},
		{"enabled=true || status==OK", true},
		{"idling=true && !(status=OK)", false},
		{"not status!=OK", true},
		{"status = OK", true},
		{"status=\"OK\"", true},
		{"status='WARNING'", false},
		{"load<5", true},
		{"load>=3 and load<=3", true},
		{"load>3", false},
		{"load!=3", false},
		{"count>9", true}, // numeric strings compare as numbers
		{"revision=~^1\\.1", true},
		{"revision=~/^2\\./", false},
		{"summary.resources.failed=0", true},
		{"list.1=b", true},
		{"list.5=b", false},
		{"missing=1", false},
		{"missing!=1", false}, // a missing key fails every comparison
		{"(enabled=true or load<5) and status=OK", true},
		{"idling=true or load>5 and status=WARNING", true}, // and binds tighter
		{"AND=1 or idling=true", true},                     // keyword only as a whole token
	} {
		t.Run(tc.expr, func(t *testing.T) {
			a, err := ParseAssertion(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Eval(data); got != tc.want {
				t.Fatalf("%s = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestAssertSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "empty expression"},
		{"idling", "expected an operator"},
		{"idling=", "expected a value"},
		{"a=1 and", "expected a key"},
		{"(a=1", "missing ')'"},
		{"a=1)", "unexpected \")\""},
		{"a=~(", "regular expression"},
		{"a='x", "unterminated '"},
		{"=1", "expected a key"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := ParseAssertion(tc.expr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidExpression) {
				t.Fatalf("err = %v, want it to match ErrInvalidExpression", err)
			}
		})
	}
}

func TestAssertionText(t *testing.T) {
	for _, tc := range []struct {
		key, op, value any
		want           string
	}{
		{"status", "==", "OK", "status==OK"},
		{"load", "<", float64(3), "load<3"},
		{"idling", "=", true, "idling=true"},
		{"os", "=", "Red Hat", `os="Red Hat"`},
		{"msg", "=", `say "hi"`, `msg='say "hi"'`},
		{"revision", "=~", "/^1\\./", "revision=~/^1\\./"},
		{"name", "=", "", `name=""`},
		// Choria's documents write keys as Ruby symbols.
		{":idling", "==", true, "idling==true"},
		{":summary.failed", "<", float64(1), "summary.failed<1"},
	} {
		got := AssertionText(tc.key, tc.op, tc.value)
		if got != tc.want {
			t.Errorf("AssertionText(%v, %v, %v) = %s, want %s", tc.key, tc.op, tc.value, got, tc.want)
		}
		if _, err := ParseAssertion(got); err != nil {
			t.Errorf("AssertionText(%v, %v, %v) = %s does not parse: %v", tc.key, tc.op, tc.value, got, err)
		}
	}
}
