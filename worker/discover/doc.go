// Package discover resolves a playbook's node sets into node identities, on the worker that runs
// the set's discover job. The sources are the node registry (type fleet, and its Choria alias
// mcollective) with its identity, class, agent, fact and compound filters; a YAML file of
// groups; a program printing host names (shell); a Terraform output; a PuppetDB query (pql);
// and the sources of truth: a Consul catalog service (consul), etcd keys or a JSON list in one
// etcd key (etcd), a list in a key of one of the playbook's data stores (data, the store's
// declaration rendered by the coordinator into the job) and a JSON document served over HTTP
// with a JSON path to the identities (http).
// Nodes runs the source, then the connectivity test and the agent version check on what it
// found. docs/discovery.md describes every source as a playbook sees it.
//
// Invariants:
//
//   - Nothing a node set holds runs as code: the shell and terraform sources run their program
//     from an argument list, never through a shell, so a rendered value stays one argument.
//   - A source program never outlives its discovery: it runs in its own process group
//     (worker/process), killed on timeout, when ctx ends and after the program exits.
//   - What a source gives is bounded (program output, YAML file, PuppetDB answer) and checked
//     before it is used: host names from programs, node identities (kvstore.ValidIdentity) from
//     the sources of truth, and identities that fit a node's RPC subject before the
//     connectivity test sends to them.
//   - A source of truth reaches only the server its node set names: an http source follows
//     redirects on the same host only, verifies TLS unless verify_ssl is false, and no message
//     quotes a URL's query (which may carry a token).
//   - The registry's filters are parsed by the playbook language (playbooks.ParseNodeFilter),
//     which refused a broken literal filter when the playbook was submitted; here the rendered
//     properties are parsed once per discovery, and a filter that still does not parse (one
//     templated with run-time values) fails the discovery.
package discover
