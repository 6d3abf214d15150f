package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// maxOutput bounds what is kept of an executable's stdout and stderr.
const maxOutput = 1 << 20

// ExecRequest is the JSON an external agent executable reads on stdin. The same values are in
// its environment (FLEETBOOK_*), so a /bin/sh script needs no JSON parser.
type ExecRequest struct {
	Agent     string         `json:"agent"`
	Action    string         `json:"action"`
	Data      map[string]any `json:"data"`
	Identity  string         `json:"identity"`
	RequestID string         `json:"request_id"`
	Caller    string         `json:"caller,omitempty"`
	// StateDir is the node's own directory (state root/identity), created before the call.
	StateDir string         `json:"state_dir"`
	Facts    map[string]any `json:"facts,omitempty"`
	Classes  []string       `json:"classes,omitempty"`
}

// ExecReply is the JSON an external agent executable writes on stdout. Success defaults to
// whether the process exited 0.
type ExecReply struct {
	Success *bool  `json:"success"`
	Msg     string `json:"msg"`
	Data    any    `json:"data"`
}

// runExecutable runs def's executable for one request and turns what it did into an outcome.
func (s *Server) runExecutable(ctx context.Context, def *Definition, n *node, req *protocol.RPCRequest, args map[string]any) outcome {
	stateDir := s.stateDir(n.Identity)
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return outcome{msg: "cannot create the node's state directory: " + err.Error()}
	}
	in, err := json.Marshal(ExecRequest{
		Agent: req.Agent, Action: req.Action, Data: args, Identity: n.Identity,
		RequestID: req.RequestID, Caller: req.Caller, StateDir: stateDir, Facts: n.Facts, Classes: n.Classes,
	})
	if err != nil {
		return outcome{msg: "cannot encode the request: " + err.Error()}
	}

	ctx, cancel := context.WithTimeout(ctx, s.opts.execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, def.path, req.Action)
	cmd.Dir = stateDir
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = append(protocol.ProgramEnviron(os.Environ()), execEnv(n, req, stateDir, args)...)
	// Its own process group, so a timeout kills whatever the script started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	runErr := cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return outcome{msg: fmt.Sprintf("%s#%s timed out after %s", req.Agent, req.Action, s.opts.execTimeout)}
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return outcome{msg: fmt.Sprintf("%s#%s could not run: %v", req.Agent, req.Action, runErr)}
	}

	out := bytes.TrimSpace(stdout.Bytes())
	var rep ExecReply
	if len(out) > 0 {
		if err := json.Unmarshal(out, &rep); err != nil {
			msg := fmt.Sprintf("%s#%s wrote a reply that is not JSON: %v", req.Agent, req.Action, err)
			if runErr != nil {
				msg = fmt.Sprintf("%s#%s failed: %v: %s", req.Agent, req.Action, runErr, firstLine(stderr.String(), string(out)))
			}
			return outcome{msg: msg}
		}
	}
	o := outcome{success: runErr == nil, msg: rep.Msg, data: rep.Data}
	if rep.Success != nil {
		o.success = *rep.Success && runErr == nil
	}
	if o.msg == "" && runErr != nil {
		o.msg = fmt.Sprintf("%s#%s failed: %v", req.Agent, req.Action, runErr)
		if e := firstLine(stderr.String(), ""); e != "" {
			o.msg += ": " + e
		}
	}
	return o
}

// execEnv passes the request as environment variables: FLEETBOOK_INPUT_<NAME> for each argument
// (strings as they are, anything else as JSON) and FLEETBOOK_FACT_<NAME> for each scalar fact.
// Values travel as data, never as shell code.
func execEnv(n *node, req *protocol.RPCRequest, stateDir string, args map[string]any) []string {
	env := []string{
		"FLEETBOOK_AGENT=" + req.Agent,
		"FLEETBOOK_ACTION=" + req.Action,
		"FLEETBOOK_IDENTITY=" + n.Identity,
		"FLEETBOOK_REQUEST_ID=" + req.RequestID,
		"FLEETBOOK_STATE_DIR=" + stateDir,
	}
	for k, v := range args {
		env = append(env, "FLEETBOOK_INPUT_"+envName(k)+"="+envValue(v))
	}
	for k, v := range n.Facts {
		switch v.(type) {
		case string, bool, int, int64, float64, uint64:
			env = append(env, "FLEETBOOK_FACT_"+envName(k)+"="+envValue(v))
		}
	}
	return env
}

func envName(k string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, k)
}

func envValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func firstLine(s, fallback string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		s = strings.TrimSpace(fallback)
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// limitedBuffer keeps the first maxOutput bytes written to it and drops the rest, so a runaway
// executable cannot exhaust the agent's memory.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
