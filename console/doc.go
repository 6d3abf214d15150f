// Package console is fleetbook's web console: server-rendered pages of the runs, a run's
// timeline with live updates, the schedules and the node registry, and the console's own health
// endpoints.
//
// Invariants:
//   - The console never writes state itself. It reads and acts through the coordinators' API,
//     signed with its own console credential, carrying the session grant of the identity that
//     signed in (coordinator.Client.ForSession): the coordinator decides every request as that
//     identity under its policy and audits it "via" the console.
//   - Live updates come from the run's events subject on the events stream (a JetStream
//     ordered consumer), never from polling the run records.
//   - Every page is rendered with html/template (contextual escaping) and served under a strict
//     Content-Security-Policy: scripts only from the console's own embedded files, no inline
//     script, no frames. Every POST must come from the console's own origin.
package console
