package natstest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RunEtcd starts a single-member etcd (the binary on PATH, which .ci/install-etcd installs) on
// free loopback ports with a temporary data directory, waits until its v3 JSON gateway answers
// and returns its client URL. The test is skipped when there is no etcd binary; etcd's whole
// process group is killed when the test ends, and its log is shown if the test failed.
func RunEtcd(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd binary not installed (.ci/install-etcd installs it); skipping")
	}
	dir := t.TempDir()
	ports := FreePorts(t, 2)
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin, "--name", "test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "test="+peer)
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("etcd log:\n%s", out)
		}
	})
	Eventually(t, 30*time.Second, func() error {
		return etcdCall(client, "/v3/kv/range", `{"key":"eA=="}`)
	})
	return client
}

// EtcdCall posts body to the gateway endpoint path of the etcd at url and fails the test unless
// etcd answers 200 (an admin call such as /v3/auth/enable).
func EtcdCall(t testing.TB, url, path, body string) {
	t.Helper()
	if err := etcdCall(url, path, body); err != nil {
		t.Fatal(err)
	}
}

// EtcdPut writes key=value through the gateway of the etcd at url.
func EtcdPut(t testing.TB, url, key, value string) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	EtcdCall(t, url, "/v3/kv/put", fmt.Sprintf(`{"key":%q,"value":%q}`, b64([]byte(key)), b64([]byte(value))))
}

func etcdCall(url, path, body string) error {
	resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s", path, resp.Status)
	}
	return nil
}
