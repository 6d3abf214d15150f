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

// Errors of sealed sensitive values (see Keyring). Neither ever quotes a value.
var (
	// ErrSecretsKey indicates that a sealed value was sealed with a master key this process does
	// not hold (no key given, or a key id it does not know).
	ErrSecretsKey = errors.New("sealed with a master key this process does not hold")
	// ErrSecretsTampered indicates that a sealed value failed authentication: it was altered, or
	// it was moved from the run or input it was sealed for.
	ErrSecretsTampered = errors.New("sealed value failed authentication (altered, or not sealed for this run and name)")
	// ErrInvalidSecretsKey indicates a master key that is not SecretsKeySize bytes long.
	ErrInvalidSecretsKey = errors.New("invalid secrets master key")
)
