package playbooks

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
