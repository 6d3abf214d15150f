package datastore

import "errors"

// Data store and lock errors. The backends translate their own errors into these (JetStream's
// for kv and memory stores, HTTP replies for etcd and Consul), so callers test them with
// errors.Is whatever the store.
var (
	// ErrNotFound indicates that a data store holds no value under the key.
	ErrNotFound = errors.New("key not found")
	// ErrStoreSpec indicates a data store declaration that cannot work: unknown type, unknown or
	// badly typed property. The wrapping error names the store and the property.
	ErrStoreSpec = errors.New("invalid data store")
	// ErrInvalidKey indicates a key the store cannot hold (characters, empty).
	ErrInvalidKey = errors.New("invalid data store key")
	// ErrLockUnsupported indicates a lock asked of a store type that cannot lock.
	ErrLockUnsupported = errors.New("data store cannot hold locks")
	// ErrLockTimeout indicates that a lock stayed held by somebody else for the whole wait.
	ErrLockTimeout = errors.New("lock not obtained in time")
	// ErrNotHeld indicates a lease that is no longer ours: it expired and may have been taken by
	// somebody else, so it is neither renewed nor released.
	ErrNotHeld = errors.New("lock is not held")
)
