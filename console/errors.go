package console

import "errors"

var (
	// ErrInvalidOption indicates an option refused its value, or a required one is missing.
	ErrInvalidOption = errors.New("invalid console option")
	// ErrNoSession indicates a request without a valid session cookie.
	ErrNoSession = errors.New("not signed in")
	// ErrCrossOrigin indicates a POST that did not come from the console's own pages.
	ErrCrossOrigin = errors.New("cross-origin request refused")
	// ErrBadField indicates a query or form field with a value the console cannot use; the
	// error names the field.
	ErrBadField = errors.New("invalid field")
)
