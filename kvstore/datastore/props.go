package datastore

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// props reads a store's properties, remembering which were used so that unknown ones are refused
// by name rather than silently ignored (a typo in "prefix" must not write to the wrong keys).
type props struct {
	store string
	m     map[string]any
	used  map[string]bool
}

func newProps(store string, m map[string]any) *props {
	return &props{store: store, m: m, used: map[string]bool{"type": true}}
}

func (p *props) errf(name, format string, a ...any) error {
	return fmt.Errorf("%w: data store %s: property %s: %s", ErrStoreSpec, p.store, name, fmt.Sprintf(format, a...))
}

// str returns a string property, def when absent.
func (p *props) str(name, def string) (string, error) {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", p.errf(name, "must be a string, got %T", v)
	}
	return s, nil
}

// boolean returns a boolean property, def when absent.
func (p *props) boolean(name string, def bool) (bool, error) {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, p.errf(name, "must be a boolean, got %T", v)
	}
	return b, nil
}

// seconds returns a duration property given as a number of seconds (Choria's form) or a Go
// duration string ("500ms", "2m"); def when absent. It must be at least lo.
func (p *props) seconds(name string, def, lo time.Duration) (time.Duration, error) {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok || v == nil {
		return def, nil
	}
	var d time.Duration
	switch x := v.(type) {
	case int:
		d = time.Duration(x) * time.Second
	case int64:
		d = time.Duration(x) * time.Second
	case uint64:
		d = time.Duration(x) * time.Second
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x > 1e9 {
			return 0, p.errf(name, "%v is not a usable number of seconds", x)
		}
		d = time.Duration(x * float64(time.Second))
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			return 0, p.errf(name, "%q is neither a number of seconds nor a duration such as 30s", x)
		}
	default:
		return 0, p.errf(name, "must be a number of seconds or a duration string, got %T", v)
	}
	if d < lo {
		return 0, p.errf(name, "%s is below the minimum of %s", d, lo)
	}
	return d, nil
}

// stringMap returns a map of strings property (environment).
func (p *props) stringMap(name string) (map[string]string, error) {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok || v == nil {
		return nil, nil
	}
	out := map[string]string{}
	switch x := v.(type) {
	case map[string]string:
		for k, s := range x {
			out[k] = s
		}
	case map[string]any:
		for k, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, p.errf(name+"."+k, "must be a string, got %T", e)
			}
			out[k] = s
		}
	default:
		return nil, p.errf(name, "must be a map of strings, got %T", v)
	}
	return out, nil
}

// done refuses every property that no accessor asked for.
func (p *props) done() error {
	var unknown []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(p.used))
	for k := range p.used {
		known = append(known, k)
	}
	sort.Strings(known)
	return p.errf(unknown[0], "unknown property (known: %s)", strings.Join(known, ", "))
}
