package natstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ServerBinary builds the nats-server of our module (github.com/nats-io/nats-server/v2) into a
// directory shared by the test binary's tests, once, and returns its path.
func ServerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "natstest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "nats-server")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/nats-io/nats-server/v2")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ServerProcess is a nats-server running as a child process, so a test can SIGKILL, SIGSTOP or
// SIGTERM the server itself. It keeps its port and store directory across restarts.
type ServerProcess struct {
	t    testing.TB
	bin  string
	conf string
	// Port is the client port; URL the client URL.
	Port int
	URL  string
	// StoreDir is the JetStream store directory.
	StoreDir string
	logPath  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// ProcessOptions shape a ServerProcess.
type ProcessOptions struct {
	// SyncAlways makes the server fsync every write before acknowledging it
	// (jetstream { sync_interval: always }); the default syncs every 2 minutes.
	SyncAlways bool
}

// StartServerProcess starts a JetStream nats-server subprocess on a free loopback port and kills
// it when the test ends.
func StartServerProcess(t testing.TB, o ProcessOptions) *ServerProcess {
	t.Helper()
	dir := t.TempDir()
	p := &ServerProcess{t: t, bin: ServerBinary(t), Port: FreePorts(t, 1)[0], StoreDir: filepath.Join(dir, "store"),
		conf: filepath.Join(dir, "nats.conf"), logPath: filepath.Join(dir, "nats.log")}
	p.URL = fmt.Sprintf("nats://127.0.0.1:%d", p.Port)
	syncConf := ""
	if o.SyncAlways {
		syncConf = "\n  sync_interval: always"
	}
	conf := fmt.Sprintf("server_name: natsproc\nlisten: \"127.0.0.1:%d\"\njetstream {\n  store_dir: %q%s\n}\n", p.Port, p.StoreDir, syncConf)
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		p.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- tail of nats-server log:\n%s", b)
		}
	})
	return p
}

// Start starts the server (again) and waits until it accepts connections.
func (p *ServerProcess) Start() {
	p.t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "-c", p.conf)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start nats-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	Eventually(p.t, 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Signal sends sig to the server process, if it runs.
func (p *ServerProcess) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Wait waits for the server process to exit.
func (p *ServerProcess) Wait() {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Kill SIGKILLs the server and waits for it to exit.
func (p *ServerProcess) Kill() {
	p.Signal(syscall.SIGKILL)
	p.Wait()
}

// Log returns the server's log so far.
func (p *ServerProcess) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return strings.TrimSpace(string(b))
}
