package playbooks

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Task types. TypeRPC is spelled `mcollective` in Choria documents; both spellings are accepted.
const (
	TypeRPC           = "rpc"
	TypeRPCAssert     = "rpc_assert"
	TypeShell         = "shell"
	TypeWebhook       = "webhook"
	TypeSlack         = "slack"
	TypeGraphiteEvent = "graphite_event"
	TypeData          = "data"
	TypePlaybook      = "playbook"
	TypeLog           = "log"
	// TypeNoop does nothing, on a worker: for trying a flow's hooks and retries without side
	// effects, and for measuring the engine itself.
	TypeNoop = "noop"
)

// typeAliases maps accepted spellings to canonical task types.
var typeAliases = map[string]string{
	"mcollective":        TypeRPC,
	"mcollective_assert": TypeRPCAssert,
}

// Default values of the common task properties.
const (
	// DefaultTries is the number of attempts when `tries` is not given.
	DefaultTries = 1
	// DefaultTrySleep is the pause after a failed attempt when `try_sleep` is not given (Choria: 10 s).
	DefaultTrySleep = 10 * time.Second
)

// Task is one entry of a task list.
type Task struct {
	// Type is the canonical task type, one of the Type* constants.
	Type string
	// TypeAlias is the spelling used in the document when it differs from Type (e.g. "mcollective").
	TypeAlias string
	// Path is the task's field path in the document, like "tasks[2].shell" or
	// "hooks.on_fail[0].slack", for error messages.
	Path string
	// Description is the raw, un-rendered description; default "<type> task".
	Description string
	// Tries is the number of attempts in total; default 1.
	Tries int
	// TrySleep is the pause after a failed attempt when attempts remain; default 10s.
	TrySleep time.Duration
	// PreSleep is the pause before the first attempt; default 0.
	PreSleep time.Duration
	// FailOK makes a failure (after the last try) count as success.
	FailOK bool
	// Timeout bounds one attempt of the task; 0 means the task type's own default. For shell
	// tasks it is also kept in Properties["timeout"] (shell's own key, which may be templated).
	Timeout time.Duration
	// Register names the task's result so later tasks can read it as `tasks.NAME.*`; empty
	// when the task does not register.
	Register string
	// Properties are the remaining type-specific properties, un-rendered, exactly as decoded:
	// string, int, float64, bool, nil, []any and map[string]any.
	Properties map[string]any
	// Line is the YAML line of the task's type key.
	Line int
	// Backoff doubles TrySleep after each failed try, up to MaxTrySleep, with jitter.
	Backoff     bool
	MaxTrySleep time.Duration
	// Plugin is set when Type is a plugin task type (WithPlugins), run by a worker's executable.
	Plugin bool
}

// commonTaskKeys are the keys every task type accepts; they become Task fields.
var commonTaskKeys = map[string]propSpec{
	"description": {kind: kindString},
	"tries":       {kind: kindInt, literal: true, min: 1, hasMin: true},
	"try_sleep":   {kind: kindSeconds, literal: true},
	"pre_sleep":   {kind: kindSeconds, literal: true},
	"fail_ok":     {kind: kindBool, literal: true},
	"timeout":     {kind: kindSeconds, literal: true, gt: true},
	"register":    {kind: kindString, literal: true, pattern: namePattern},
	// backoff doubles try_sleep after every failed try (up to max_try_sleep), with jitter, so
	// retries against a struggling service spread out instead of hammering it in step.
	"backoff":       {kind: kindBool, literal: true},
	"max_try_sleep": {kind: kindSeconds, literal: true, gt: true},
}

// Patterns of string properties; the schema uses them too.
var (
	// namePattern: names the template grammar can reference.
	namePattern = &pattern{re: nameRe, must: "must match [a-zA-Z0-9_-]+ (the template grammar cannot reference it otherwise)"}
	// rpcActionPattern: "agent.action".
	rpcActionPattern = &pattern{re: regexp.MustCompile(`^[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+$`), must: `must be "agent.action"`}
	// dataPathPattern: "store/key"; the key may hold "/".
	dataPathPattern = &pattern{re: regexp.MustCompile(`^[a-zA-Z0-9_-]+/.+$`), must: `must be "store/key"`}
)

func checkAssertExpression(v any) string {
	if l := v.([]any); len(l) != 3 {
		return fmt.Sprintf("must be a list of 3 items [key, operator, value], got %d item(s)", len(l))
	}
	return ""
}

// rpcKeys are the properties of the rpc (mcollective) task.
var rpcKeys = map[string]propSpec{
	"action":           {kind: kindString, required: true, pattern: rpcActionPattern},
	"nodes":            {kind: kindStringList, required: true},
	"properties":       {kind: kindMap},
	"batch_size":       {kind: kindInt, min: 1, hasMin: true},
	"batch_sleep_time": {kind: kindSeconds},
	"silent":           {kind: kindBool},
	"post":             {kind: kindStringList, enum: []string{"summarize"}},
	"assert":           {kind: kindString, check: checkAssert},
	// max_fail_percentage lets the step succeed with up to this share of nodes failed, and stops
	// sending further batches once failures exceed it.
	"max_fail_percentage": {kind: kindAny, check: checkPercent},
	"timeout":             {kind: kindSeconds, gt: true},
}

// taskKeys lists the type-specific property keys of each task type.
var taskKeys = map[string]map[string]propSpec{
	TypeRPC: rpcKeys,
	TypeRPCAssert: {
		"action":           rpcKeys["action"],
		"nodes":            rpcKeys["nodes"],
		"properties":       rpcKeys["properties"],
		"batch_size":       rpcKeys["batch_size"],
		"batch_sleep_time": rpcKeys["batch_sleep_time"],
		"silent":           rpcKeys["silent"],
		"expression":       {kind: kindAny, required: true, check: checkAssertList},
	},
	TypeShell: {
		"command":     {kind: kindString, required: true},
		"cwd":         {kind: kindString},
		"timeout":     {kind: kindSeconds, gt: true},
		"environment": {kind: kindStringMap},
		"nodes":       {kind: kindStringList},
	},
	TypeWebhook: {
		"uri":        {kind: kindURL, required: true},
		"method":     {kind: kindString, enum: []string{"GET", "POST"}},
		"headers":    {kind: kindStringMap},
		"data":       {kind: kindMap},
		"verify_ssl": {kind: kindBool},
		// signing_secret makes the worker sign the request (X-Fleetbook-Signature).
		"signing_secret": {kind: kindString},
	},
	TypeSlack: {
		"token":    {kind: kindString, required: true},
		"channel":  {kind: kindString, required: true},
		"text":     {kind: kindString, required: true},
		"color":    {kind: kindString},
		"username": {kind: kindString},
		// api_url overrides the worker's Slack API base URL for this task.
		"api_url": {kind: kindURL},
	},
	TypeGraphiteEvent: {
		"what":     {kind: kindString, required: true},
		"data":     {kind: kindAny, required: true},
		"graphite": {kind: kindURL, required: true},
		"tags":     {kind: kindStringList},
		"headers":  {kind: kindStringMap},
	},
	TypeData: {
		"action": {kind: kindString, literal: true, required: true, enum: []string{DataRead, DataWrite, DataDelete}},
		"key":    {kind: kindString, required: true, pattern: dataPathPattern},
		"value":  {kind: kindAny},
	},
	TypePlaybook: {
		"name":           {kind: kindString},
		"file":           {kind: kindString, literal: true},
		"inputs":         {kind: kindMap},
		"inherit_inputs": {kind: kindBool, literal: true},
	},
	TypeLog: {
		"message": {kind: kindString, required: true},
		"level":   {kind: kindString, enum: LogTaskLevels},
	},
	TypeNoop: {
		// msg is the message of the task's (successful) result.
		"msg": {kind: kindString},
	},
}

func checkPercent(v any) string {
	f, ok := toSeconds(v) // any non-negative number
	if !ok || f > 100*time.Second {
		return "must be a percentage from 0 to 100, got " + describe(v)
	}
	return ""
}

// TaskTypes returns the canonical task types.
func TaskTypes() []string { return sortedKeys(taskKeys) }

// taskList decodes a task list (the value of `tasks` or `hooks.<name>`).
func (d *decoder) taskList(n *yaml.Node, path string) []Task {
	items, ok := d.seq(n, path, 2)
	if !ok {
		return nil
	}
	var out []Task
	for i, it := range items {
		ipath := indexPath(path, i)
		entries, ok := d.pairs(it, ipath, 3)

		if !ok {
			continue
		}
		if len(entries) == 0 {
			d.probs.add(ipath, it, "a task must be a map of one task type to its properties, got an empty map")
		}
		// Choria loaded every key of a multi-key entry as its own task, in order; so do we.
		for _, e := range entries {
			if t, ok := d.task(e, ipath); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// task decodes one `type: {properties}` entry.
func (d *decoder) task(e pair, path string) (Task, bool) {
	tpath := joinPath(path, e.Key)
	t := Task{Type: e.Key, Tries: DefaultTries, TrySleep: DefaultTrySleep, Line: e.KeyN.Line, Path: tpath, Properties: map[string]any{}}
	if canon, ok := typeAliases[e.Key]; ok {
		t.Type, t.TypeAlias = canon, e.Key
	}
	specs, known := taskKeys[t.Type]
	if !known {
		specs, known = d.pluginTaskKeys(t.Type)
		t.Plugin = known
	}
	if !known {
		d.probs.add(tpath, e.KeyN, "unknown task type %q (known: %s)", e.Key, d.taskSpellings())
		return t, false
	}
	t.Description = e.Key + " task"
	body := resolveAlias(e.Value)
	if body.Kind == yaml.ScalarNode && body.Tag == "!!null" {
		body = &yaml.Node{Kind: yaml.MappingNode, Line: body.Line, Column: body.Column}
	}
	props, ok := d.pairs(body, tpath, 4)
	if !ok {
		return t, false
	}
	good := true
	seen := map[string]bool{}
	for _, p := range props {
		ppath := joinPath(tpath, p.Key)
		v, ok := d.value(p.Value, ppath, 5)
		if !ok {
			good = false
			continue
		}
		seen[p.Key] = true
		_, own := specs[p.Key]
		if spec, ok := commonTaskKeys[p.Key]; ok && !own {
			if !d.fits(spec, v, ppath, p.Value) {
				good = false
				continue
			}
			setCommon(&t, p.Key, v)
			continue
		}
		spec, ok := specs[p.Key]
		if !ok {
			all := allTaskKeys(specs)
			d.probs.add(ppath, p.KeyN, "unknown key %q for a %s task%s (allowed: %s)", p.Key, e.Key, suggest(p.Key, all), keyList(all))
			good = false
			continue
		}
		if !d.fits(spec, v, ppath, p.Value) {
			good = false
		}
		t.Properties[p.Key] = v
		if common, ok := commonTaskKeys[p.Key]; ok && checkValue(common, v) == "" {
			// A type's own key that is also common (shell's timeout): keep both views.
			setCommon(&t, p.Key, v)
		}
	}
	for _, k := range sortedKeys(specs) {
		if specs[k].required && !seen[k] {
			d.probs.add(joinPath(tpath, k), e.KeyN, "required key %q is missing", k)
			good = false
		}
	}
	good = d.taskRules(&t, tpath, e.KeyN) && good
	return t, good
}

// taskRules applies checks that involve more than one property.
func (d *decoder) taskRules(t *Task, path string, n *yaml.Node) bool {
	switch t.Type {
	case TypeShell:
		if probs := checkShellTask(t, &d.shellBytes); len(probs) > 0 {
			d.probs.list = append(d.probs.list, probs...)
			return false
		}
	case TypePlaybook:
		_, hasName := t.Properties["name"]
		_, hasFile := t.Properties["file"]
		if hasName == hasFile {
			d.probs.add(path, n, `exactly one of "name" or "file" must be given`)
			return false
		}
		for _, k := range []string{"file", "name"} {
			// A templated name is never read from disk (only bundled files are), so only literal
			// paths are checked.
			if ref, ok := t.Properties[k].(string); ok && !isTemplate(ref) {
				if err := CheckChildPath(ref); err != nil {
					d.probs.add(joinPath(path, k), n, "%v", err)
					return false
				}
			}
		}
	case TypeData:
		a, _ := t.Properties["action"].(string)
		_, hasValue := t.Properties["value"]
		switch {
		case strings.EqualFold(a, DataWrite) && !hasValue:
			d.probs.add(joinPath(path, "value"), n, `required key "value" is missing (needed by action "write")`)
			return false
		case !strings.EqualFold(a, DataWrite) && hasValue && a != "":
			d.probs.add(joinPath(path, "value"), n, `"value" is only used by action "write", not %q`, a)
			return false
		}
	}
	return true
}

// setCommon stores a checked common property on t.
func setCommon(t *Task, key string, v any) {
	switch key {
	case "description":
		t.Description = v.(string)
	case "tries":
		t.Tries, _ = toInt(v)
	case "try_sleep":
		t.TrySleep, _ = toSeconds(v)
	case "pre_sleep":
		t.PreSleep, _ = toSeconds(v)
	case "fail_ok":
		t.FailOK = v.(bool)
	case "timeout":
		t.Timeout, _ = toSeconds(v)
	case "register":
		t.Register = v.(string)
	case "backoff":
		t.Backoff = v.(bool)
	case "max_try_sleep":
		t.MaxTrySleep, _ = toSeconds(v)
	}
}

// DefaultMaxTrySleep caps the pause between tries with backoff when max_try_sleep is not given.
const DefaultMaxTrySleep = 5 * time.Minute

// RetryDelay is the pause after failed try number attempt (from 1): try_sleep, or with backoff
// try_sleep doubled per earlier failure, capped at max_try_sleep, then reduced by up to a fifth
// at random (jitter in [0,1)), so many runs retrying together do not stay in step.
func (t Task) RetryDelay(attempt int, jitter float64) time.Duration {
	if !t.Backoff || attempt <= 1 {
		return t.TrySleep
	}
	limit := t.MaxTrySleep
	if limit <= 0 {
		limit = DefaultMaxTrySleep
	}
	d := t.TrySleep
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d - time.Duration(float64(d)*0.2*jitter)
}

// allTaskKeys merges the common and type-specific keys.
func allTaskKeys(specs map[string]propSpec) map[string]propSpec {
	all := map[string]propSpec{}
	for k, v := range commonTaskKeys {
		all[k] = v
	}
	for k, v := range specs {
		all[k] = v
	}
	return all
}

// knownTaskSpellings lists task types and their aliases.
func knownTaskSpellings() string {
	all := map[string]bool{}
	for k := range taskKeys {
		all[k] = true
	}
	for k := range typeAliases {
		all[k] = true
	}
	return keyList(all)
}
