package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/auth"
)

// startTestServer starts the embedded server of cfg and stops it when the test ends.
func startTestServer(t *testing.T, cfg serverConfig) (*server.Server, *auth.Setup) {
	t.Helper()
	srv, dir, setup, err := startServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown(); dir.release() })
	return srv, setup
}

// Port 0 must mean "any free port", as it does for net.Listen, not nats-server's default 4222.
func TestStartServerListenPortZero(t *testing.T) {
	srv, setup := startTestServer(t, serverConfig{dataDir: t.TempDir(), listen: "127.0.0.1:0"})
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatalf("ClientURL %q: %v", srv.ClientURL(), err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port <= 0 || port == 4222 {
		t.Fatalf("ClientURL %q: want the random port actually bound, got port %q", srv.ClientURL(), u.Port())
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(setup.CredsPath(auth.RoleOperator)))
	if err != nil {
		t.Fatalf("connect to %s: %v", srv.ClientURL(), err)
	}
	nc.Close()
}

func TestStartServerListenRefusesBadPort(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:-1", "127.0.0.1:x", "nohostport", "127.0.0.1:70000"} {
		if _, _, _, err := startServer(serverConfig{dataDir: t.TempDir(), listen: listen}); err == nil {
			t.Errorf("--listen %q: want an error", listen)
		}
	}
}

// Secure by default: the first start makes the credentials (owner-only files), an anonymous
// client is refused, and the operator's credentials connect.
func TestServerRefusesAnonymousClients(t *testing.T) {
	dataDir := t.TempDir()
	srv, setup := startTestServer(t, serverConfig{dataDir: dataDir, listen: "127.0.0.1:0"})
	if _, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want an authorization violation", err)
	}
	if _, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin"), nats.MaxReconnects(0)); err == nil {
		t.Fatal("a guessed user and password connected")
	}
	err := filepath.Walk(filepath.Join(dataDir, authDir), func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: others may read it", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range auth.Roles {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(setup.CredsPath(r)), nats.MaxReconnects(0))
		if err != nil {
			t.Fatalf("%s credentials: %v", r, err)
		}
		nc.Close()
	}
}

func TestNoAuthServesAnonymousClients(t *testing.T) {
	srv, setup := startTestServer(t, serverConfig{dataDir: t.TempDir(), listen: "127.0.0.1:0", noAuth: true})
	if setup != nil {
		t.Fatal("--no-auth made credentials")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestListenBeyondLoopbackNeedsTLSOrInsecure(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, _, _, err := startServer(serverConfig{dataDir: t.TempDir(), listen: listen})
		if err == nil || !strings.Contains(err.Error(), "--insecure") {
			t.Errorf("--listen %s without TLS: %v, want a refusal naming --insecure", listen, err)
		}
	}
	startTestServer(t, serverConfig{dataDir: t.TempDir(), listen: "0.0.0.0:0", insecure: true})
}

func TestServerServesTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	srv, setup := startTestServer(t, serverConfig{dataDir: t.TempDir(), listen: "0.0.0.0:0", tlsCert: cert, tlsKey: key})
	port := srv.Addr().(*net.TCPAddr).Port
	u := "tls://127.0.0.1:" + strconv.Itoa(port)
	creds := nats.UserCredentials(setup.CredsPath(auth.RoleOperator))
	if nc, err := nats.Connect("nats://127.0.0.1:"+strconv.Itoa(port), creds, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a client that does not verify the server's certificate connected")
	}
	nc, err := nats.Connect(u, creds, nats.RootCAs(cert), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("connection is not TLS")
	}
	nc.Close()
}

// Two servers on one data dir would corrupt its store: the second is refused, by name.
func TestDataDirServedOnce(t *testing.T) {
	dataDir := t.TempDir()
	startTestServer(t, serverConfig{dataDir: dataDir})
	_, _, _, err := startServer(serverConfig{dataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "in use by another fleetbook (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second server on %s: %v, want a refusal naming the holder", dataDir, err)
	}
}

func TestReadOnlyDataDirIsRefusedAtOnce(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories")
	}
	dataDir := t.TempDir()
	if err := os.Chmod(dataDir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dataDir, 0o700)
	_, _, _, err := startServer(serverConfig{dataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("read-only data dir: %v, want 'not writable'", err)
	}
}

func TestLostDataDirIsNoticed(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "state")
	d, err := lockDataDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.release()
	if err := d.lost(); err != nil {
		t.Fatalf("a data dir in place: %v", err)
	}
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	if err := d.lost(); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("removed data dir: %v, want it noticed", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetbook test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
