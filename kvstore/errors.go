package kvstore

import "errors"

var (
	// ErrNotFound indicates that no record exists under the key.
	ErrNotFound = errors.New("not found")
	// ErrExists indicates that a record already exists where a new one was to be created.
	ErrExists = errors.New("already exists")
	// ErrConflict indicates that a compare-and-set lost: the record changed since it was read.
	ErrConflict = errors.New("revision conflict")
)
