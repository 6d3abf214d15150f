package auth

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// ServerConfig is the nats-server configuration that makes an existing server or cluster trust
// this setup: the operator JWT, the system account and a memory resolver preloaded with both
// accounts. It goes into every server's configuration file (include it, or paste it).
func (s *Setup) ServerConfig() (string, error) {
	_, sys, accounts, err := s.ServerTrust()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# fleetbook trust chain, made by `fleetbook auth server-config` from %s\n", s.Dir)
	fmt.Fprintf(&b, "operator: %s\n", s.operatorJWT)
	fmt.Fprintf(&b, "system_account: %s\n", sys)
	b.WriteString("resolver: MEMORY\nresolver_preload: {\n")
	for _, pub := range slices.Sorted(maps.Keys(accounts)) {
		fmt.Fprintf(&b, "  %s: %s\n", pub, accounts[pub])
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// UserKey reads the user key of a credentials file (a user JWT with its seed): the key a client
// signs its API requests with, and a coordinator its grants to node agents.
func UserKey(credsPath string) (nkeys.KeyPair, error) {
	data, err := os.ReadFile(credsPath)
	if err != nil {
		return nil, err
	}
	kp, err := jwt.ParseDecoratedUserNKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, credsPath, err)
	}
	return kp, nil
}

// RoleOf returns the role named in a credentials file's user JWT, and the node identity of an
// agent's, for messages and checks; it does not verify the JWT (the server does).
func RoleOf(credsPath string) (Role, string, error) {
	data, err := os.ReadFile(credsPath)
	if err != nil {
		return "", "", err
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrCorrupt, credsPath, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrCorrupt, credsPath, err)
	}
	role, identity, _ := strings.Cut(uc.Name, ":")
	return Role(role), identity, nil
}
