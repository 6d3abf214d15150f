// Package task runs a worker's jobs: one executor per task type. shell runs a command; webhook,
// slack and graphite_event make one HTTP call each (http.go holds the request and response code
// they share); data reads or writes one key of a playbook data store; discover resolves a node
// set (worker/discover); rpc fans a request out to node agents (Fanout) and checks their
// replies with its assert: expression (parsed by playbooks.ParseAssertion); noop succeeds; and any other type may be a
// plugin of the worker's plugin directory. The worker's job loop calls Execute with the job's own
// context and an Env of what the executors may use of the worker.
//
// Invariants:
//
//   - A task that fails is a failed Result, never an error. Its message says why, naming a
//     property but never its value, which may be a secret. The only error is ErrInterrupted:
//     the job's context ended while the task ran, and what it did has no result worth reporting.
//   - Every executor takes the job's context first and stops when it ends: HTTP calls and
//     fan-outs are abandoned, commands killed.
//   - A command never outlives its job. Shell and plugin commands run in their own process group
//     (worker/process), which is killed on timeout, when the job's context ends (the end of the
//     shutdown grace, a cancelled run, a lost lease) and after the command exits, background
//     processes included; a process that must survive has to leave the group with setsid.
//   - Results stay publishable: command output and HTTP bodies are capped (maxOutput), and an rpc
//     result too large for one NATS message sheds node data before it sheds anything else (fit).
//   - A repeated job acts once where the other side can tell: HTTP calls carry the job id
//     (protocol.HTTPRequestIDHeader) and every rpc request the job id and the node's identity,
//     which agents remember.
//   - A task reaches only what its playbook names: HTTP redirects are followed on the same host
//     only, and plugins get a clean environment, never the worker's.
package task
