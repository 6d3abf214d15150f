// Package policy says which identities may do what to which playbooks: the coordinator asks it
// about every API request, with the identity the request's signature proved.
//
// A policy is a YAML file with two keys. identities names public nkeys (user keys, "U...");
// rules grant actions (submit, cancel, prune, read, audit, schedule) to names, to "*" (any identity the
// policy names) or to "unsigned" (requests without a signature), optionally only for the
// playbooks whose name matches a glob or that carry a tag. Whatever no rule grants is denied,
// and a signed key the policy does not name is denied everything.
//
// The file is decoded strictly: an unknown key, an unknown action, a name used in a rule but
// never defined, a key that is not a user public key, a bad glob, are all errors naming the field
// and its line. The package does no I/O but reading the file, and imports nothing of fleetbook's.
package policy
