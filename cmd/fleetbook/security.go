package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/worker"
)

// security is what the services enforce and hold beyond their connection: the policy and the
// secrets key for coordinators, the secrets key for workers.
type security struct {
	coordinator []coordinator.Option
	worker      []worker.Option
}

// embeddedSecurity is the security of the services `up` and `run --embedded` run on setup: its
// policy (the default one made on first start) and its secrets key.
func embeddedSecurity(setup *auth.Setup) (security, error) {
	path, err := ensurePolicy(setup)
	if err != nil {
		return security{}, fmt.Errorf("policy: %w", err)
	}
	p, err := loadPolicy(path)
	if err != nil {
		return security{}, err
	}
	key, err := auth.ReadKey(setup.SecretsKeyPath())
	if err != nil {
		return security{}, err
	}
	signer, err := auth.UserKey(setup.CredsPath(auth.RoleCoordinator))
	if err != nil {
		return security{}, err
	}
	return security{
		coordinator: []coordinator.Option{p, coordinator.WithSecretsKey(key), coordinator.WithSigner(signer)},
		worker:      []worker.Option{worker.WithSecretsKey(key)},
	}, nil
}

// coordinatorKey is the public key node agents trust: the coordinator credential's in setup.
func coordinatorKey(setup *auth.Setup) (string, error) {
	kp, err := auth.UserKey(setup.CredsPath(auth.RoleCoordinator))
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// security is what a coordinator or worker process enforces: the policy file (given, or the
// data dir's; coordinators only, so policyPath "" for a worker) and the secrets key (given, or
// the data dir's), unless --no-auth says the server has no authentication to build on.
func (r *remoteFlags) security(policyPath string) (security, error) {
	if r.conn.noAuth {
		warnNoAuth()
		return security{}, nil
	}
	setupDir := filepath.Join(r.conn.dataDir, authDir)
	key, retired, err := r.secretsKeys(setupDir)
	if err != nil {
		return security{}, err
	}
	sec := security{
		coordinator: []coordinator.Option{coordinator.WithSecretsKey(key, retired...)},
		worker:      []worker.Option{worker.WithSecretsKey(key, retired...)},
	}
	if r.conn.role != auth.RoleCoordinator {
		return sec, nil
	}
	// The coordinator signs what node agents act on with its credential's key.
	if r.conn.key == nil {
		return security{}, fmt.Errorf("a coordinator signs node requests with its credential's key: connect with --creds or --nkey (a user and password or a token carry no key), or say --no-auth")
	}
	sec.coordinator = append(sec.coordinator, coordinator.WithSigner(r.conn.key))
	if policyPath == "" {
		policyPath = filepath.Join(setupDir, policyFile)
		if _, err := os.Stat(policyPath); err != nil {
			return security{}, fmt.Errorf("--policy FILE is required: without one every caller could do everything (make one with `fleetbook auth init`, see docs/security.md), or say --no-auth for a server without authentication")
		}
	}
	p, err := loadPolicy(policyPath)
	if err != nil {
		return security{}, err
	}
	sec.coordinator = append(sec.coordinator, p)
	return sec, nil
}

// secretsKeys reads --secrets-key (default the setup's) and --retired-secrets-key.
func (r *remoteFlags) secretsKeys(setupDir string) ([]byte, [][]byte, error) {
	path := r.secretsKey
	if path == "" {
		path = (&auth.Setup{Dir: setupDir}).SecretsKeyPath()
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("--secrets-key FILE is required: coordinators and workers seal sensitive inputs with it (`fleetbook auth init` makes one), or say --no-auth for a server without authentication")
		}
	}
	key, err := auth.ReadKey(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--secrets-key: %w", err)
	}
	var retired [][]byte
	for _, p := range r.retiredKeys {
		k, err := auth.ReadKey(p)
		if err != nil {
			return nil, nil, fmt.Errorf("--retired-secrets-key: %w", err)
		}
		retired = append(retired, k)
	}
	return key, retired, nil
}
