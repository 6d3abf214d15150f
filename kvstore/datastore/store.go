package datastore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Data store types, as a playbook's data_stores entry names them.
const (
	// TypeKV is a JetStream KV bucket, shared between runs. It is the default type.
	TypeKV = "kv"
	// TypeMemory is a store that lives for one run: its keys are dropped when the run ends.
	TypeMemory = "memory"
	// TypeEnvironment is the environment of the worker process that runs the task.
	TypeEnvironment = "environment"
	// TypeFile is a JSON or YAML file holding a map, on the worker's host.
	TypeFile = "file"
	// TypeShell is an external program speaking Choria's shell data store protocol.
	TypeShell = "shell"
	// TypeEtcd is an etcd v3 cluster, through its JSON gateway.
	TypeEtcd = "etcd"
	// TypeConsul is a Consul agent's KV store.
	TypeConsul = "consul"
)

// Store is one data store: a map of keys to values. Every backend implements it; those that can
// also hold locks (CanLock) have a Locker too, from OpenLocker.
type Store interface {
	// Get returns the value under key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (any, error)
	// Put stores value under key.
	Put(ctx context.Context, key string, value any) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Open builds the store spec declares. runID scopes memory stores; js serves kv and memory
// stores and may be nil for the others. An unknown type or a missing, unknown or badly typed
// property is refused with an error wrapping ErrStoreSpec that names the store and property.
// Open does no I/O for HTTP stores: an unreachable etcd or Consul shows on first use.
func Open(ctx context.Context, js jetstream.JetStream, spec protocol.StoreSpec, runID string) (Store, error) {
	return open(ctx, js, spec, runID)
}

// Check validates spec without opening anything, for validating a playbook before its run: the
// type is known and every property is known and well typed.
func Check(spec protocol.StoreSpec) error {
	_, _, err := parseSpec(spec)
	return err
}

// storeType applies the default type.
func storeType(typ string) string {
	if typ == "" {
		return TypeKV
	}
	return typ
}

// config is a parsed store spec: the backend-specific settings plus the common ones.
type config struct {
	// lockWait is the store's timeout property as a lock wait (kv, etcd, consul).
	lockWait time.Duration
	// ttl is the lease of a lock: how long a crashed holder keeps it.
	ttl time.Duration
	// backend is the type-specific configuration, e.g. *fileConfig.
	backend any
}

// parseSpec checks spec and returns its type and configuration.
func parseSpec(spec protocol.StoreSpec) (string, *config, error) {
	typ := storeType(spec.Type)
	name := spec.Name
	if name == "" {
		name = "(unnamed)"
	}
	p := newProps(name, spec.Properties)
	if t, ok := spec.Properties["type"]; ok && t != nil && t != spec.Type && !(spec.Type == "" && t == TypeKV) {
		return "", nil, p.errf("type", "property %v disagrees with the store's type %q", t, spec.Type)
	}
	cfg := &config{}
	var err error
	switch typ {
	case TypeKV:
		cfg.backend, err = parseKV(p)
	case TypeMemory:
		cfg.backend, err = nil, nil
	case TypeEnvironment:
		cfg.backend, err = parseEnv(p)
	case TypeFile:
		cfg.backend, err = parseFile(p)
	case TypeShell:
		cfg.backend, err = parseShell(p)
	case TypeEtcd:
		cfg.backend, err = parseEtcd(p)
	case TypeConsul:
		cfg.backend, err = parseConsul(p)
	default:
		return "", nil, fmt.Errorf("%w: data store %s: property type: unknown type %q (known: kv, memory, environment, file, shell, etcd, consul)", ErrStoreSpec, name, spec.Type)
	}
	if err != nil {
		return "", nil, err
	}
	if CanLock(typ) {
		if cfg.lockWait, err = p.seconds("timeout", DefaultLockTimeout, 0); err != nil {
			return "", nil, err
		}
		minTTL, defTTL := time.Second, 30*time.Second
		if typ == TypeConsul {
			// Consul refuses session TTLs under 10s.
			minTTL, defTTL = 10*time.Second, 10*time.Second
		}
		if cfg.ttl, err = p.seconds("ttl", defTTL, minTTL); err != nil {
			return "", nil, err
		}
		// Leases are whole seconds in etcd and Consul, and in NATS message TTLs too.
		cfg.ttl = cfg.ttl.Round(time.Second)
	} else if typ != TypeShell {
		// Choria accepts timeout on every store; here it can only be a lock wait, which these
		// stores never use, so it is accepted and ignored.
		if _, err := p.seconds("timeout", 0, 0); err != nil {
			return "", nil, err
		}
	}
	if err := p.done(); err != nil {
		return "", nil, err
	}
	return typ, cfg, nil
}

// open builds the backend of spec.
func open(ctx context.Context, js jetstream.JetStream, spec protocol.StoreSpec, runID string) (Store, error) {
	typ, cfg, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch typ {
	case TypeKV:
		return openKV(ctx, js, spec.Name, cfg)
	case TypeMemory:
		return openMemory(ctx, js, runID)
	case TypeEnvironment:
		return newEnvStore(cfg.backend.(*envConfig)), nil
	case TypeFile:
		return newFileStore(cfg.backend.(*fileConfig)), nil
	case TypeShell:
		return newShellStore(cfg.backend.(*shellConfig)), nil
	case TypeEtcd:
		return newEtcdStore(cfg.backend.(*etcdConfig), cfg), nil
	case TypeConsul:
		return newConsulStore(cfg.backend.(*consulConfig), cfg), nil
	}
	return nil, fmt.Errorf("%w: data store %s: type %q has no backend", ErrStoreSpec, spec.Name, typ)
}

// textValue is the text form of a value for stores that hold strings (environment, shell, etcd,
// consul): a string as is, anything else as JSON.
func textValue(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("value cannot be encoded: %w", err)
	}
	return string(b), nil
}
