package datastore

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// envConfig is an environment store's configuration.
type envConfig struct {
	prefix string
}

func parseEnv(p *props) (*envConfig, error) {
	prefix, err := p.str("prefix", "")
	if err != nil {
		return nil, err
	}
	return &envConfig{prefix: prefix}, nil
}

// envStore reads and writes the environment of the worker process running the task: a write is
// seen by later tasks only if they run in the same worker process (and by the commands it
// starts), never by other workers.
type envStore struct {
	prefix string
}

func newEnvStore(c *envConfig) *envStore { return &envStore{prefix: c.prefix} }

func (s *envStore) name(key string) (string, error) {
	n := s.prefix + key
	if key == "" || strings.ContainsAny(n, "=\x00") {
		return "", fmt.Errorf("%w: %q is not a usable environment variable name", ErrInvalidKey, n)
	}
	return n, nil
}

// writable is name for a write: a variable the process's other work depends on is refused, since
// a value set here reaches every later task of every run this process executes (PATH,
// LD_PRELOAD or BASH_ENV would make them run the playbook's code; NATS_* and FLEETBOOK_* are the
// process's connection and settings).
func (s *envStore) writable(key string) (string, error) {
	n, err := s.name(key)
	if err == nil && protocol.ProtectedEnv(n) {
		err = fmt.Errorf("%w: environment variable %s is fleetbook's or changes how programs run; an environment store may not set it", ErrInvalidKey, n)
	}
	return n, err
}

// Get returns the variable's value; an unset variable is ErrNotFound (an empty one is "").
func (s *envStore) Get(_ context.Context, key string) (any, error) {
	n, err := s.name(key)
	if err != nil {
		return nil, err
	}
	if protocol.CredentialEnv(n) {
		return nil, fmt.Errorf("%w: environment variable %s carries the process's NATS credentials; an environment store may not read it", ErrInvalidKey, n)
	}
	v, ok := os.LookupEnv(n)
	if !ok {
		return nil, fmt.Errorf("read %s: environment variable %s is not set: %w", key, n, ErrNotFound)
	}
	return v, nil
}

// Put sets the variable to value's text form.
func (s *envStore) Put(_ context.Context, key string, value any) error {
	n, err := s.writable(key)
	if err != nil {
		return err
	}
	v, err := textValue(value)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := os.Setenv(n, v); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Delete unsets the variable.
func (s *envStore) Delete(_ context.Context, key string) error {
	n, err := s.writable(key)
	if err != nil {
		return err
	}
	if err := os.Unsetenv(n); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
