package worker

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

// Discovery timings. A discover job's Timeout bounds the whole job; the others bound one part
// of it and are shortened to fit.
const (
	// defaultDiscoverTimeout bounds a discover job whose Job.Timeout is 0.
	defaultDiscoverTimeout = time.Minute
	// defaultSourceTimeout bounds a shell or terraform node source program, as Choria's 10 s.
	defaultSourceTimeout = 10 * time.Second
	// defaultPingTimeout is how long test: true waits for every node's ping reply.
	defaultPingTimeout = 5 * time.Second
)

// Node set types a worker resolves. The playbook's types are the same names; fleet is this
// project's registry and mcollective its Choria-compatible alias.
const (
	discoverYAML        = "yaml"
	discoverShell       = "shell"
	discoverTerraform   = "terraform"
	discoverPQL         = "pql"
	discoverFleet       = "fleet"
	discoverMcollective = "mcollective"
)

// discoverer resolves node sets. It is built per job from the worker's connection and options.
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
}

// runDiscoverJob resolves the job's node set and answers the identities as Result.Data, a
// []string in the source's order, without repeats. Any failure of the source, of the
// connectivity test or of the agent version check fails the result with a message naming the
// node set, and the nodes concerned.
func (r *run) runDiscoverJob(job *protocol.Job) (protocol.Result, error) {
	res := r.result(job, time.Now().UTC())
	res.ExitCode = -1
	spec := job.Discover
	if spec == nil {
		res.Msg = "discover job has no discover spec"
		return res, nil
	}
	timeout := job.Timeout
	if timeout <= 0 {
		timeout = defaultDiscoverTimeout
	}
	ctx, cancel := context.WithTimeout(r.hard, timeout)
	defer cancel()
	d := &discoverer{
		nc:            r.w.nc,
		js:            r.js,
		puppetDB:      r.w.opts.puppetDBURL(),
		http:          http.DefaultClient,
		sourceTimeout: min(defaultSourceTimeout, timeout),
		pingTimeout:   min(defaultPingTimeout, timeout),
		caller:        job.ID.RunID,
	}
	nodes, err := d.discover(ctx, spec)
	if r.hard.Err() != nil {
		return protocol.Result{}, errInterrupted
	}
	res.EndedAt = time.Now().UTC()
	if err != nil {
		res.Msg = fmt.Sprintf("node set %s: %v", spec.Name, err)
		return res, nil
	}
	res.Success, res.ExitCode = true, 0
	res.Msg = fmt.Sprintf("node set %s: discovered %d nodes", spec.Name, len(nodes))
	res.Data = nodes
	return res, nil
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
	case discoverYAML:
		nodes, err = yamlNodes(props)
	case discoverShell:
		nodes, err = d.shellNodes(ctx, props)
	case discoverTerraform:
		nodes, err = d.terraformNodes(ctx, props)
	case discoverPQL:
		nodes, err = d.pqlNodes(ctx, props)
	case discoverFleet, discoverMcollective:
		nodes, registry, err = d.fleetNodes(ctx, props)
	default:
		err = fmt.Errorf("unknown node set type %q (known: fleet, mcollective, pql, shell, terraform, yaml)", spec.Type)
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
