package playbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Node set types.
const (
	NodesMcollective = "mcollective"
	// NodesFleet selects nodes of fleetbook's node registry; mcollective is its Choria alias.
	NodesFleet     = "fleet"
	NodesPQL       = "pql"
	NodesYAML      = "yaml"
	NodesShell     = "shell"
	NodesTerraform = "terraform"
	// NodesConsul selects the nodes of a Consul catalog service (healthy ones by default).
	NodesConsul = "consul"
	// NodesEtcd takes the keys under an etcd prefix, or a JSON list held in one etcd key.
	NodesEtcd = "etcd"
	// NodesData takes a list held in a key of one of the playbook's data stores.
	NodesData = "data"
	// NodesHTTP takes a list from a JSON document served at a URL, found with a JSON path.
	NodesHTTP = "http"
)

// ConsulIdentityFields are the fixed values of a consul node set's `address`: which field of a
// service instance is the node's identity. `meta.KEY` (the node's meta) and `service_meta.KEY`
// are accepted besides.
var ConsulIdentityFields = []string{"node", "address", "service_address"}

// NodeSet is a named set of nodes, discovered once before the tasks run.
type NodeSet struct {
	// Name is the node set name, used as `nodes.NAME` in templates.
	Name string
	// Type is the discovery source: fleet (alias mcollective), pql, yaml, shell, terraform,
	// consul, etcd, data or http.
	Type string
	// Properties are the type-specific properties, un-rendered (e.g. facts, query, script).
	Properties map[string]any
	// AtLeast is the smallest acceptable number of nodes; default 1, and 0 when EmptyOK.
	AtLeast int
	// Limit keeps only the first Limit discovered nodes; 0 means no limit.
	Limit int
	// WhenEmpty is the un-rendered error message used when discovery finds nothing.
	WhenEmpty string
	// EmptyOK makes an empty result acceptable.
	EmptyOK bool
	// Test asks for a connectivity test of the discovered nodes.
	Test bool
	// Uses lists agents (declared in the top-level uses) whose versions are checked on the nodes.
	Uses []string
	// Line is the YAML line of the node set's name.
	Line int
}

// commonNodeKeys are the keys every node set accepts; they become NodeSet fields.
var commonNodeKeys = map[string]propSpec{
	"type":       {kind: kindString, literal: true, required: true},
	"at_least":   {kind: kindInt, literal: true, min: 0, hasMin: true},
	"limit":      {kind: kindInt, literal: true, min: 1, hasMin: true},
	"when_empty": {kind: kindString},
	"empty_ok":   {kind: kindBool, literal: true},
	"test":       {kind: kindBool, literal: true},
	"uses":       {kind: kindStringList, literal: true},
}

// nodeKeys lists the type-specific keys of each node set type.
var nodeKeys = map[string]map[string]propSpec{
	NodesFleet:       fleetNodeKeys,
	NodesMcollective: fleetNodeKeys,
	NodesPQL:         {"query": {kind: kindString, required: true}, "url": {kind: kindString}},
	NodesYAML:        {"source": {kind: kindString, required: true}, "group": {kind: kindString, required: true}},
	NodesShell:       {"script": {kind: kindString, required: true}},
	NodesTerraform:   {"statefile": {kind: kindString, required: true}, "output": {kind: kindString, required: true}, "terraform": {kind: kindString}},
	NodesConsul: {
		"service":    {kind: kindString, required: true, check: checkNotBlank},
		"tag":        {kind: kindAny, check: checkStringOrList},
		"datacenter": {kind: kindString},
		"address":    {kind: kindString, check: checkConsulAddress},
		"healthy":    {kind: kindBool},
		"url":        {kind: kindURL},
		"token":      {kind: kindString},
	},
	// etcd takes prefix or key, exactly one (checkNodeSetKeys).
	NodesEtcd: {
		"prefix":   {kind: kindString, check: checkNotBlank},
		"key":      {kind: kindString, check: checkNotBlank},
		"url":      {kind: kindURL},
		"user":     {kind: kindString},
		"password": {kind: kindString},
	},
	// data's store must be declared in data_stores (crossCheck).
	NodesData: {
		"store": {kind: kindString, literal: true, required: true, pattern: &pattern{re: nameRe, must: "must be the name of a data store declared in data_stores"}},
		"key":   {kind: kindString, required: true, check: checkNotBlank},
	},
	NodesHTTP: {
		"url":        {kind: kindURL, required: true},
		"path":       {kind: kindString, check: checkJSONPath},
		"headers":    {kind: kindStringMap},
		"verify_ssl": {kind: kindBool},
	},
}

// checkNotBlank refuses an empty (or all-space) literal string.
func checkNotBlank(v any) string {
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return "must not be empty"
	}
	return ""
}

// checkConsulAddress is the propSpec check of a consul node set's `address`.
func checkConsulAddress(v any) string {
	s, _ := v.(string)
	if isTemplate(s) || slices.Contains(ConsulIdentityFields, s) {
		return ""
	}
	for _, p := range []string{"meta.", "service_meta."} {
		if k, ok := strings.CutPrefix(s, p); ok && k != "" {
			return ""
		}
	}
	return fmt.Sprintf("must be node, address, service_address, meta.KEY or service_meta.KEY, got %q", s)
}

// checkJSONPath is the propSpec check of an http node set's `path`.
func checkJSONPath(v any) string {
	s, _ := v.(string)
	if isTemplate(s) {
		return ""
	}
	if _, err := parseJSONPath(s); err != nil {
		return "is not a valid JSON path: " + err.Error()
	}
	return ""
}

// checkNodeSetKeys checks what one key cannot say alone: an etcd node set names either a prefix
// or a key. It returns the key at fault and the message, or "".
func checkNodeSetKeys(typ string, vals map[string]any) (string, string) {
	if typ != NodesEtcd {
		return "", ""
	}
	_, prefix := vals["prefix"]
	_, key := vals["key"]
	switch {
	case prefix && key:
		return "key", `give either "prefix" (every key under it is a node) or "key" (a key holding a JSON list of nodes), not both`
	case !prefix && !key:
		return "prefix", `an etcd node set needs "prefix" (every key under it is a node) or "key" (a key holding a JSON list of nodes)`
	}
	return "", ""
}

// fleetNodeKeys are the filters of the fleet and mcollective types.
var fleetNodeKeys = map[string]propSpec{
	"discovery_method": {kind: kindString},
	"agents":           {kind: kindStringList, check: fleetExpressionKeys["agents"]},
	"classes":          {kind: kindStringList, check: fleetExpressionKeys["classes"]},
	"facts":            {kind: kindStringList, check: fleetExpressionKeys["facts"]},
	"identities":       {kind: kindStringList, check: fleetExpressionKeys["identities"]},
	"compound":         {kind: kindString, check: fleetExpressionKeys["compound"]},
	"federations":      {kind: kindAny, check: checkStringOrList},
}

func checkStringOrList(v any) string {
	switch v.(type) {
	case string:
		return ""
	case []any:
		return checkValue(propSpec{kind: kindStringList}, v)
	}
	return "must be a string or a list of strings, got " + describe(v)
}

// NodeSetTypes returns the known node set types.
func NodeSetTypes() []string { return sortedKeys(nodeKeys) }

var nameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// nodeSets decodes the `nodes` map.
func (d *decoder) nodeSets(n *yaml.Node) []NodeSet {
	return namedEntries(d, n, "nodes", "node set name must match [a-zA-Z0-9_-]+", d.nodeSet)
}

// nodeSet decodes one node set.
func (d *decoder) nodeSet(e pair, path string) (NodeSet, bool) {
	ns := NodeSet{Name: e.Key, AtLeast: 1, Properties: map[string]any{}, Line: e.KeyN.Line}
	props, ok := d.pairs(e.Value, path, 2)
	if !ok {
		return ns, false
	}
	vals := map[string]any{}
	nodesOf := map[string]pair{}
	good := true
	for _, p := range props {
		v, ok := d.value(p.Value, joinPath(path, p.Key), 3)
		if !ok {
			good = false
			continue
		}
		vals[p.Key], nodesOf[p.Key] = v, p
	}
	typ, _ := vals["type"].(string)
	specs, known := nodeKeys[typ]
	if _, has := vals["type"]; !has {
		d.probs.add(joinPath(path, "type"), e.KeyN, "required key %q is missing (known types: %s)", "type", keyList(nodeKeys))
		good = false
	} else if !known {
		d.probs.add(joinPath(path, "type"), nodesOf["type"].Value, "unknown node set type %s (known: %s)", describe(vals["type"]), keyList(nodeKeys))
		good = false
	}
	_, atLeastGiven := vals["at_least"]
	for _, p := range props {
		v, ok := vals[p.Key]
		if !ok {
			continue
		}
		ppath := joinPath(path, p.Key)
		spec, common := commonNodeKeys[p.Key]
		if !common {
			if !known {
				continue
			}
			if spec, ok = specs[p.Key]; !ok {
				all := allNodeKeys(specs)
				d.probs.add(ppath, p.KeyN, "unknown key %q for a %s node set%s (allowed: %s)", p.Key, typ, suggest(p.Key, all), keyList(all))
				good = false
				continue
			}
		}
		if !d.fits(spec, v, ppath, p.Value) {
			good = false
			continue
		}
		switch p.Key {
		case "type":
		case "at_least":
			ns.AtLeast, _ = toInt(v)
		case "limit":
			ns.Limit, _ = toInt(v)
		case "when_empty":
			ns.WhenEmpty = v.(string)
		case "empty_ok":
			ns.EmptyOK = v.(bool)
		case "test":
			ns.Test = v.(bool)
		case "uses":
			for _, u := range v.([]any) {
				ns.Uses = append(ns.Uses, u.(string))
			}
		default:
			ns.Properties[p.Key] = v
		}
	}
	ns.Type = typ
	if ns.EmptyOK {
		if atLeastGiven && ns.AtLeast > 0 {
			d.probs.add(joinPath(path, "at_least"), nodesOf["at_least"].Value, "at_least %d contradicts empty_ok: true (an empty set would be accepted)", ns.AtLeast)
			good = false
		}
		ns.AtLeast = 0
	}
	for _, k := range sortedKeys(specs) {
		if _, has := vals[k]; specs[k].required && !has {
			d.probs.add(joinPath(path, k), e.KeyN, "required key %q is missing for a %s node set", k, typ)
			good = false
		}
	}
	if key, msg := checkNodeSetKeys(typ, vals); msg != "" {
		at := e.KeyN
		if p, ok := nodesOf[key]; ok {
			at = p.KeyN
		}
		d.probs.add(joinPath(path, key), at, "%s", msg)
		good = false
	}
	// A node set of a known type is declared even when some of its values are wrong: their
	// problems are reported, and references to it are not reported as undeclared besides.
	return ns, good || known
}

// allNodeKeys merges the common and type-specific node set keys.
func allNodeKeys(specs map[string]propSpec) map[string]propSpec {
	all := map[string]propSpec{}
	for k, v := range commonNodeKeys {
		all[k] = v
	}
	for k, v := range specs {
		all[k] = v
	}
	return all
}

// DataStore is a declared key/value store. Its properties depend on the store type and are
// interpreted (and rendered) by the runner.
type DataStore struct {
	// Type is the store type, one of StoreTypes.
	Type string
	// Properties are the other keys, un-rendered.
	Properties map[string]any
	// Line is the YAML line of the store's name.
	Line int
}

// dataStores decodes the `data_stores` map. Only `type` is checked here (against StoreTypes);
// each store type's own properties are checked by the store that uses them.
func (d *decoder) dataStores(n *yaml.Node) map[string]DataStore {
	entries, ok := d.pairs(n, "data_stores", 1)
	if !ok {
		return nil
	}
	out := map[string]DataStore{}
	for _, e := range entries {
		path := joinPath("data_stores", e.Key)
		if !nameRe.MatchString(e.Key) {
			d.probs.add(path, e.KeyN, "data store name must match [a-zA-Z0-9_-]+")
		}
		v, ok := d.value(e.Value, path, 2)
		if !ok {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			d.probs.add(path, e.Value, "must be a map, got %s", describe(v))
			continue
		}
		ds := DataStore{Properties: m, Line: e.KeyN.Line}
		switch t := m["type"].(type) {
		case string:
			if _, known := StoreTypes[t]; !known {
				d.probs.add(joinPath(path, "type"), e.KeyN, "unknown data store type %q (known: %s)%s", t, keyList(StoreTypes), suggest(t, StoreTypes))
			}
			ds.Type = t
		case nil:
			ds.Type = DefaultStoreType
		default:
			d.probs.add(joinPath(path, "type"), e.KeyN, "must be a string, got %s", describe(t))
		}
		delete(m, "type")
		out[e.Key] = ds
	}
	return out
}
