package playbooks

import (
	"fmt"
	"strings"
)

// The expression languages of a playbook — rpc `assert` expressions, rpc_assert `expression`
// lists, and the identities, classes, agents, facts and compound filters of fleet node sets —
// are parsed here, never only where they are used, so that a broken one is refused before
// anything runs:
//
//   - Parse checks every expression written literally (checkAssert, checkMatchers,
//     checkFactFilters, checkCompound are propSpec checks of those keys);
//   - ResolveInputs checks every expression that is templated only with inputs and metadata,
//     rendered with the run's inputs (checkRenderedExpressions);
//   - an expression templated with run-time values (nodes, earlier tasks' results, dates) can
//     only be checked once rendered: the step that uses it fails, with the same message.

// checkAssert is the propSpec check of an rpc task's `assert`.
func checkAssert(v any) string {
	s, _ := v.(string)
	if isTemplate(s) {
		return ""
	}
	if _, err := parseAssertion(s); err != nil {
		return "is not a valid assert expression: " + err.Error()
	}
	return ""
}

// checkAssertList is the propSpec check of an rpc_assert task's `expression`: a list
// [key, operator, value] that must read as an assert expression.
func checkAssertList(v any) string {
	l, ok := v.([]any)
	if !ok {
		return "must be a list [key, operator, value], got " + describe(v)
	}
	if msg := checkAssertExpression(l); msg != "" {
		return msg
	}
	for _, it := range l {
		switch x := it.(type) {
		case map[string]any, []any:
			return "items must be scalars [key, operator, value], got " + describe(x)
		case string:
			if isTemplate(x) {
				return ""
			}
		}
	}
	if _, err := parseAssertion(AssertionText(l[0], l[1], l[2])); err != nil {
		return fmt.Sprintf("is not a valid assert expression (%s): %v", AssertionText(l[0], l[1], l[2]), err)
	}
	return ""
}

// checkMatchers returns the propSpec check of a list of names or /regular expressions/
// (identities, classes, agents); what names an entry in messages.
func checkMatchers(what string) func(v any) string {
	return func(v any) string {
		return checkItems(v, func(s string) error {
			_, err := parseTextMatcher(what, s)
			return err
		})
	}
}

// checkFactFilters is the propSpec check of a fleet node set's `facts`.
func checkFactFilters(v any) string {
	return checkItems(v, func(s string) error {
		_, err := parseFactFilter(s)
		return err
	})
}

// checkItems applies parse to every untemplated string of a string list (a single string
// counts as a list of one, as a rendered template may give one).
func checkItems(v any, parse func(string) error) string {
	switch x := v.(type) {
	case string:
		if !isTemplate(x) {
			if err := parse(x); err != nil {
				return err.Error()
			}
		}
	case []any:
		for i, it := range x {
			s, _ := it.(string)
			if isTemplate(s) {
				continue
			}
			if err := parse(s); err != nil {
				return fmt.Sprintf("item %d: %v", i, err)
			}
		}
	}
	return ""
}

// checkCompound is the propSpec check of a fleet node set's `compound`.
func checkCompound(v any) string {
	s, _ := v.(string)
	if isTemplate(s) || strings.TrimSpace(s) == "" {
		return ""
	}
	if _, err := parseCompound(s); err != nil {
		return "is not a valid compound filter: " + err.Error()
	}
	return ""
}

// expressionKeys are the keys holding expressions, per node set and task type, with their
// checks: checkRenderedExpressions renders the templated ones with the inputs and applies them.
var expressionKeys = map[string]map[string]func(any) string{
	NodesFleet:       fleetExpressionKeys,
	NodesMcollective: fleetExpressionKeys,
	TypeRPC:          {"assert": checkAssert},
	TypeRPCAssert:    {"expression": checkAssertList},
	NodesConsul:      {"address": checkConsulAddress},
	NodesHTTP:        {"path": checkJSONPath},
}

// fleetExpressionKeys are the filter keys of the fleet and mcollective node sets.
var fleetExpressionKeys = map[string]func(any) string{
	"identities": checkMatchers("identities entry"),
	"classes":    checkMatchers("classes entry"),
	"agents":     checkMatchers("agents entry"),
	"facts":      checkFactFilters,
	"compound":   checkCompound,
}

// checkRenderedExpressions renders the templated expressions of the playbook that read only
// inputs and metadata with inputs, and checks them as Parse checks literal ones. An expression
// that reads anything else (nodes, task results, dates, an input read from a data store at run
// time) is left to the step that uses it. A message never quotes a rendered value that holds a
// sensitive input.
func (p *Playbook) checkRenderedExpressions(inputs map[string]any, probs *problems) {
	scope := Scope{Inputs: inputs, Metadata: p.Metadata()}
	check := func(path string, line int, key string, v any, checkFn func(any) string) {
		p.checkRenderedValue(scope, probs, joinPath(path, key), line, v, checkFn)
	}
	for _, ns := range p.Nodes {
		keys := expressionKeys[ns.Type]
		for _, k := range sortedKeys(keys) {
			if v, ok := ns.Properties[k]; ok {
				check(joinPath("nodes", ns.Name), ns.Line, k, v, keys[k])
			}
		}
	}
	for _, ln := range ListNames() {
		for _, t := range p.List(ln) {
			keys := expressionKeys[t.Type]
			for _, k := range sortedKeys(keys) {
				if v, ok := t.Properties[k]; ok {
					check(t.Path, t.Line, k, v, keys[k])
				}
			}
			// The counts, durations and URLs Parse checks when they are literal (batch_size -7
			// must not silently mean "no batching").
			for _, k := range sortedKeys(taskKeys[t.Type]) {
				spec := taskKeys[t.Type][k]
				_, isExpr := keys[k]
				if v, ok := t.Properties[k]; ok && !isExpr && (checkedOnceRendered(spec.kind) || spec.check != nil) {
					check(t.Path, t.Line, k, v, func(v any) string { return checkKind(spec, v, false) })
				}
			}
		}
	}
	p.checkRenderedStores(check)
}

// checkedOnceRendered reports whether a templated value of kind is checked with the inputs, as a
// literal one is at Parse: counts, durations and URLs, whose rendered text must still be one.
func checkedOnceRendered(k valueKind) bool { return k == kindInt || k == kindSeconds || k == kindURL }

// checkRenderedValue renders v, a value templated with nothing but inputs and metadata, and adds
// checkFn's problem at path. A value that reads anything else (nodes, task results, dates, an
// input read from a data store at run time) is left to the step that uses it. The message never
// quotes a rendered value that holds a sensitive input.
func (p *Playbook) checkRenderedValue(scope Scope, probs *problems, path string, line int, v any, checkFn func(any) string) {
	refs, ok := p.inputOnlyTemplates(v, scope.Inputs)
	if !ok || len(refs) == 0 {
		return
	}
	rendered, err := Render(v, scope)
	if err != nil {
		return
	}
	msg := checkFn(rendered)
	if msg == "" {
		return
	}
	msg += " (rendered from the inputs)"
	for _, name := range refs {
		if in, _ := p.Input(name); in.Sensitive {
			msg = fmt.Sprintf("is not valid once rendered with the inputs (not shown: it uses the sensitive input %q)", name)
			break
		}
	}
	probs.list = append(probs.list, Problem{Path: path, Line: line, Message: msg})
}

// inputOnlyTemplates lists the inputs that the templates in v read, and reports whether they
// read nothing but inputs present in inputs and metadata.
func (p *Playbook) inputOnlyTemplates(v any, inputs map[string]any) ([]string, bool) {
	var refs []string
	ok := true
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, e := range Templates(x) {
				switch e.Kind {
				case ExprInput:
					if _, has := inputs[e.Name]; !has {
						ok = false
					}
					refs = append(refs, e.Name)
				case ExprMetadata:
				default:
					ok = false
				}
			}
		case []any:
			for _, it := range x {
				walk(it)
			}
		case map[string]any:
			for _, it := range x {
				walk(it)
			}
		}
	}
	walk(v)
	return refs, ok
}
