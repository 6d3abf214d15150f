package playbooks

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// validator checks an input value against an input's `validation` rule.
type validator struct {
	named string         // ":name" rules, without the colon
	re    *regexp.Regexp // "/re/" and bare regex rules
	enum  []any          // list rules
}

// namedValidators are the `:name` rules understood (Choria's type checks and stock plugins).
var namedValidators = map[string]bool{
	"string": true, "integer": true, "float": true, "number": true, "boolean": true,
	"array": true, "hash": true, "shellsafe": true, "ipv4address": true, "ipv6address": true,
	"ipaddress": true,
}

// compileValidation turns a raw `validation` value into a validator, or returns a message.
func compileValidation(v any) (*validator, string) {
	switch x := v.(type) {
	case nil:
		return nil, ""
	case string:
		if name, ok := strings.CutPrefix(x, ":"); ok {
			if !namedValidators[name] {
				return nil, fmt.Sprintf("unknown validator %q (known: :%s)", x, strings.Join(sortedKeys(namedValidators), ", :"))
			}
			return &validator{named: name}, ""
		}
		src := x
		if len(x) >= 2 && strings.HasPrefix(x, "/") && strings.HasSuffix(x, "/") {
			src = x[1 : len(x)-1]
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Sprintf("invalid regular expression %q: %v", x, err)
		}
		return &validator{re: re}, ""
	case []any:
		if len(x) == 0 {
			return nil, "a list of allowed values must not be empty"
		}
		for i, it := range x {
			switch it.(type) {
			case map[string]any, []any:
				return nil, fmt.Sprintf("allowed value %d must be a scalar, got %s", i, describe(it))
			}
		}
		return &validator{enum: x}, ""
	}
	return nil, "must be a \":validator\", a regular expression or a list of allowed values, got " + describe(v)
}

// validate returns "" when v passes, or the reason it fails. A nil validator passes everything.
// For array values, every rule except the :array/:hash type checks applies to each element.
func (c *validator) validate(v any) string {
	if c == nil {
		return ""
	}
	if l, ok := v.([]any); ok && c.named != "array" && c.named != "hash" {
		for i, it := range l {
			if msg := c.validate(it); msg != "" {
				return fmt.Sprintf("item %d: %s", i, msg)
			}
		}
		return ""
	}
	switch {
	case c.re != nil:
		s := textOf(v)
		if !c.re.MatchString(s) {
			return fmt.Sprintf("%q does not match %s", s, c.re.String())
		}
	case c.enum != nil:
		for _, e := range c.enum {
			if textOf(e) == textOf(v) {
				return ""
			}
		}
		opts := make([]string, len(c.enum))
		for i, e := range c.enum {
			opts[i] = textOf(e)
		}
		return fmt.Sprintf("%s should be one of %s", describe(v), strings.Join(opts, ", "))
	default:
		return validateNamed(c.named, v)
	}
	return ""
}

// shellUnsafe are the sequences :shellsafe refuses (Choria's list plus line breaks).
var shellUnsafe = []string{"`", "$", ";", "|", "&&", ">", "<", "\n", "\r"}

// validateNamed applies a `:name` rule.
func validateNamed(name string, v any) string {
	ok := true
	switch name {
	case "string":
		_, ok = v.(string)
	case "integer":
		_, ok = v.(int)
	case "float":
		_, ok = toFloat(v)
	case "number":
		_, ok = toFloat(v)
	case "boolean":
		_, ok = v.(bool)
	case "array":
		_, ok = v.([]any)
	case "hash":
		_, ok = v.(map[string]any)
	case "shellsafe":
		s, isStr := v.(string)
		if !isStr {
			return fmt.Sprintf("%s should be a string", describe(v))
		}
		for _, bad := range shellUnsafe {
			if strings.Contains(s, bad) {
				return fmt.Sprintf("%q is not shell safe: it contains %q", s, bad)
			}
		}
	case "ipv4address":
		ip := net.ParseIP(textOf(v))
		ok = ip != nil && ip.To4() != nil && !strings.Contains(textOf(v), ":")
	case "ipv6address":
		ip := net.ParseIP(textOf(v))
		ok = ip != nil && strings.Contains(textOf(v), ":")
	case "ipaddress":
		ok = net.ParseIP(textOf(v)) != nil
	}
	if !ok {
		return fmt.Sprintf("%s is not a valid %s", describe(v), name)
	}
	return ""
}

// toFloat converts any numeric value to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// convertInput converts a given value (native, or text from a command line) to an input type.
func convertInput(typ string, v any) (any, string) {
	bad := func() (any, string) { return nil, fmt.Sprintf("must be of type %s, got %s", typ, describe(v)) }
	s, isStr := v.(string)
	if isStr {
		s = strings.TrimSpace(s)
	}
	if n, ok := v.(json.Number); ok {
		v, s, isStr = n.String(), n.String(), true
	}
	switch typ {
	case InputString:
		if str, ok := v.(string); ok {
			return str, ""
		}
	case InputInteger:
		if isStr {
			if i, err := strconv.Atoi(s); err == nil {
				return i, ""
			}
			return bad()
		}
		if f, ok := toFloat(v); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int(f), ""
		}
	case InputFloat:
		if isStr {
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, ""
			}
			return bad()
		}
		if f, ok := toFloat(v); ok {
			return f, ""
		}
	case InputNumeric:
		if isStr {
			if i, err := strconv.Atoi(s); err == nil {
				return i, ""
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, ""
			}
			return bad()
		}
		switch x := v.(type) {
		case int, float64:
			return x, ""
		case int64:
			return int(x), ""
		}
	case InputBoolean:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		if isStr {
			switch strings.ToLower(s) {
			case "true", "yes", "1", "on":
				return true, ""
			case "false", "no", "0", "off":
				return false, ""
			}
		}
	case InputArray:
		switch x := v.(type) {
		case []any:
			return x, ""
		case []string:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = e
			}
			return out, ""
		case string:
			return arrayFromText(s)
		}
	case InputHash:
		switch x := v.(type) {
		case map[string]any:
			return x, ""
		case string:
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
				return nil, fmt.Sprintf(`must be of type hash: give a JSON object such as {"k": "v"}, got %q`, s)
			}
			return normalizeJSON(m), ""
		}
	}
	return bad()
}

// arrayFromText reads an array given as text: JSON array text, or a comma-separated list.
func arrayFromText(s string) (any, string) {
	if strings.HasPrefix(s, "[") {
		var l []any
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			return nil, fmt.Sprintf("must be of type array: invalid JSON array %q: %v", s, err)
		}
		return normalizeJSON(l), ""
	}
	if s == "" {
		return []any{}, ""
	}
	parts := strings.Split(s, ",")
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = strings.TrimSpace(p)
	}
	return out, ""
}

// normalizeJSON turns whole float64 numbers from encoding/json into ints, recursively.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
	case []any:
		for i := range x {
			x[i] = normalizeJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSON(x[k])
		}
	}
	return v
}
