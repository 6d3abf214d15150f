package playbooks

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// PreviousTask is what templates can read about the last task result (`previous_task.*`).
type PreviousTask struct {
	// Ran is false when the task did not run.
	Ran bool
	// Success is the task outcome.
	Success bool
	// Description is the rendered task description.
	Description string
	// Msg is the result message.
	Msg string
	// Data is the result data (usually a list).
	Data any
	// Runtime is how long the task ran.
	Runtime time.Duration
	// Type is the task type (e.g. "shell").
	Type string
}

// Scope holds the values templates can read.
type Scope struct {
	// Inputs are the resolved input values by name.
	Inputs map[string]any
	// Nodes are the discovered node sets by name.
	Nodes map[string][]string
	// Metadata is the playbook metadata (see Playbook.Metadata).
	Metadata map[string]any
	// Previous is the last task result; nil when no task ran yet.
	Previous *PreviousTask
	// Registered holds the results of tasks with `register: NAME`, by NAME, read as
	// `tasks.NAME.FIELD`. The runner adds a task's final result (after its last try) when the
	// task ends; a name that is absent reads as a task that did not run.
	Registered map[string]PreviousTask
	// StartedAt is when the run started, for elapsed_time.
	StartedAt time.Time
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (s Scope) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ExprKind is the kind of a template expression.
type ExprKind string

// Template expression kinds.
const (
	ExprInput        ExprKind = "inputs"
	ExprNodes        ExprKind = "nodes"
	ExprMetadata     ExprKind = "metadata"
	ExprPreviousTask ExprKind = "previous_task"
	ExprDate         ExprKind = "date"
	ExprUTCDate      ExprKind = "utc_date"
	ExprUUID         ExprKind = "uuid"
	ExprElapsedTime  ExprKind = "elapsed_time"
	// ExprTask reads a registered task result: tasks.NAME.FIELD.
	ExprTask ExprKind = "tasks"
	// ExprUnknown is a `{{ ... }}` form the grammar does not know; it is left as literal text.
	ExprUnknown ExprKind = "unknown"
)

// Expr is one template occurrence in a string.
type Expr struct {
	// Text is the whole occurrence, braces included.
	Text string
	// Kind says what the expression reads.
	Kind ExprKind
	// Name is the input, node set or metadata key, the previous_task field, the registered
	// task name or the date format.
	Name string
	// Field is the result field of an ExprTask (success, msg, data, ...).
	Field string
	// Malformed, for an ExprUnknown that starts like a reference (inputs., nodes., tasks., ...),
	// says what is wrong with it; validation refuses such forms instead of leaving them literal.
	Malformed string
	// Start and End are the byte offsets of Text in the string.
	Start, End int
}

// resultFields are the fields of previous_task and tasks.NAME.
const resultFields = `success|description|msg|message|data|runtime|type`

// noPreviousTask is Choria's text for previous_task values when no task ran yet.
const noPreviousTask = "No previous task were found"

var (
	tplRe      = regexp.MustCompile(`\{\{\{?\s*([^{}]*?)\s*\}\}\}?`)
	inputExpr  = regexp.MustCompile(`^inputs?\.([a-zA-Z0-9_-]+)$`)
	nodesExpr  = regexp.MustCompile(`^nodes\.([a-zA-Z0-9_-]+)$`)
	metaExpr   = regexp.MustCompile(`^metadata\.([a-zA-Z0-9_-]+)$`)
	prevExpr   = regexp.MustCompile(`^previous_task\.(` + resultFields + `)$`)
	taskExpr   = regexp.MustCompile(`^tasks\.([a-zA-Z0-9_-]+)\.(` + resultFields + `)$`)
	refRootRe  = regexp.MustCompile(`^(inputs?|nodes|metadata|previous_task|tasks)\b`)
	dateExpr   = regexp.MustCompile(`^(utc_)?date\(\s*(.+?)\s*\)$`)
	uuidExpr   = regexp.MustCompile(`^uuid$`)
	elapsedExp = regexp.MustCompile(`^elapsed_time$`)
)

// Templates lists the template expressions used in str, in order. Forms the grammar does not know
// are listed with Kind ExprUnknown.
func Templates(str string) []Expr {
	var out []Expr
	for _, m := range tplRe.FindAllStringSubmatchIndex(str, -1) {
		out = append(out, parseExpr(str[m[0]:m[1]], str[m[2]:m[3]], m[0], m[1]))
	}
	return out
}

// parseExpr classifies the expression body of one occurrence.
func parseExpr(text, body string, start, end int) Expr {
	e := Expr{Text: text, Kind: ExprUnknown, Start: start, End: end}
	if m := inputExpr.FindStringSubmatch(body); m != nil {
		e.Kind, e.Name = ExprInput, m[1]
	} else if m := nodesExpr.FindStringSubmatch(body); m != nil {
		e.Kind, e.Name = ExprNodes, m[1]
	} else if m := metaExpr.FindStringSubmatch(body); m != nil {
		e.Kind, e.Name = ExprMetadata, m[1]
	} else if m := prevExpr.FindStringSubmatch(body); m != nil {
		e.Kind, e.Name = ExprPreviousTask, m[1]
	} else if m := taskExpr.FindStringSubmatch(body); m != nil {
		e.Kind, e.Name, e.Field = ExprTask, m[1], m[2]
	} else if m := dateExpr.FindStringSubmatch(body); m != nil {
		f := m[2]
		if len(f) >= 2 && (f[0] == '"' || f[0] == '\'') && f[len(f)-1] == f[0] {
			f = f[1 : len(f)-1]
		}
		e.Kind, e.Name = ExprDate, f
		if m[1] != "" {
			e.Kind = ExprUTCDate
		}
	} else if uuidExpr.MatchString(body) {
		e.Kind = ExprUUID
	} else if elapsedExp.MatchString(body) {
		e.Kind = ExprElapsedTime
	} else if m := refRootRe.FindStringSubmatch(body); m != nil {
		e.Malformed = malformedHint(m[1])
	}
	return e
}

// malformedHint says what a reference starting with root should look like.
func malformedHint(root string) string {
	switch root {
	case "input", "inputs":
		return "an input reference is inputs.NAME"
	case "nodes":
		return "a node set reference is nodes.NAME"
	case "metadata":
		return "a metadata reference is metadata.KEY"
	case "previous_task":
		return "a previous task reference is previous_task.FIELD, FIELD one of " + strings.ReplaceAll(resultFields, "|", ", ")
	}
	return "a registered task reference is tasks.NAME.FIELD, FIELD one of " + strings.ReplaceAll(resultFields, "|", ", ")
}

// Render walks v (string, []any, map[string]any; other scalars pass through), deep-copies it, and
// renders every string.
//
// A string that is exactly one template yields the native value (list, number, bool, map);
// templates embedded in other text become text (lists joined with ", ", maps as JSON, other values
// in their plain form). Map keys are not rendered. Unknown forms are left literal. An unknown
// input, node set or metadata key is an error naming it. Rendered output is never rendered again,
// so a value containing "{{ inputs.x }}" stays literal.
func Render(v any, s Scope) (any, error) {
	return render(v, s, "")
}

func render(v any, s Scope, path string) (any, error) {
	switch x := v.(type) {
	case string:
		out, err := renderValue(x, s)
		if err != nil && path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return out, err
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			r, err := render(e, s, indexPath(path, i))
			if err != nil {
				return nil, err
			}
			l[i] = r
		}
		return l, nil
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			r, err := render(e, s, indexPath(path, i))
			if err != nil {
				return nil, err
			}
			l[i] = r
		}
		return l, nil
	case map[string]any:
		m := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			r, err := render(x[k], s, joinPath(path, k))
			if err != nil {
				return nil, err
			}
			m[k] = r
		}
		return m, nil
	}
	return v, nil
}

// RenderString renders str to text; every template becomes its text form.
func RenderString(str string, s Scope) (string, error) {
	return renderText(str, s, func(v any) (string, error) { return textOf(v), nil })
}

// renderValue renders one string, keeping the native type of a whole-string template.
func renderValue(str string, s Scope) (any, error) {
	exprs := Templates(str)
	if len(exprs) == 1 && exprs[0].Start == 0 && exprs[0].End == len(str) && exprs[0].Kind != ExprUnknown {
		return evaluate(exprs[0], s)
	}
	return RenderString(str, s)
}

// renderText replaces every known template in str by replace(value), in one pass.
func renderText(str string, s Scope, replace func(any) (string, error)) (string, error) {
	var b strings.Builder
	last := 0
	for _, e := range Templates(str) {
		if e.Kind == ExprUnknown {
			continue
		}
		v, err := evaluate(e, s)
		if err != nil {
			return "", err
		}
		r, err := replace(v)
		if err != nil {
			return "", err
		}
		b.WriteString(str[last:e.Start])
		b.WriteString(r)
		last = e.End
	}
	b.WriteString(str[last:])
	return b.String(), nil
}

// evaluate returns the value of one expression.
func evaluate(e Expr, s Scope) (any, error) {
	switch e.Kind {
	case ExprInput:
		v, ok := s.Inputs[e.Name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownInput, e.Name)
		}
		return deepCopy(v), nil
	case ExprNodes:
		ns, ok := s.Nodes[e.Name]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownNodeSet, e.Name)
		}
		l := make([]any, len(ns))
		for i, n := range ns {
			l[i] = n
		}
		return l, nil
	case ExprMetadata:
		if !isMetadataKey(e.Name) {
			return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownMetadata, e.Name, strings.Join(MetadataKeys, ", "))
		}
		v, ok := s.Metadata[e.Name]
		if !ok {
			return "", nil
		}
		return deepCopy(v), nil
	case ExprPreviousTask:
		return previousValue(s.Previous, e.Name), nil
	case ExprTask:
		if r, ok := s.Registered[e.Name]; ok {
			return previousValue(&r, e.Field), nil
		}
		return previousValue(&PreviousTask{Description: e.Name}, e.Field), nil
	case ExprDate:
		return Strftime(e.Name, s.now().Local()), nil
	case ExprUTCDate:
		return Strftime(e.Name, s.now().UTC()), nil
	case ExprUUID:
		return uuid.NewString(), nil
	case ExprElapsedTime:
		if s.StartedAt.IsZero() {
			return 0.0, nil
		}
		return round2(s.now().Sub(s.StartedAt).Seconds()), nil
	}
	return e.Text, nil
}

// previousValue implements previous_task.FIELD with Choria's fallbacks.
func previousValue(p *PreviousTask, field string) any {
	switch field {
	case "success":
		return p != nil && p.Ran && p.Success
	case "description":
		if p == nil {
			return noPreviousTask
		}
		return p.Description
	case "msg", "message":
		if p == nil {
			return noPreviousTask
		}
		if !p.Ran {
			return "Previous task did not run"
		}
		return p.Msg
	case "data":
		if p == nil || p.Data == nil {
			return []any{}
		}
		return deepCopy(p.Data)
	case "runtime":
		if p == nil {
			return 0.0
		}
		return round2(p.Runtime.Seconds())
	case "type":
		if p == nil {
			return ""
		}
		return p.Type
	}
	return nil
}

func isMetadataKey(k string) bool {
	for _, m := range MetadataKeys {
		if m == k {
			return true
		}
	}
	return false
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// textOf is the text form of a value embedded in a string: lists joined with ", ", maps as JSON,
// null as "", other values in their plain form.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []string:
		return strings.Join(x, ", ")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = textOf(e)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprintf("%v", x)
		}
		return string(b)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprintf("%v", v)
}
