package datastore

import (
	"context"
	"fmt"
	"os"
	"strings"
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

// Get returns the variable's value; an unset variable is ErrNotFound (an empty one is "").
func (s *envStore) Get(_ context.Context, key string) (any, error) {
	n, err := s.name(key)
	if err != nil {
		return nil, err
	}
	v, ok := os.LookupEnv(n)
	if !ok {
		return nil, fmt.Errorf("read %s: environment variable %s is not set: %w", key, n, ErrNotFound)
	}
	return v, nil
}

// Put sets the variable to value's text form.
func (s *envStore) Put(_ context.Context, key string, value any) error {
	n, err := s.name(key)
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
	n, err := s.name(key)
	if err != nil {
		return err
	}
	if err := os.Unsetenv(n); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
