package kvstore

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// agentsBucket is the agent definitions bucket: definitions live as long as a node keeps
// putting them, like registrations.
func (c Config) agentsBucket() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      protocol.AgentsBucket,
		Description: "fleetbook agent definitions published by node agents, keyed name.version",
		History:     1,
		TTL:         orDefault(c.NodesTTL, DefaultNodesTTL),
		Storage:     c.storage(),
		Replicas:    c.replicas(),
	}
}

// Agents holds the agent definitions node agents publish (protocol.AgentsBucket). Values are
// opaque JSON here: the definition language is playbooks'.
type Agents struct {
	kv jetstream.KeyValue
}

// OpenAgents binds to the agent definitions bucket, creating it with cfg when it does not exist
// yet, so a node agent can start before any coordinator.
func OpenAgents(ctx context.Context, js jetstream.JetStream, cfg Config) (*Agents, error) {
	bc := cfg.agentsBucket()
	kv, err := openBucket(ctx, js, bc.Bucket, cfg.creating(ctx, js, &bc))
	if err != nil {
		return nil, err
	}
	return &Agents{kv: kv}, nil
}

// Publish stores (or refreshes) the definition of version of agent name.
func (a *Agents) Publish(ctx context.Context, name, version string, definition []byte) error {
	key := protocol.AgentKey(name, version)
	_, err := a.kv.Put(ctx, key, definition)
	return translate("publish agent definition", key, err)
}

// Versions returns every published definition of agent name, by key; none is an empty map.
func (a *Agents) Versions(ctx context.Context, name string) (map[string][]byte, error) {
	keys, err := a.kv.ListKeysFiltered(ctx, protocol.AgentKeysFilter(name))
	if err != nil {
		return nil, translate("list agent definitions", name, err)
	}
	out := map[string][]byte{}
	for key := range keys.Keys() {
		e, err := a.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // aged out between the listing and now
		}
		if err != nil {
			return nil, translate("read agent definition", key, err)
		}
		out[key] = e.Value()
	}
	return out, nil
}
