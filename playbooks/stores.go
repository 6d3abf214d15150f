package playbooks

import (
	"fmt"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// DefaultStoreType is the type of a data store declared without `type`: the JetStream KV
// store shared between runs.
const DefaultStoreType = "kv"

// StoreType describes a data store type the language knows.
type StoreType struct {
	// CanLock tells whether `locks:` may name a store of this type.
	CanLock bool
	// Doc is a one-line description, for `fleetbook schema` and `show`.
	Doc string
}

// StoreTypes are the known data store types. Only kv, etcd and consul can hold a lock that
// other runs see; the others are local to one process (memory, environment), or have no lock
// primitive (file, shell), so a lock on them would protect nothing and is refused.
var StoreTypes = map[string]StoreType{
	"kv":          {CanLock: true, Doc: "JetStream KV bucket, shared between runs (the default store)"},
	"memory":      {Doc: "in-process map that lasts for one run"},
	"environment": {Doc: "environment variables of the process, with an optional prefix"},
	"file":        {Doc: "a JSON or YAML file holding a map"},
	"shell":       {Doc: "an external program called with --read/--write/--delete KEY"},
	"etcd":        {CanLock: true, Doc: "etcd v3 key/value store"},
	"consul":      {CanLock: true, Doc: "Consul key/value store"},
}

// lockableStores lists the store types that can lock, for messages.
func lockableStores() string {
	m := map[string]bool{}
	for k, t := range StoreTypes {
		if t.CanLock {
			m[k] = true
		}
	}
	return keyList(m)
}

// storeKeys are the data store properties Parse checks itself, per store type; every other
// property is checked by the store when it opens (kvstore/datastore). They are the ones a
// mistake in is dangerous rather than merely broken: the bucket a kv store reaches (never one of
// fleetbook's own, see protocol.CheckDataBucket), the server an HTTP store reaches, and a lock's
// durations (a negative wait or lease is refused, not taken as "none").
var storeKeys = map[string]map[string]func(any) string{
	"kv":   {"bucket": checkStoreBucket, "timeout": checkLockDuration(0), "ttl": checkLockDuration(time.Second)},
	"etcd": {"url": checkStoreURL, "timeout": checkLockDuration(0), "ttl": checkLockDuration(time.Second)},
	// Consul refuses session TTLs under 10s.
	"consul": {"url": checkStoreURL, "timeout": checkLockDuration(0), "ttl": checkLockDuration(10 * time.Second)},
}

// checkStoreURL checks the url of an HTTP store (etcd, consul) as task URLs are checked.
func checkStoreURL(v any) string {
	s, ok := v.(string)
	if !ok {
		return "must be a string, got " + describe(v)
	}
	return checkURL(s)
}

// checkStores applies storeKeys to the literal properties of every data store; templated ones
// are checked by checkRenderedStores once the inputs are known, and by the store at run time.
func (d *decoder) checkStores(stores map[string]DataStore) {
	for _, name := range sortedKeys(stores) {
		ds := stores[name]
		keys := storeKeys[ds.Type]
		for _, k := range sortedKeys(keys) {
			v, ok := ds.Properties[k]
			if s, isStr := v.(string); !ok || isStr && isTemplate(s) {
				continue
			}
			if msg := keys[k](v); msg != "" {
				d.probs.list = append(d.probs.list, Problem{Path: joinPath(joinPath("data_stores", name), k), Line: ds.Line, Message: msg})
			}
		}
	}
}

// checkRenderedStores applies storeKeys to the store properties templated with inputs only.
func (p *Playbook) checkRenderedStores(check func(path string, line int, key string, v any, checkFn func(any) string)) {
	for _, name := range sortedKeys(p.DataStores) {
		ds := p.DataStores[name]
		keys := storeKeys[ds.Type]
		for _, k := range sortedKeys(keys) {
			if v, ok := ds.Properties[k]; ok {
				check(joinPath("data_stores", name), ds.Line, k, v, keys[k])
			}
		}
	}
}

// checkStoreBucket is the bucket rule of protocol.CheckDataBucket as a property check.
func checkStoreBucket(v any) string {
	s, ok := v.(string)
	if !ok {
		return "must be a string, got " + describe(v)
	}
	if err := protocol.CheckDataBucket(s); err != nil {
		return err.Error()
	}
	return ""
}

// checkLockDuration checks a lock wait (timeout, lo 0) or lease (ttl, at least lo) given as a
// number of seconds or a Go duration string, as kvstore/datastore reads them.
func checkLockDuration(lo time.Duration) func(any) string {
	return func(v any) string {
		d, ok := toSeconds(v)
		if s, isStr := v.(string); isStr && !ok {
			var err error
			if d, err = time.ParseDuration(strings.TrimSpace(s)); err != nil {
				return fmt.Sprintf("must be a number of seconds or a duration such as 30s, got %q", s)
			}
			ok = true
		}
		switch {
		case !ok:
			return "must be a number of seconds or a duration such as 30s, got " + describe(v)
		case d < 0:
			return "must not be negative, got " + describe(v)
		case d < lo:
			return fmt.Sprintf("must be at least %s, got %s", lo, describe(v))
		}
		return ""
	}
}
