package auth_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
)

func TestInitMakesASetupOnceAndLoadsItAfter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	first, created, err := auth.Init(dir)
	if err != nil || !created {
		t.Fatalf("first Init: created %v, %v", created, err)
	}
	again, created, err := auth.Init(dir)
	if err != nil || created {
		t.Fatalf("second Init: created %v, %v", created, err)
	}
	if first.Account() != again.Account() {
		t.Fatal("a second Init made a new account: every credential issued before would stop working")
	}
	for _, r := range auth.Roles {
		role, _, err := auth.RoleOf(first.CredsPath(r))
		if err != nil || role != r {
			t.Errorf("%s credentials name role %q (%v)", r, role, err)
		}
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("setup dir mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
}

func TestLoadSaysWhenThereIsNoSetup(t *testing.T) {
	if _, err := auth.Load(t.TempDir()); !errors.Is(err, auth.ErrNoSetup) {
		t.Fatalf("Load of an empty dir: %v, want ErrNoSetup", err)
	}
	dir := t.TempDir()
	if _, _, err := auth.Init(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "account.nk"), []byte("not a seed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Load(dir); !errors.Is(err, auth.ErrCorrupt) {
		t.Fatalf("Load with a damaged seed: %v, want ErrCorrupt", err)
	}
}

func TestParseRole(t *testing.T) {
	for _, ok := range []string{"operator", "viewer", "coordinator", "worker", "agent", "fleet"} {
		if _, err := auth.ParseRole(ok); err != nil {
			t.Errorf("ParseRole(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "admin", "Operator", "root"} {
		if _, err := auth.ParseRole(bad); !errors.Is(err, auth.ErrUnknownRole) {
			t.Errorf("ParseRole(%q): %v, want ErrUnknownRole", bad, err)
		}
	}
}

func TestIssuedCredentialExpires(t *testing.T) {
	s, _, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := s.Issue(auth.RoleViewer, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(time.Unix(uc.Expires, 0)); left <= 0 || left > time.Hour {
		t.Fatalf("credential expires in %s, want within the hour", left)
	}
}

// The configuration `fleetbook auth server-config` prints makes a stock nats-server trust the
// setup: its credentials connect and provision, strangers do not.
func TestServerConfigTrustsTheSetup(t *testing.T) {
	s, _, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := s.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "server.conf")
	full := "listen: 127.0.0.1:-1\njetstream: {store_dir: " + filepath.Join(t.TempDir(), "js") + "}\n" + conf
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server cannot read the configuration: %v\n%s", err, conf)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("server not ready")
	}
	if _, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0)); err == nil {
		t.Fatal("an anonymous client connected")
	}
	key, err := auth.UserKey(s.CredsPath(auth.RoleCoordinator))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicKey()
	// Every credential may receive replies under its own inbox prefix only.
	nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(s.CredsPath(auth.RoleCoordinator)), nats.CustomInboxPrefix(auth.InboxPrefix(pub)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kvstore.Provision(ctx, js, kvstore.Config{}); err != nil {
		t.Fatalf("provision on the configured server: %v", err)
	}
}

func TestRotateRetiresEveryOldCredential(t *testing.T) {
	dir := t.TempDir()
	s, _, err := auth.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldCreds := filepath.Join(t.TempDir(), "old.creds")
	data, err := os.ReadFile(s.CredsPath(auth.RoleOperator))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oldCreds, data, 0o600); err != nil {
		t.Fatal(err)
	}
	oldAgent, err := s.Issue(auth.RoleAgent, "web1.example.net", 0)
	if err != nil {
		t.Fatal(err)
	}
	account := s.Account()
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	loaded, err := auth.Load(dir)
	if err != nil || loaded.Account() != account {
		t.Fatalf("after Rotate: account %s (%v), want the same %s", loaded.Account(), err, account)
	}
	srv := trustingServer(t, loaded)
	agentCreds := filepath.Join(t.TempDir(), "agent.creds")
	if err := os.WriteFile(agentCreds, oldAgent, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{oldCreds, agentCreds} {
		if nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(old), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Errorf("%s, signed by the retired key, still connects", old)
		}
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(loaded.CredsPath(auth.RoleOperator)), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("the re-issued operator credential: %v", err)
	}
	nc.Close()
}

// trustingServer runs a server that trusts s.
func trustingServer(t *testing.T, s *auth.Setup) *server.Server {
	t.Helper()
	operator, system, accounts, err := s.ServerTrust()
	if err != nil {
		t.Fatal(err)
	}
	return natstest.RunServer(t, func(o *server.Options) {
		resolver := &server.MemAccResolver{}
		for pub, token := range accounts {
			if err := resolver.Store(pub, token); err != nil {
				t.Fatal(err)
			}
		}
		o.TrustedOperators, o.SystemAccount, o.AccountResolver = []*jwt.OperatorClaims{operator}, system, resolver
	})
}

// A setup made by an older fleetbook is brought up to date when it is loaded again: a role added
// since gets its credential, and one whose permissions changed is issued again for the same key
// (policies name identities by key). Nothing is rewritten when nothing changed.
func TestInitRefreshesCredentialsOfAnOlderSetup(t *testing.T) {
	dir := t.TempDir()
	s, _, err := auth.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if wrote, err := s.Refresh(); err != nil || len(wrote) != 0 {
		t.Fatalf("refresh of a new setup wrote %v (%v), want nothing", wrote, err)
	}
	// The console role did not exist; the coordinator had fewer permissions.
	if err := os.Remove(s.CredsPath(auth.RoleConsole)); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(s.CredsPath(auth.RoleCoordinator))
	if err != nil {
		t.Fatal(err)
	}
	token, _ := jwt.ParseDecoratedJWT(old)
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	uc.Permissions = jwt.Permissions{}
	uc.Permissions.Pub.Allow.Add("fleetbook.api.v1.>")
	signingSeed, err := os.ReadFile(filepath.Join(dir, "account-signing.nk"))
	if err != nil {
		t.Fatal(err)
	}
	signing, err := nkeys.FromSeed(bytes.TrimSpace(signingSeed))
	if err != nil {
		t.Fatal(err)
	}
	token, err = uc.Encode(signing)
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := jwt.ParseDecoratedNKey(old)
	seed, _ := ukp.Seed()
	stale, _ := jwt.FormatUserConfig(token, seed)
	if err := os.WriteFile(s.CredsPath(auth.RoleCoordinator), stale, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, _, err := auth.Init(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.CredsPath(auth.RoleConsole)); err != nil {
		t.Errorf("the console credential was not made: %v", err)
	}
	fresh, err := os.ReadFile(s.CredsPath(auth.RoleCoordinator))
	if err != nil {
		t.Fatal(err)
	}
	token, _ = jwt.ParseDecoratedJWT(fresh)
	got, err := jwt.DecodeUserClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := auth.Permissions(auth.RoleCoordinator, uc.Subject, "")
	if got.Subject != uc.Subject || !reflect.DeepEqual(got.Permissions, want) {
		t.Errorf("coordinator credential: key %s perms %+v, want key %s with the role's permissions", got.Subject, got.Permissions, uc.Subject)
	}
}
