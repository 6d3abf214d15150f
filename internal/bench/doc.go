// Package bench measures fleetbook against raw JetStream. Every benchmark runs the product figure
// and its raw baseline on the same embedded server, in the same process and run, so the ratio
// between them says how close fleetbook comes to the limit of the machine it runs on, whatever
// that machine is. `fleetbook bench` and the Benchmark functions of this package both use it.
//
// The server is started the way the embedded default starts it: file storage in a (temporary)
// directory, in-process connections, and optionally SyncAlways (fsync before every ack).
// Timings are measured, never asserted: nothing here fails because a machine is slow.
package bench
