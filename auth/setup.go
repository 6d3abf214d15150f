package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// AccountName is the name of the NATS account fleetbook's streams, buckets and subjects live in.
const AccountName = "FLEETBOOK"

// The files of a setup directory. Seeds and credentials are 0600; the directory is 0700.
const (
	operatorSeedFile = "nats-operator.nk"
	systemSeedFile   = "system-account.nk"
	accountSeedFile  = "account.nk"
	signingSeedFile  = "account-signing.nk"
	credsDir         = "creds"
	credsExt         = ".creds"
	// JetStreamKeyFile is the embedded server's encryption-at-rest key, in the setup directory. Init
	// does not make it: the server makes it together with a new store (an old store stays plain).
	JetStreamKeyFile  = "jetstream.key"
	secretsKeyFile    = "secrets.key"
	setupFileMode     = 0o600
	setupDirMode      = 0o700
	symmetricKeyBytes = 32
)

// Setup is a loaded credentials directory: the trust chain and the key that signs users.
type Setup struct {
	// Dir is the directory the setup lives in.
	Dir string

	operator, system, account, signing nkeys.KeyPair
	operatorJWT, systemJWT, accountJWT string
}

// Init loads the setup in dir, creating it (and a credential for every role in Roles) when dir
// holds none. created reports whether it did. Creating is not safe to run concurrently on one
// directory: `fleetbook up` holds the data directory's lock while it calls Init.
func Init(dir string) (s *Setup, created bool, err error) {
	s, err = Load(dir)
	if err == nil {
		// A setup made by an older fleetbook: its roles' credentials get what the roles need now.
		if _, err := s.Refresh(); err != nil {
			return nil, false, err
		}
		return s, false, nil
	}
	if !errors.Is(err, ErrNoSetup) {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Join(dir, credsDir), setupDirMode); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", dir, err)
	}
	s = &Setup{Dir: dir}
	for _, k := range []struct {
		kp   *nkeys.KeyPair
		make func() (nkeys.KeyPair, error)
	}{{&s.operator, nkeys.CreateOperator}, {&s.system, nkeys.CreateAccount}, {&s.account, nkeys.CreateAccount}, {&s.signing, nkeys.CreateAccount}} {
		if *k.kp, err = k.make(); err != nil {
			return nil, false, err
		}
	}
	if err := s.sign(); err != nil {
		return nil, false, err
	}
	for _, k := range []struct {
		kp   nkeys.KeyPair
		file string
	}{{s.system, systemSeedFile}, {s.account, accountSeedFile}, {s.signing, signingSeedFile}} {
		seed, _ := k.kp.Seed()
		if err := writeSecret(filepath.Join(dir, k.file), seed); err != nil {
			return nil, false, err
		}
	}
	if err := EnsureKey(filepath.Join(dir, secretsKeyFile)); err != nil {
		return nil, false, err
	}
	for _, r := range Roles {
		creds, err := s.Issue(r, "", 0)
		if err != nil {
			return nil, false, err
		}
		if err := writeSecret(s.CredsPath(r), creds); err != nil {
			return nil, false, err
		}
	}
	// The operator seed is written last: its presence is what marks a setup as complete, so a
	// crash half-way through creation makes the next Init start again.
	seed, _ := s.operator.Seed()
	if err := writeSecret(filepath.Join(dir, operatorSeedFile), seed); err != nil {
		return nil, false, err
	}
	return s, true, nil
}

// Load reads the setup in dir; ErrNoSetup when there is none.
func Load(dir string) (*Setup, error) {
	s := &Setup{Dir: dir}
	for _, k := range []struct {
		kp   *nkeys.KeyPair
		file string
	}{{&s.operator, operatorSeedFile}, {&s.system, systemSeedFile}, {&s.account, accountSeedFile}, {&s.signing, signingSeedFile}} {
		seed, err := os.ReadFile(filepath.Join(dir, k.file))
		if errors.Is(err, fs.ErrNotExist) && k.file == operatorSeedFile {
			return nil, fmt.Errorf("%w in %s", ErrNoSetup, dir)
		}
		if err != nil {
			return nil, err
		}
		if *k.kp, err = nkeys.FromSeed([]byte(strings.TrimSpace(string(seed)))); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Join(dir, k.file), err)
		}
	}
	if err := s.sign(); err != nil {
		return nil, err
	}
	return s, nil
}

// sign makes the operator, system account and fleetbook account JWTs from the keys. They are
// derived, not stored: the keys are the setup, so a JWT can never disagree with them.
func (s *Setup) sign() error {
	opub, _ := s.operator.PublicKey()
	spub, _ := s.system.PublicKey()
	apub, _ := s.account.PublicKey()
	signingPub, _ := s.signing.PublicKey()

	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "fleetbook"
	oc.SystemAccount = spub
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	ac := jwt.NewAccountClaims(apub)
	ac.Name = AccountName
	ac.SigningKeys.Add(signingPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1,
		MaxAckPending: -1, MemoryMaxStreamBytes: -1, DiskMaxStreamBytes: -1}
	var err error
	if s.operatorJWT, err = oc.Encode(s.operator); err != nil {
		return err
	}
	if s.systemJWT, err = sc.Encode(s.operator); err != nil {
		return err
	}
	s.accountJWT, err = ac.Encode(s.operator)
	return err
}

// Issue returns a credentials file (user JWT and seed) for role; identity names the node of a
// RoleAgent credential. A positive expiry makes the credential expire after it.
func (s *Setup) Issue(role Role, identity string, expiry time.Duration) ([]byte, error) {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	upub, _ := ukp.PublicKey()
	perms, err := Permissions(role, upub, identity)
	if err != nil {
		return nil, err
	}
	uc := jwt.NewUserClaims(upub)
	uc.Name = string(role)
	if role == RoleAgent {
		uc.Name += ":" + identity
	}
	uc.Permissions = perms
	uc.IssuerAccount, _ = s.account.PublicKey()
	if expiry > 0 {
		uc.Expires = time.Now().Add(expiry).Unix()
	}
	token, err := uc.Encode(s.signing)
	if err != nil {
		return nil, err
	}
	seed, _ := ukp.Seed()
	return jwt.FormatUserConfig(token, seed)
}

// Refresh brings the credential of every role in Roles to what the role needs now: a missing one
// is issued (a role added since the setup was made), and one whose permissions differ from the
// role's (a fleetbook that grants a role more or less) is issued again for the same user key,
// so every policy rule naming that key still holds. It returns the roles it wrote. A credential
// signed by a key other than the setup's, or that does not parse, is left alone: only the
// operator knows whether it is stale or someone else's, and using it says so.
func (s *Setup) Refresh() ([]Role, error) {
	var wrote []Role
	for _, r := range Roles {
		path := s.CredsPath(r)
		data, err := os.ReadFile(path)
		var creds []byte
		switch {
		case errors.Is(err, fs.ErrNotExist):
			creds, err = s.Issue(r, "", 0)
		case err != nil:
		default:
			creds, err = s.reissue(r, data)
		}
		if err != nil {
			return wrote, fmt.Errorf("refresh %s credential %s: %w", r, path, err)
		}
		if creds == nil {
			continue
		}
		if err := writeSecret(path, creds); err != nil {
			return wrote, err
		}
		wrote = append(wrote, r)
	}
	return wrote, nil
}

// reissue returns role's credential data again with the role's current permissions, for the same
// user key, or nil when its permissions are already those or it is not one the setup issued.
func (s *Setup) reissue(role Role, data []byte) ([]byte, error) {
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return nil, nil
	}
	ukp, err := jwt.ParseDecoratedNKey(data)
	if err != nil {
		return nil, nil
	}
	uc, err := jwt.DecodeUserClaims(token)
	signer, _ := s.signing.PublicKey()
	if err != nil || uc.Issuer != signer {
		return nil, nil
	}
	perms, err := Permissions(role, uc.Subject, "")
	if err != nil {
		return nil, err
	}
	if reflect.DeepEqual(uc.Permissions, perms) {
		return nil, nil
	}
	uc.Permissions = perms
	if token, err = uc.Encode(s.signing); err != nil {
		return nil, err
	}
	seed, err := ukp.Seed()
	if err != nil {
		return nil, err
	}
	return jwt.FormatUserConfig(token, seed)
}

// CredsPath is where Init keeps role's credentials.
func (s *Setup) CredsPath(role Role) string {
	return filepath.Join(s.Dir, credsDir, string(role)+credsExt)
}

// SecretsKeyPath is the file of the key coordinators and workers encrypt sensitive inputs with.
func (s *Setup) SecretsKeyPath() string { return filepath.Join(s.Dir, secretsKeyFile) }

// ServerTrust is what a server needs to accept this setup's users: the operator it trusts, its
// system account, and the JWTs of both accounts by public key (to preload into a memory
// resolver).
func (s *Setup) ServerTrust() (operator *jwt.OperatorClaims, systemAccount string, accounts map[string]string, err error) {
	operator, err = jwt.DecodeOperatorClaims(s.operatorJWT)
	if err != nil {
		return nil, "", nil, err
	}
	spub, _ := s.system.PublicKey()
	apub, _ := s.account.PublicKey()
	return operator, spub, map[string]string{spub: s.systemJWT, apub: s.accountJWT}, nil
}

// Account is the public key of the fleetbook account (the JetStream account of every stream).
func (s *Setup) Account() string { pub, _ := s.account.PublicKey(); return pub }

// ReadKey reads a symmetric key file written by Init (hex, 32 bytes).
func ReadKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != symmetricKeyBytes {
		return nil, fmt.Errorf("%w: %s must hold %d bytes in hex", ErrCorrupt, path, symmetricKeyBytes)
	}
	return key, nil
}

// EnsureKey writes a fresh random 32-byte key (hex) to path unless a file is there already.
func EnsureKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), setupDirMode); err != nil {
		return err
	}
	key := make([]byte, symmetricKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	return writeSecret(path, []byte(hex.EncodeToString(key)+"\n"))
}

// writeSecret writes data to path, readable by its owner only, through a temporary file so a
// crash leaves the old content or the new one, never half of it.
func writeSecret(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, setupFileMode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, setupFileMode); err != nil { // WriteFile keeps an existing file's mode
		return err
	}
	return os.Rename(tmp, path)
}

// Rotate replaces the account's signing key and issues every role's credential in the setup
// again. Every credential the old key signed — issued agent credentials included — stops working
// once a server has the new account JWT (ServerTrust, ServerConfig); the operator and account
// keys stay, so the account's streams and everything in them stay too.
func (s *Setup) Rotate() error {
	signing, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	seed, _ := signing.Seed()
	old := s.signing
	s.signing = signing
	if err := s.sign(); err != nil {
		s.signing = old
		return err
	}
	if err := writeSecret(filepath.Join(s.Dir, signingSeedFile), seed); err != nil {
		s.signing = old
		return err
	}
	for _, r := range Roles {
		creds, err := s.Issue(r, "", 0)
		if err != nil {
			return err
		}
		if err := writeSecret(s.CredsPath(r), creds); err != nil {
			return err
		}
	}
	return nil
}
