// Package kvstore is fleetbook's storage layer on JetStream: it provisions the streams and
// buckets, and keeps run records in a KV bucket where every change is a compare-and-set.
//
// It is the only package that translates JetStream KV errors into domain errors: callers test
// for ErrNotFound, ErrExists and ErrConflict with errors.Is and never see JetStream's own errors
// for those cases.
package kvstore
