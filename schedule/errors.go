package schedule

import "strings"

// SpecError is one problem of a ScheduleSpec: the field it is in, named as in the spec's JSON
// with an index for list entries ("cron[0]", "every", "exclude[2]"), and what is wrong with it.
type SpecError struct {
	Field   string
	Message string
}

// Error names the field and the problem.
func (e *SpecError) Error() string { return e.Field + ": " + e.Message }

// SpecErrors are every problem Compile found in one spec, in the order of the spec's fields, so
// that a user fixes them in one go rather than one per attempt.
type SpecErrors []*SpecError

// Error joins the problems with "; ".
func (e *SpecErrors) Error() string {
	msgs := make([]string, len(*e))
	for i, se := range *e {
		msgs[i] = se.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap gives each problem to errors.Is and errors.As, so that errors.As(err, &specErr) finds
// the first *SpecError whether Compile found one problem or several.
func (e *SpecErrors) Unwrap() []error {
	out := make([]error, len(*e))
	for i, se := range *e {
		out[i] = se
	}
	return out
}
