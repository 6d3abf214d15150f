// Package metrics is fleetbook's Prometheus instrumentation and its HTTP health endpoints.
//
// A Metrics holds every collector in a registry of its own (never the global one, so two in one
// process, or in one test binary, do not collide). Coordinators and workers are handed one with
// their WithMetrics options and count each event at the one place it happens: a run's end once
// its final status is stored, a step's end once the write that records it lands, a node reply
// where the worker's fan-out receives it. Every recording method is safe on a nil *Metrics, so
// the call sites need no guard and cost nothing when metrics are off.
//
// Every metric name is a constant in names.go, prefixed fleetbook_. Labels stay bounded: the
// playbook label takes the first MaxPlaybooks distinct names and then "other" (playbook names
// are chosen by users), task types and outcomes are fixed sets, pools are chosen by operators.
//
// The cluster gauges (queue depth and in-flight jobs per pool, coordinators and workers alive)
// are read when scraped, from the JOBS stream's consumers and the micro services' $SRV.PING,
// within a timeout, by a Metrics given a connection (WithCluster).
//
// Mount (or Handler) serves /metrics, /healthz and /readyz on any mux.
package metrics
