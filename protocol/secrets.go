package protocol

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// Sensitive input values never travel in run records, jobs, events or results. The run record
// and every rendered job carry a reference in their place; the values live under the run id in
// SecretsBucket, which workers read just before they execute a job, and which is deleted when
// the run ends. Workers scrub the values from what a job outputs before publishing its result.
const (
	// SecretsBucket holds the sensitive input values of unfinished runs, one key per run id,
	// without history.
	SecretsBucket = "fleetbook_secrets"
	// secretRefOpen and secretRefClose delimit a secret reference. They are characters no
	// template, shell word or JSON escape produces by accident.
	secretRefOpen  = "\u27e6secret:"
	secretRefClose = "\u27e7"
	// Redacted is what a secret is replaced with wherever it would be shown.
	Redacted = "[redacted]"
	// SealedPrefix starts a data-store value derived from a sensitive value: the value is sealed
	// (encrypted with the master key, or only marked without one) so that a read brings back
	// that it is sensitive. See kvstore.Keyring.SealValue.
	SealedPrefix = "fleetbook-sealed:v1:"
	// ScrubOnlyPrefix starts the name under which a run's secrets record keeps a value that is
	// scrubbed from every output of the run but never revealed into a template (a parent run's
	// sensitive value passed on to its child). No reference can name it.
	ScrubOnlyPrefix = "^scrub/"
)

var secretRefRe = regexp.MustCompile(secretRefOpen + `([A-Za-z0-9_-]+)` + secretRefClose)

// SecretRef is the reference standing for sensitive input name.
func SecretRef(name string) string { return secretRefOpen + name + secretRefClose }

// HasSecretRefs reports whether s holds a secret reference.
func HasSecretRefs(s string) bool { return strings.Contains(s, secretRefOpen) }

// ReplaceSecretRefs replaces every secret reference in s with what value returns for its name.
func ReplaceSecretRefs(s string, value func(name string) string) string {
	if !HasSecretRefs(s) {
		return s
	}
	return secretRefRe.ReplaceAllStringFunc(s, func(ref string) string {
		return value(ref[len(secretRefOpen) : len(ref)-len(secretRefClose)])
	})
}

// RedactSecretRefs replaces every secret reference in s with Redacted, for display.
func RedactSecretRefs(s string) string {
	return ReplaceSecretRefs(s, func(string) string { return Redacted })
}

// SecretText is a secret value as text: a string as is, anything else as its JSON.
func SecretText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// minEncodedScrub is the shortest secret text whose encodings (base64, hex) are scrubbed too:
// the encodings of a shorter one are short enough to occur by chance.
const minEncodedScrub = 6

// SecretTexts returns every text to scrub from the output of a run whose sensitive values are
// values: each value's text (for lists and maps, the whole value's and each element's), its JSON
// escaped form, and for texts of at least minEncodedScrub bytes their base64 (standard and URL,
// padded or not) and hex encodings; longest first, so a text containing another is scrubbed
// whole, without empty strings, booleans and duplicates.
func SecretTexts(values map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	addForms := func(s string) {
		add(s)
		if q, _ := json.Marshal(s); len(q) > 2 {
			add(string(q[1 : len(q)-1]))
		}
		if len(s) < minEncodedScrub {
			return
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			add(enc.EncodeToString([]byte(s)))
		}
		add(hex.EncodeToString([]byte(s)))
		add(strings.ToUpper(hex.EncodeToString([]byte(s))))
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case bool, nil:
			return // scrubbing every "true" in task output would hide nothing and garble everything
		case []any:
			addForms(SecretText(v))
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			addForms(SecretText(v))
			for _, e := range x {
				walk(e)
			}
		default:
			addForms(SecretText(v))
		}
	}
	for _, v := range values {
		walk(v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}
