// Package process runs the programs of a worker: shell and plugin tasks, and the shell and
// terraform node sources. Each program is the leader of its own process group, and what it
// writes is kept in a CappedBuffer.
//
// Invariants:
//
//   - A program never outlives its job. Its group is killed when its context ends (timeout,
//     cancellation, the end of the shutdown grace) and after the program exits, so what it put in
//     the background goes with it; a process that must survive has to leave the group with
//     setsid.
//   - kill -9 of the worker takes its programs with it: each receives SIGKILL (Pdeathsig) from
//     the OS thread that started it, which stays locked until the program exits. Processes a
//     program put in the background survive, since nothing is left to kill their group.
//   - Output is bounded: a CappedBuffer keeps the start and the end of what was written and
//     counts what it dropped, so a chatty program cannot make a result huge.
package process
