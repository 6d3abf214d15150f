package datastore

import (
	"fmt"
	"regexp"
	"strings"
)

// storeNameRe is Choria's store name syntax in a "store/key" path.
var storeNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// ParsePath splits a data path "store/key" into the store name and the key, which is everything
// after the first slash and may itself contain slashes.
func ParsePath(path string) (store, key string, err error) {
	store, key, ok := strings.Cut(path, "/")
	if !ok || !storeNameRe.MatchString(store) || key == "" {
		return "", "", fmt.Errorf("%w: data path %q is not of the form store/key", ErrInvalidKey, path)
	}
	return store, key, nil
}

// DefaultLockKeyPattern is the printf pattern of the key a bare "store" lock entry takes: the
// playbook name. It is Choria's, so a fleetbook run and a Choria run of the same playbook on one
// Consul exclude each other.
const DefaultLockKeyPattern = "choria/locks/playbook/%s"

// ParseLock resolves a playbook's locks entry: "store" locks DefaultLockKeyPattern for playbook
// in that store, "store/key" locks key.
func ParseLock(entry, playbook string) (store, key string, err error) {
	if storeNameRe.MatchString(entry) {
		return entry, fmt.Sprintf(DefaultLockKeyPattern, playbook), nil
	}
	store, key, err = ParsePath(entry)
	if err != nil {
		return "", "", fmt.Errorf("%w: lock %q is neither a store name nor store/key", ErrInvalidKey, entry)
	}
	return store, key, nil
}
