package discover

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// Discovery timings. Config.Timeout bounds the whole discovery; the others bound one part of it
// and are shortened to fit.
const (
	// defaultTimeout bounds a discovery whose Config.Timeout is 0 (a discover job without one).
	defaultTimeout = time.Minute
	// defaultSourceTimeout bounds a shell or terraform node source program, as Choria's 10 s.
	defaultSourceTimeout = 10 * time.Second
	// defaultPingTimeout is how long test: true waits for every node's ping reply.
	defaultPingTimeout = 5 * time.Second
)

// Node set types a worker resolves. The playbook's types are the same names; fleet is this
// project's registry and mcollective its Choria-compatible alias.
const (
	typeYAML        = "yaml"
	typeShell       = "shell"
	typeTerraform   = "terraform"
	typePQL         = "pql"
	typeFleet       = "fleet"
	typeMcollective = "mcollective"
	typeConsul      = "consul"
	typeEtcd        = "etcd"
	typeData        = "data"
	typeHTTP        = "http"
)

// Config is what resolving a node set may reach. The discover task builds it per job from the
// worker's connection and options.
type Config struct {
	// NC carries the connectivity test's pings (test: true).
	NC *nats.Conn
	// JS reaches the node registry: fleet and mcollective node sets, and the uses check.
	JS jetstream.JetStream
	// PuppetDB is the base URL a pql node set queries when its url property names none.
	PuppetDB string
	// Caller names who asks, in the pings' RPC requests (the run id); it also scopes the memory
	// data store a data node set reads.
	Caller string
	// Grant, when the coordinator signed the discover job, is its any-node grant for the pings
	// (trust.PingGrant), forwarded unchanged; each ping's request id is then
	// trust.RequestID(Grant.JobID, identity), as the agents require.
	Grant *protocol.Grant
	// Timeout bounds the whole discovery; a source program and the wait for ping replies get
	// their own defaults, shortened to fit. Zero means one minute.
	Timeout time.Duration
}

// Nodes resolves the node set spec and returns its identities in the source's order, without
// repeats: it runs the source, keeps the first spec.Limit nodes, then runs the connectivity
// test (spec.Test) and the agent version check (spec.Uses) on what is kept. Any failure of the
// source, of the test or of the check is an error naming the nodes concerned; ctx's end stops
// the discovery with an error.
func Nodes(ctx context.Context, cfg Config, spec *protocol.DiscoverSpec) ([]string, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &discoverer{
		nc:            cfg.NC,
		js:            cfg.JS,
		puppetDB:      cfg.PuppetDB,
		http:          http.DefaultClient,
		sourceTimeout: min(defaultSourceTimeout, timeout),
		pingTimeout:   min(defaultPingTimeout, timeout),
		caller:        cfg.Caller,
		grant:         cfg.Grant,
	}
	return d.discover(ctx, spec)
}

// discoverer resolves node sets: Config, with the timings of one discovery.
type discoverer struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	puppetDB string
	http     *http.Client
	// sourceTimeout bounds a source program; pingTimeout bounds the wait for ping replies.
	sourceTimeout time.Duration
	pingTimeout   time.Duration
	// caller names who asks, in RPC requests (the run id).
	caller string
	// grant authorises the pings, when the job was signed.
	grant *protocol.Grant
}

// discover runs the node set's source, de-duplicates, keeps the first Limit nodes, then runs the
// connectivity test and the agent version check on what is kept.
func (d *discoverer) discover(ctx context.Context, spec *protocol.DiscoverSpec) ([]string, error) {
	props := spec.Properties
	if props == nil {
		props = map[string]any{}
	}
	var (
		nodes    []string
		registry map[string]*protocol.NodeInfo
		err      error
	)
	switch spec.Type {
	case typeYAML:
		nodes, err = yamlNodes(props)
	case typeShell:
		nodes, err = d.shellNodes(ctx, props)
	case typeTerraform:
		nodes, err = d.terraformNodes(ctx, props)
	case typePQL:
		nodes, err = d.pqlNodes(ctx, props)
	case typeFleet, typeMcollective:
		nodes, registry, err = d.fleetNodes(ctx, props)
	case typeConsul, typeEtcd, typeData, typeHTTP:
		// One request or two, each bounded like a source program.
		sctx, cancel := context.WithTimeout(ctx, d.sourceTimeout)
		switch spec.Type {
		case typeConsul:
			nodes, err = d.consulNodes(sctx, props)
		case typeEtcd:
			nodes, err = d.etcdNodes(sctx, props)
		case typeData:
			nodes, err = d.dataNodes(sctx, props)
		case typeHTTP:
			nodes, err = d.httpNodes(sctx, props)
		}
		cancel()
	default:
		err = fmt.Errorf("unknown node set type %q (known: consul, data, etcd, fleet, http, mcollective, pql, shell, terraform, yaml)", spec.Type)
	}
	if err != nil {
		return nil, err
	}
	nodes = playbooks.UniqueNodes(nodes)
	if spec.Limit > 0 && len(nodes) > spec.Limit {
		nodes = nodes[:spec.Limit]
	}
	if len(nodes) == 0 || (!spec.Test && len(spec.Uses) == 0) {
		return nodes, nil
	}
	for _, n := range nodes {
		if !validNodeIdentity(n) {
			return nil, fmt.Errorf("%q cannot be addressed as a node (empty, or contains whitespace, '*' or '>')", n)
		}
	}
	if spec.Test {
		if err := d.ping(ctx, nodes); err != nil {
			return nil, err
		}
	}
	if len(spec.Uses) > 0 {
		if registry == nil {
			if registry, err = d.registry(ctx); err != nil {
				return nil, err
			}
		}
		if err := checkUses(nodes, registry, spec.Uses); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// hostnameRe is an RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
var hostnameRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

// checkHostnames refuses the first name that is not a valid host name; from says where it came
// from.
func checkHostnames(names []string, from string) error {
	for i, n := range names {
		if len(n) > 253 || !hostnameRe.MatchString(n) {
			return fmt.Errorf("%q (%s %d) is not a valid hostname", n, from, i+1)
		}
	}
	return nil
}

// validNodeIdentity reports whether id can be put in a node's RPC subject.
func validNodeIdentity(id string) bool {
	return id != "" && !strings.ContainsAny(id, " \t\r\n*>") && !strings.HasPrefix(id, ".") &&
		!strings.HasSuffix(id, ".") && !strings.Contains(id, "..")
}

// stringProp reads a required string property; the error names it.
func stringProp(props map[string]any, key string, required bool) (string, error) {
	v, ok := props[key]
	if !ok || v == nil {
		if required {
			return "", fmt.Errorf("property %s is required", key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("property %s must be a string, got %T", key, v)
	}
	if required && strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("property %s must not be empty", key)
	}
	return s, nil
}
