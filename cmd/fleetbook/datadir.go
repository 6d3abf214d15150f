package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/fleetbook/fleetbook/auth"
)

// lockFile is the file in a data directory that the process serving it holds locked.
const lockFile = "LOCK"

// dataDir is a data directory this process serves, held by an exclusive lock so that a second
// fleetbook cannot serve the same store (two servers writing one store corrupt it).
type dataDir struct {
	path string
	lock *os.File
}

// errDataDirInUse is the error of a data directory another process serves.
var errDataDirInUse = errors.New("in use by another fleetbook")

// lockDataDir creates dir if needed and takes its lock, or says who holds it.
func lockDataDir(dir string) (*dataDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, exitf(exitRefused, "data dir %q: %v", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, exitf(exitInfra, "create data dir %s: %v", abs, err)
	}
	f, err := os.OpenFile(filepath.Join(abs, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, exitf(exitInfra, "data dir %s is not writable: %v", abs, err)
		}
		return nil, exitf(exitInfra, "data dir %s: %v", abs, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(f.Name())
		f.Close()
		who := ""
		if pid := strings.TrimSpace(string(holder)); pid != "" {
			who = " (pid " + pid + ")"
		}
		return nil, exitf(exitInfra, "data dir %s is %w%s; stop it, or give this one another --data-dir", abs, errDataDirInUse, who)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDir{path: abs, lock: f}, nil
}

// lost reports why the data directory can no longer be trusted to hold what the server writes:
// it (or its lock file) was deleted or replaced while this process served it.
func (d *dataDir) lost() error {
	held, err := d.lock.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(filepath.Join(d.path, lockFile))
	if err != nil {
		return fmt.Errorf("data dir %s was removed: %w", d.path, err)
	}
	if !os.SameFile(held, now) {
		return fmt.Errorf("data dir %s was replaced", d.path)
	}
	return nil
}

// release lets the directory go; the lock dies with the process anyway.
func (d *dataDir) release() {
	if d != nil && d.lock != nil {
		_ = d.lock.Close()
		d.lock = nil
	}
}

// encryptionKey is the JetStream encryption-at-rest key of the server: the operator's file, or
// the data directory's own key, which is made together with a new store. A store made before
// encryption existed stays readable: it is served unencrypted, and the operator is told.
func encryptionKey(cfg serverConfig, dataDir string) (string, error) {
	if cfg.encryptionKey != "" {
		data, err := os.ReadFile(cfg.encryptionKey)
		if err != nil {
			return "", exitf(exitRefused, "--encryption-key: %v", err)
		}
		key := strings.TrimSpace(string(data))
		if len(key) < 32 {
			return "", exitf(exitRefused, "--encryption-key %s: the key must be at least 32 characters", cfg.encryptionKey)
		}
		return key, nil
	}
	path := filepath.Join(dataDir, authDir, auth.JetStreamKeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", exitf(exitInfra, "encryption key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "jetstream")); err == nil {
		fmt.Fprintf(os.Stderr, "fleetbook: warning: the store in %s was made without encryption at rest and stays unencrypted\n", dataDir)
		return "", nil
	}
	if err := auth.EnsureKey(path); err != nil {
		return "", exitf(exitInfra, "encryption key: %v", err)
	}
	data, err = os.ReadFile(path)
	return strings.TrimSpace(string(data)), err
}
