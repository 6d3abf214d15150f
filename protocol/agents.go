package protocol

import "strings"

// AgentsBucket holds the definitions of the agents node agents run: the JSON of a
// playbooks.AgentDefinition, keyed AgentKey(name, version). Node agents put theirs when they
// register and with every refresh; the bucket's TTL (the node registry's) lets the definition of
// a version nobody runs any more age out. Coordinators read it to check an rpc task's properties
// before anything is sent.
const AgentsBucket = "fleetbook_agents"

// AgentKey is the key of version of agent name in AgentsBucket: "name.version", with every
// character a key may not hold (such as the '+' of SemVer build metadata) replaced by '_'.
func AgentKey(name, version string) string {
	v := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r == '.':
			return r
		}
		return '_'
	}, strings.Trim(version, "."))
	for strings.Contains(v, "..") {
		v = strings.ReplaceAll(v, "..", "._")
	}
	if v == "" {
		v = "_"
	}
	return name + "." + v
}

// AgentKeysFilter is the key filter matching every version of agent name in AgentsBucket.
func AgentKeysFilter(name string) string { return name + ".>" }
