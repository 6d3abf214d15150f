// Package kvstore is fleetbook's own state on JetStream: it provisions the streams and buckets,
// and keeps run records (every change a compare-and-set), idempotency keys of submissions, the
// sensitive inputs of unfinished runs, the node registry, agent definitions and the retention of
// ended runs. The playbooks' data stores and locks are package kvstore/datastore's, which this
// package does not import.
//
// It is the only package that translates the JetStream KV errors of fleetbook's run state into
// domain errors: callers test for ErrNotFound, ErrExists and ErrConflict with errors.Is and never
// see JetStream's own errors for those cases. (The data stores translate the errors of their own
// buckets for their callers; see package datastore.)
package kvstore
