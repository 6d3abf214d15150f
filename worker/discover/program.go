package discover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/worker/process"
)

// maxSourceOutput caps what is kept of a node source program's stdout and of its stderr.
const maxSourceOutput = 4 << 20

// execOutcome is what running a node source program gave.
type execOutcome struct {
	stdout, stderr string
}

// runProgram runs argv directly (no shell: nothing in argv is ever interpreted as code) in its own
// process group, with the worker's environment, and returns its output. A non-zero exit, a
// timeout or ctx's end is an error that carries the tail of stderr; the whole group is killed
// in every case, so a source program cannot leave processes behind.
func runProgram(ctx context.Context, argv []string, timeout time.Duration) (execOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := process.Command(ctx, argv[0], argv[1:]...)
	cmd.Env = protocol.ProgramEnviron(os.Environ())
	stdout, stderr := process.NewCappedBuffer(maxSourceOutput), process.NewCappedBuffer(maxSourceOutput)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A grandchild that left the group but holds the pipes must not hang the job.
	cmd.WaitDelay = time.Second
	err := process.Run(cmd)
	if cmd.Process == nil {
		return execOutcome{}, fmt.Errorf("could not start %s: %w", argv[0], err)
	}
	out := execOutcome{stdout: stdout.String(), stderr: stderr.String()}
	switch {
	case stdout.Total() > maxSourceOutput:
		return out, fmt.Errorf("%s wrote more than %d bytes", argv[0], maxSourceOutput)
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return out, fmt.Errorf("%s timed out after %s%s", argv[0], timeout, stderrTail(out.stderr))
	case ctx.Err() != nil:
		return out, fmt.Errorf("%s was interrupted: %w", argv[0], ctx.Err())
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			return out, fmt.Errorf("%s failed with exit code %d%s", argv[0], ee.ExitCode(), stderrTail(out.stderr))
		}
		return out, fmt.Errorf("%s failed: %w%s", argv[0], err, stderrTail(out.stderr))
	}
	return out, nil
}

// stderrTail is the last few hundred bytes of a program's stderr, for an error message.
func stderrTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > 500 {
		s = "…" + s[len(s)-500:]
	}
	return ": " + s
}

// checkExecutable gives a clear error when path is not an executable file, before anything runs.
// A bare name is looked up on PATH; the resolved path is returned.
func checkExecutable(what, path string) (string, error) {
	if !strings.Contains(path, "/") {
		found, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("%s %q was not found on PATH", what, path)
		}
		return found, nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s %s does not exist", what, path)
	case err != nil:
		return "", fmt.Errorf("%s %s is not usable: %v", what, path, err)
	case fi.IsDir():
		return "", fmt.Errorf("%s %s is a directory", what, path)
	case fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s %s is not executable", what, path)
	}
	return path, nil
}

// splitArgv splits a command line into words the way a shell would for plain words, quotes and
// backslashes, and does nothing else: no variables, globs, pipes or substitutions. So a script
// property may carry arguments, and a rendered value in it stays data.
func splitArgv(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("command line %q ends with a backslash", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == 0:
			return nil, fmt.Errorf("command line %q contains a NUL byte", s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("command line %q has an unterminated %c quote", s, quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("command line is empty")
	}
	return words, nil
}
