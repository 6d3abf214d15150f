// Package datastore holds the playbooks' data stores and locks: the stores a playbook's
// data_stores entries declare (kv, memory, environment, file, shell, etcd, consul) behind one
// Store interface, and the locks its locks entries take (kv, etcd, consul) behind Locker and
// Lease. There is one file per backend, holding its store and, if it can lock, its locker; the
// playbook-facing behaviour of each is docs/data-stores.md.
//
// Open and OpenLocker build a store or a locker from a protocol.StoreSpec; Check validates a spec
// without opening anything. A kv store uses the data bucket (protocol.DataBucket) or the bucket
// it names, a memory store protocol.MemoryBucket under its run id, a kv lock protocol.LocksBucket.
// Fleetbook's own run state is package kvstore's, which also provisions these buckets; this
// package does not import it (only its tests do, to provision).
//
// The package translates the JetStream errors of the buckets it uses for its own callers, as each
// backend does for etcd's and Consul's replies: a missing key is ErrNotFound whatever the store,
// a lock found taken by somebody else ErrNotHeld; other failures are wrapped as they come.
// Package kvstore stays the only place where the JetStream KV errors of fleetbook's run state
// become domain errors.
package datastore
