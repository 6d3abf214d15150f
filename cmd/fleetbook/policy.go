package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/policy"
)

// policyFile is the policy a setup's coordinators enforce, next to the credentials.
const policyFile = "policy.yaml"

// ensurePolicy writes the default policy of setup unless it has one: the operator credential may
// do everything, the viewer read, and the console act for the identities that sign in to it. Operators edit it to name more identities (docs/security.md).
func ensurePolicy(s *auth.Setup) (string, error) {
	path := filepath.Join(s.Dir, policyFile)
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return path, err
	}
	doc, err := defaultPolicy(s)
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(doc), 0o600)
}

// defaultPolicy is the policy fleetbook makes for the operator, viewer and console credentials
// of s. The console may do nothing of its own: only what the identities that sign in to it may.
func defaultPolicy(s *auth.Setup) (string, error) {
	keys := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.RoleOperator, auth.RoleViewer, auth.RoleConsole} {
		kp, err := auth.UserKey(s.CredsPath(r))
		if err != nil {
			return "", err
		}
		keys[r], _ = kp.PublicKey()
	}
	return fmt.Sprintf(`# Who may do what through fleetbook's API (docs/security.md, "The policy file").
# Made by fleetbook for the credentials in creds/; coordinators read it when they start.
identities:
  operator: %s
  viewer: %s
  console: %s
rules:
  - who: [operator]
    allow: [submit, cancel, prune, read, audit, schedule]
  - who: [viewer]
    allow: [read]
  - who: [console]
    allow: [console]
`, keys[auth.RoleOperator], keys[auth.RoleViewer], keys[auth.RoleConsole]), nil
}

// rotatePolicy runs rotate and, if the setup's policy is still the default one fleetbook made,
// makes it again for the new keys; a policy the operator edited is theirs to update.
func rotatePolicy(s *auth.Setup, rotate func() error) (rewritten bool, err error) {
	path := filepath.Join(s.Dir, policyFile)
	before, _ := defaultPolicy(s)
	have, readErr := os.ReadFile(path)
	if err := rotate(); err != nil {
		return false, err
	}
	if readErr != nil || string(have) != before {
		return false, nil
	}
	doc, err := defaultPolicy(s)
	if err != nil {
		return false, err
	}
	return true, os.WriteFile(path, []byte(doc), 0o600)
}

// loadPolicy reads the policy file a coordinator enforces; its errors name the file and lines.
func loadPolicy(path string) (coordinator.Option, error) {
	p, err := policy.Load(path)
	if err != nil {
		return nil, exitf(exitRefused, "%v", err)
	}
	return coordinator.WithPolicy(p), nil
}
