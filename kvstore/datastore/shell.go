package datastore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// shellConfig is a shell store's configuration.
type shellConfig struct {
	command string
	timeout time.Duration
	cwd     string
	env     map[string]string
}

// DefaultShellTimeout bounds one call of a shell store's command when its timeout property does
// not say: Choria's 10 seconds.
const DefaultShellTimeout = 10 * time.Second

func parseShell(p *props) (*shellConfig, error) {
	c := &shellConfig{}
	var err error
	if c.command, err = p.str("command", ""); err != nil {
		return nil, err
	}
	if c.command == "" {
		return nil, p.errf("command", "is required")
	}
	if c.timeout, err = p.seconds("timeout", DefaultShellTimeout, time.Millisecond); err != nil {
		return nil, err
	}
	if c.cwd, err = p.str("cwd", ""); err != nil {
		return nil, err
	}
	if c.env, err = p.stringMap("environment"); err != nil {
		return nil, err
	}
	return c, nil
}

// shellKeyRe is Choria's key syntax for shell stores: the key reaches a program's argv.
var shellKeyRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// shellStore runs an external program for every operation, with Choria's protocol:
// "COMMAND --read KEY", "--write KEY" (value in CHORIA_DATA_VALUE) or "--delete KEY", and
// CHORIA_DATA_KEY and CHORIA_DATA_ACTION in its environment. The command is run directly, with
// the key as an argument, never through a shell.
type shellStore struct {
	c *shellConfig
}

func newShellStore(c *shellConfig) *shellStore { return &shellStore{c: c} }

// Get returns the program's standard output without its trailing newline, as a string. A program
// that fails is an error, not ErrNotFound: the protocol cannot tell a missing key apart.
func (s *shellStore) Get(ctx context.Context, key string) (any, error) {
	out, err := s.run(ctx, "read", key, nil)
	if err != nil {
		return nil, err
	}
	return strings.TrimSuffix(strings.TrimSuffix(out, "\n"), "\r"), nil
}

// Put runs the program with --write; the value goes in CHORIA_DATA_VALUE as text.
func (s *shellStore) Put(ctx context.Context, key string, value any) error {
	v, err := textValue(value)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	_, err = s.run(ctx, "write", key, &v)
	return err
}

// Delete runs the program with --delete.
func (s *shellStore) Delete(ctx context.Context, key string) error {
	_, err := s.run(ctx, "delete", key, nil)
	return err
}

// run calls the program for action on key and returns its standard output.
func (s *shellStore) run(ctx context.Context, action, key string, value *string) (string, error) {
	if !shellKeyRe.MatchString(key) {
		return "", fmt.Errorf("%w: %q (shell store keys are letters, digits, - and _)", ErrInvalidKey, key)
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.c.command, "--"+action, key)
	cmd.Dir = s.c.cwd
	env := append(protocol.ProgramEnviron(os.Environ()), "CHORIA_DATA_KEY="+key, "CHORIA_DATA_ACTION="+action)
	if value != nil {
		env = append(env, "CHORIA_DATA_VALUE="+*value)
	}
	for k, v := range s.c.env {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	// Its own process group, so a timeout kills what the program started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	detail := strings.TrimSpace(stderr.String())
	if len(detail) > 512 {
		detail = "..." + detail[len(detail)-512:]
	}
	if detail != "" {
		detail = ": " + detail
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("%s %s: %s timed out after %s%s", action, key, s.c.command, s.c.timeout, detail)
	case errors.As(err, &exit):
		return "", fmt.Errorf("%s %s: %s exited with %s%s", action, key, s.c.command, exit.ProcessState, detail)
	}
	return "", fmt.Errorf("%s %s: run %s: %w", action, key, s.c.command, err)
}
