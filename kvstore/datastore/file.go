package datastore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// File formats.
const (
	formatJSON = "json"
	formatYAML = "yaml"
)

// fileConfig is a file store's configuration.
type fileConfig struct {
	path   string
	format string
	create bool
}

func parseFile(p *props) (*fileConfig, error) {
	path, err := p.str("file", "")
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, p.errf("file", "is required")
	}
	if path == "~" || strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, p.errf("file", "cannot expand ~: %v", err)
		}
		path = filepath.Join(home, path[1:])
	}
	format, err := p.str("format", "")
	if err != nil {
		return nil, err
	}
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			format = formatJSON
		case ".yaml", ".yml":
			format = formatYAML
		default:
			return nil, p.errf("format", "is required when the file name does not end in .json, .yaml or .yml")
		}
	}
	if format != formatJSON && format != formatYAML {
		return nil, p.errf("format", "must be json or yaml, got %q", format)
	}
	create, err := p.boolean("create", false)
	if err != nil {
		return nil, err
	}
	return &fileConfig{path: path, format: format, create: create}, nil
}

// fileStore keeps a map in a JSON or YAML file on the worker's host. Writes replace the file
// atomically (a reader sees the old or the new map, never half of one) and are serialized by an
// flock on a companion ".lock" file, so concurrent writers, in one process or several, never lose
// each other's updates. The data file itself cannot carry the lock: the rename replaces its inode.
type fileStore struct {
	c *fileConfig
}

func newFileStore(c *fileConfig) *fileStore { return &fileStore{c: c} }

// load reads the map; a missing file is an empty map when create is set.
func (s *fileStore) load() (map[string]any, fs.FileMode, error) {
	data, err := os.ReadFile(s.c.path)
	if errors.Is(err, fs.ErrNotExist) && s.c.create {
		return map[string]any{}, 0o600, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("file %s: %w (set create: true to start it empty)", s.c.path, err)
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(s.c.path); err == nil {
		mode = fi.Mode().Perm()
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(data)) == 0 {
		return m, mode, nil
	}
	var v any
	switch s.c.format {
	case formatJSON:
		err = json.Unmarshal(data, &v)
	case formatYAML:
		err = yaml.Unmarshal(data, &v)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("file %s is not valid %s: %w", s.c.path, s.c.format, err)
	}
	switch x := v.(type) {
	case map[string]any:
		m = x
	case nil:
	default:
		return nil, 0, fmt.Errorf("file %s must hold a map, holds %T", s.c.path, v)
	}
	return m, mode, nil
}

// Get returns the value under key, keeping its type (the file store is the one that does).
func (s *fileStore) Get(_ context.Context, key string) (any, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	m, _, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	v, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("read %s: no such key in %s: %w", key, s.c.path, ErrNotFound)
	}
	return v, nil
}

// Put sets key in the file.
func (s *fileStore) Put(_ context.Context, key string, value any) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	return s.update("write "+key, func(m map[string]any) bool { m[key] = value; return true })
}

// Delete removes key from the file; the file is not rewritten when the key is absent.
func (s *fileStore) Delete(_ context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	return s.update("delete "+key, func(m map[string]any) bool {
		_, ok := m[key]
		delete(m, key)
		return ok
	})
}

// update runs a read-modify-write of the whole file under the lock; change reports whether it
// changed anything.
func (s *fileStore) update(op string, change func(map[string]any) bool) error {
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer unlock()
	m, mode, err := s.load()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !change(m) {
		return nil
	}
	if err := s.save(m, mode); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// lock takes the exclusive flock on the companion lock file, blocking until it is free.
func (s *fileStore) lock() (func(), error) {
	f, err := os.OpenFile(s.c.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file %s: %w", s.c.path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file %s: %w", s.c.path, err)
	}
	// Closing the descriptor releases the flock.
	return func() { f.Close() }, nil
}

// save writes m to a temporary file in the same directory and renames it over the data file.
func (s *fileStore) save(m map[string]any, mode fs.FileMode) error {
	var data []byte
	var err error
	switch s.c.format {
	case formatJSON:
		data, err = json.MarshalIndent(m, "", "  ")
		data = append(data, '\n')
	case formatYAML:
		data, err = yaml.Marshal(m)
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", s.c.path, err)
	}
	dir := filepath.Dir(s.c.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.c.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", s.c.path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", s.c.path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", s.c.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", s.c.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", s.c.path, err)
	}
	if err := os.Rename(tmp.Name(), s.c.path); err != nil {
		return fmt.Errorf("write %s: %w", s.c.path, err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
