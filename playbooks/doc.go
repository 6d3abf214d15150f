// Package playbooks is the fleetbook playbook language: the decoder, validator and template
// engine for playbook documents, a re-implementation of Choria's YAML Playbooks.
//
// A playbook is a YAML document with metadata (name, version, author, description, tags,
// loglevel, run_as, on_fail), typed inputs, data stores, locks, node sets and ordered task lists
// (the main `tasks` list and the hook lists pre_book, pre_task, post_task, on_success, on_fail and
// post_book). Task types are rpc (also spelled mcollective), rpc_assert (mcollective_assert),
// shell, webhook, slack, graphite_event, data, playbook and log. Strings may hold templates such
// as {{{ inputs.cluster }}}, {{ nodes.web }}, {{ previous_task.msg }} or {{ tasks.NAME.data }}
// (the result of the task with `register: NAME`), rendered by the runner.
//
// The API a runner uses, in run order: Parse (or ParseFile); ResolveInputs for given values;
// StoreInputs, StoreValue and SaveWrites for inputs bound to data stores; Redact for every copy
// of the inputs that leaves memory, SensitiveValues + Scrub/ScrubValue for task output; Render,
// RenderString and RenderShell with a Scope (add each registering task's final result to
// Scope.Registered); DecodeShell, DecodeLog, DecodeData and DecodePlaybookCall on rendered
// properties. JSONSchema and Describe serve tools (`fleetbook schema`, `fleetbook show`).
//
// Parse decodes a document by walking yaml.Node trees itself, so every problem carries a field
// path (tasks[2].shell.timeout) and a line, and every problem in a document is reported at once
// in a *ValidationError. Unknown keys are refused everywhere except in free-form values (task
// `properties`, webhook `data`, data store settings and `macros`). YAML anchors, aliases and
// `<<` merge keys work; duplicate keys, oversized documents (MaxDocumentBytes), deep nesting
// (MaxDepth) and alias bombs (MaxValueNodes) are refused.
//
// Invariants:
//   - No I/O except ParseFile reading its file: no network, no data store access, no process
//     execution. Dynamic inputs, discovery and locks are the runner's business.
//   - No NATS, and no import of any other fleetbook package.
//   - Decoded values are never rendered in place: Task.Properties, NodeSet.Properties and
//     DataStore.Properties hold the document's values; Render returns rendered deep copies.
//   - Rendering is single-pass: a rendered value is never rendered again, so values cannot inject
//     templates. RenderShell goes further and never puts a value into shell code at all.
//
// Departures from Choria are deliberate and documented on the names they affect (Input.Required,
// Input defaults, Playbook.FailPolicy, Task.FailOK, ResolveInputs, RenderShell, StoreTypes) and
// in docs/playbooks.md ("Decisions about Choria's quirks").
package playbooks
