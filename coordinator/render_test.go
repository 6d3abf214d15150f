package coordinator

import (
	"testing"

	"github.com/fleetbook/fleetbook/playbooks"
)

// An rpc_assert expression [key, operator, value] becomes the assert text the worker parses,
// with a value holding spaces quoted so that it reads back whole.
func TestRPCAssertExpressionBecomesAssert(t *testing.T) {
	for _, tc := range []struct {
		expression []any
		want       string
		reply      map[string]any
	}{
		{[]any{"status", "==", "ok"}, "status==ok", map[string]any{"status": "ok"}},
		{[]any{"load", "<", float64(5)}, "load<5", map[string]any{"load": float64(2)}},
		{[]any{"os", "==", "Red Hat"}, `os=="Red Hat"`, map[string]any{"os": "Red Hat"}},
	} {
		spec, _, err := rpcSpec(playbooks.TypeRPCAssert, map[string]any{
			"action": "facts.get", "nodes": []any{"web1"}, "expression": tc.expression,
		})
		if err != nil {
			t.Fatal(err)
		}
		if spec.Assert != tc.want {
			t.Fatalf("assert %q, want %q", spec.Assert, tc.want)
		}
		check, err := playbooks.ParseAssertion(spec.Assert)
		if err != nil {
			t.Fatalf("the worker cannot parse %q: %v", spec.Assert, err)
		}
		if !check.Eval(tc.reply) {
			t.Fatalf("%s does not hold for %v", spec.Assert, tc.reply)
		}
	}
}
