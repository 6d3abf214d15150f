// Package protocol holds every name fleetbook puts on the wire — subjects, streams, consumers,
// buckets and headers — and every wire type exchanged between the command line, coordinators and
// workers.
//
// Coordinators and workers never import each other: they meet only through the types in this
// package, sent as versioned snake_case JSON over NATS. Every wire type carries a Version field; a
// receiver refuses a version it does not know rather than guessing.
//
// The package imports nothing of fleetbook's and nothing of NATS, so any tool can speak the protocol.
package protocol
