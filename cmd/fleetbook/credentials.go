package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
)

// authDir is where `fleetbook up` keeps its credentials, under the data directory.
const authDir = "auth"

// contextFile is the nats context `fleetbook up` writes for its operator: --context accepts it.
const contextFile = "context.json"

// credFlags are how a command authenticates, spelled as the nats CLI spells them, with the nats
// CLI's environment variables as defaults.
type credFlags struct {
	creds, nkey, user, password, token string
	tlsCert, tlsKey, tlsCA             string
}

func (c *credFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.creds, "creds", os.Getenv("NATS_CREDS"), "user credentials file (JWT and seed) [$NATS_CREDS]")
	f.StringVar(&c.nkey, "nkey", os.Getenv("NATS_NKEY"), "user nkey seed file [$NATS_NKEY]")
	f.StringVar(&c.user, "user", os.Getenv("NATS_USER"), "user name, or token without --password [$NATS_USER]")
	f.StringVar(&c.password, "password", os.Getenv("NATS_PASSWORD"), "password [$NATS_PASSWORD]")
	f.StringVar(&c.token, "token", os.Getenv("NATS_TOKEN"), "authentication token [$NATS_TOKEN]")
	f.StringVar(&c.tlsCert, "tlscert", os.Getenv("NATS_CERT"), "TLS client certificate file [$NATS_CERT]")
	f.StringVar(&c.tlsKey, "tlskey", os.Getenv("NATS_KEY"), "TLS client key file [$NATS_KEY]")
	f.StringVar(&c.tlsCA, "tlsca", os.Getenv("NATS_CA"), "TLS certificate authority file to verify the server with [$NATS_CA]")
}

// given reports whether any credential was given (a flag or its environment variable).
func (c *credFlags) given() bool {
	return c.creds != "" || c.nkey != "" || c.user != "" || c.token != ""
}

// options are the nats options of the given credentials and TLS files, and the key the
// command's requests are signed with (nil when the credentials carry none: a user and password
// or a token identify a connection to the server, not a request to a coordinator).
func (c *credFlags) options() ([]nats.Option, nkeys.KeyPair, error) {
	var (
		opts []nats.Option
		key  nkeys.KeyPair
		err  error
	)
	switch {
	case c.creds != "":
		if key, err = auth.UserKey(c.creds); err != nil {
			return nil, nil, fmt.Errorf("--creds: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.creds))
	case c.nkey != "":
		if key, err = readSeed(c.nkey); err != nil {
			return nil, nil, fmt.Errorf("--nkey: %w", err)
		}
		opt, err := nats.NkeyOptionFromSeed(c.nkey)
		if err != nil {
			return nil, nil, fmt.Errorf("--nkey: %w", err)
		}
		opts = append(opts, opt)
	case c.user != "" && c.password != "":
		opts = append(opts, nats.UserInfo(c.user, c.password))
	case c.user != "":
		opts = append(opts, nats.Token(c.user))
	case c.token != "":
		opts = append(opts, nats.Token(c.token))
	}
	opts = append(opts, inboxOption(key)...)
	if c.tlsCert != "" || c.tlsKey != "" {
		if c.tlsCert == "" || c.tlsKey == "" {
			return nil, nil, errors.New("--tlscert and --tlskey go together")
		}
		opts = append(opts, nats.ClientCert(c.tlsCert, c.tlsKey))
	}
	if c.tlsCA != "" {
		opts = append(opts, nats.RootCAs(c.tlsCA))
	}
	return opts, key, nil
}

// readSeed reads an nkey seed file.
func readSeed(path string) (nkeys.KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return nkeys.ParseDecoratedNKey(data)
}

// contextOptions are the options and signing key of a nats context: name is a context name or
// the path of a context file (such as the one `fleetbook up` writes). Empty name is the selected
// context.
func contextOptions(name string) (*natscontext.Context, []nats.Option, nkeys.KeyPair, error) {
	var (
		nctx *natscontext.Context
		err  error
	)
	if strings.ContainsRune(name, os.PathSeparator) || strings.HasSuffix(name, ".json") {
		nctx, err = natscontext.NewFromFile(name)
	} else {
		nctx, err = natscontext.New(name, true)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	opts, err := nctx.NATSOptions()
	if err != nil {
		return nil, nil, nil, err
	}
	var key nkeys.KeyPair
	switch {
	case nctx.Creds() != "":
		key, err = auth.UserKey(nctx.Creds())
	case nctx.NKey() != "":
		key, err = readSeed(nctx.NKey())
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return nctx, append(opts, inboxOption(key)...), key, nil
}

// inboxOption makes a connection whose credential carries key receive its replies under the
// only inbox prefix its permissions allow (auth.InboxPrefix); none without a key.
func inboxOption(key nkeys.KeyPair) []nats.Option {
	if key == nil {
		return nil
	}
	pub, _ := key.PublicKey()
	return []nats.Option{nats.CustomInboxPrefix(auth.InboxPrefix(pub))}
}

// roleCreds is the credentials file of role in dataDir's setup, or "" when dataDir has none.
func roleCreds(dataDir string, role auth.Role) string {
	s := &auth.Setup{Dir: filepath.Join(dataDir, authDir)}
	path := s.CredsPath(role)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return path
}

// writeContext writes a nats context file for url with creds (and ca to verify a TLS server),
// readable by its owner only: --context accepts its path, and so does the nats CLI.
func writeContext(path, url, creds, ca string) error {
	data, err := json.MarshalIndent(map[string]string{"description": "fleetbook up operator", "url": url, "creds": creds, "ca": ca}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o600)
}
