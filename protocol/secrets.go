package protocol

import (
	"encoding/json"
	"regexp"
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
