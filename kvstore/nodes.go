package kvstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// DefaultNodesTTL is how long a node stays in the registry after its last refresh, when
// Config.NodesTTL is 0. Agents refresh every third of it, so one lost refresh does not drop a
// live node.
const DefaultNodesTTL = 90 * time.Second

// ValidIdentity reports whether s can name a node: it is a registry key and the middle of the
// node's RPC subject. That is letters, digits, '_' and '-' in dot-separated tokens
// (web01.example.net is fine; "a..b", ".a" or "a*" are not), at most 255 bytes. It is a loop,
// not a regexp, because the rpc fan-out checks every target.
func ValidIdentity(s string) bool {
	if s == "" || len(s) > 255 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && s[i-1] != '.':
		default:
			return false
		}
	}
	return true
}

// nodesBucket is the node registry's configuration. Liveness is the bucket's TTL (MaxAge): every
// refresh is a new message, and a node that stops refreshing simply ages out, with no reaper.
func (c Config) nodesBucket() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      protocol.NodesBucket,
		Description: "fleetbook node registry: one NodeInfo per live node agent",
		History:     1,
		TTL:         orDefault(c.NodesTTL, DefaultNodesTTL),
		Storage:     c.storage(),
		Replicas:    c.replicas(),
	}
}

// Nodes is the node registry: one protocol.NodeInfo per live node agent, keyed by identity.
type Nodes struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

// OpenNodes binds to the node registry, creating the bucket with cfg when it does not exist yet (or, when cfg
// says Await, waiting for a coordinator to),
// so a node agent can start before any coordinator. It never changes an existing bucket: the
// coordinators' Provision owns its configuration.
func OpenNodes(ctx context.Context, js jetstream.JetStream, cfg Config) (*Nodes, error) {
	bc := cfg.nodesBucket()
	kv, err := openBucket(ctx, js, bc.Bucket, cfg.creating(ctx, js, &bc))
	if err != nil {
		return nil, err
	}
	return &Nodes{js: js, kv: kv}, nil
}

// TTL is how long a registration lives without a refresh.
func (n *Nodes) TTL(ctx context.Context) (time.Duration, error) {
	st, err := n.kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("status of bucket %s: %w", protocol.NodesBucket, err)
	}
	return st.TTL(), nil
}

// Register stores (or refreshes) one node's registration, stamping Seen with the current time.
func (n *Nodes) Register(ctx context.Context, info protocol.NodeInfo) error {
	data, err := encodeNode(&info)
	if err != nil {
		return err
	}
	_, err = n.kv.Put(ctx, info.Identity, data)
	return translate("register node", info.Identity, err)
}

// RegisterAll stores many registrations with asynchronous publishes, at most window in flight,
// so a simulated fleet of thousands registers in one burst of pipelined writes instead of
// thousands of round trips. It returns the first error, after every publish has settled.
func (n *Nodes) RegisterAll(ctx context.Context, infos []protocol.NodeInfo, window int) error {
	window = max(window, 1)
	acks := make([]jetstream.PubAckFuture, 0, window)
	var first error
	settle := func() {
		for _, f := range acks {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				if first == nil {
					first = fmt.Errorf("register node %s: %w", f.Msg().Subject, err)
				}
			case <-ctx.Done():
				if first == nil {
					first = ctx.Err()
				}
			}
		}
		acks = acks[:0]
	}
	for i := range infos {
		data, err := encodeNode(&infos[i])
		if err != nil {
			return err
		}
		// A KV put is a publish on $KV.<bucket>.<key>; the bucket's stream takes it like any Put.
		f, err := n.js.PublishAsync(protocol.BucketSubject(protocol.NodesBucket, infos[i].Identity), data)
		if err != nil {
			settle()
			return fmt.Errorf("register node %s: %w", infos[i].Identity, err)
		}
		if acks = append(acks, f); len(acks) == window {
			settle()
		}
	}
	settle()
	return first
}

// Deregister removes a node at once, for an agent that stops cleanly; a node that dies ages out
// with the bucket's TTL instead.
func (n *Nodes) Deregister(ctx context.Context, identity string) error {
	err := n.kv.Delete(ctx, identity)
	return translate("deregister node", identity, err)
}

// Get loads one node's registration; ErrNotFound when it is not registered (or expired).
func (n *Nodes) Get(ctx context.Context, identity string) (*protocol.NodeInfo, error) {
	e, err := n.kv.Get(ctx, identity)
	if err != nil {
		return nil, translate("get node", identity, err)
	}
	var info protocol.NodeInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return nil, fmt.Errorf("decode node %s: %w", identity, err)
	}
	return &info, nil
}

// ListNodes returns every live node, sorted by identity. It reads the bucket with one watcher (an
// ordered consumer streaming the latest value of every key), not a Get per key, so 10,000 nodes
// cost one pass over the stream. A registration that cannot be decoded is skipped: one bad
// agent must not hide the fleet.
func (n *Nodes) ListNodes(ctx context.Context) ([]protocol.NodeInfo, error) {
	w, err := n.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var nodes []protocol.NodeInfo
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list nodes: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list nodes: watcher stopped")
			}
			// nil marks the end of the values present when the watch started.
			if e == nil {
				sort.Slice(nodes, func(i, j int) bool { return nodes[i].Identity < nodes[j].Identity })
				return nodes, nil
			}
			var info protocol.NodeInfo
			if json.Unmarshal(e.Value(), &info) == nil {
				nodes = append(nodes, info)
			}
		}
	}
}

func encodeNode(info *protocol.NodeInfo) ([]byte, error) {
	if !ValidIdentity(info.Identity) {
		return nil, fmt.Errorf("register node: identity %q is not valid (letters, digits, '_', '-', in '.'-separated tokens)", info.Identity)
	}
	if info.Version == 0 {
		info.Version = protocol.NodeInfoVersion
	}
	info.Seen = time.Now().UTC()
	// A caller that keeps its registrations between refreshes (RegisterAll's slice, which the
	// agent reuses) keeps the time of the first one.
	if info.Registered.IsZero() {
		info.Registered = info.Seen
	}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("encode node %s: %w", info.Identity, err)
	}
	return data, nil
}
