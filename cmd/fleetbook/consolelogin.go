package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

// Defaults of `console login`.
const (
	// defaultSignInLifetime is short on purpose: a grant acts for its identity until it expires,
	// whoever holds it (docs/security.md, "Console sign-in").
	defaultSignInLifetime = 12 * time.Hour
	defaultConsoleURL     = "http://127.0.0.1:8080"
)

// signIn is what `console login` prints with --json.
type signIn struct {
	URL       string    `json:"url"`
	Grant     string    `json:"grant"`
	Key       string    `json:"key"`
	ExpiresAt time.Time `json:"expires_at"`
}

// consoleLoginCommand is `fleetbook console login`: a session grant signed with the caller's own
// identity key, found as every client command finds it (--context, the credential flags, or the
// operator credentials of --data-dir), and the console URL that signs in with it.
func consoleLoginCommand() *cobra.Command {
	var (
		conn     connFlags
		lifetime time.Duration
		consoleU string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a fleetbook console: print a sign-in URL for your identity",
		Long: `Make a session grant, signed with your identity key (the key your API requests are signed
with), and print the console URL that signs in with it, URL/signin#grant=TOKEN, and the token.
The console then acts for you, within what the policy lets you do, until the grant expires
(--lifetime, at most 24h). Whoever holds the URL can act as you until then: open it, do not
paste it into chats or tickets. The token is in the URL's fragment, which browsers never send
to the server, so it stays out of server and proxy logs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lifetime <= 0 || lifetime > protocol.MaxSessionLifetime {
				return exitf(exitRefused, "--lifetime: %v is not between 0 and %v", lifetime, protocol.MaxSessionLifetime)
			}
			base, err := consoleURL(consoleU)
			if err != nil {
				return exitf(exitRefused, "--url: %v", err)
			}
			key, err := conn.signingKey()
			if err != nil {
				return err
			}
			pub, _ := key.PublicKey()
			now := time.Now().UTC()
			grant, err := coordinator.NewSessionGrant(key, lifetime, now)
			if err != nil {
				return exitf(exitRefused, "%v", err)
			}
			out := signIn{URL: base + "/signin#grant=" + grant, Grant: grant, Key: pub, ExpiresAt: now.Add(lifetime)}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Signing in as %s until %s (%s). Whoever holds this URL acts as you until then.\n",
				pub, out.ExpiresAt.Format(time.RFC3339), lifetime)
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n\ngrant: %s\n", out.URL, out.Grant)
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&lifetime, "lifetime", defaultSignInLifetime, "how long the grant is valid (at most 24h)")
	f.StringVar(&consoleU, "url", defaultConsoleURL, "the console's address (http or https)")
	f.BoolVar(&asJSON, "json", false, "print url, grant, key and expires_at as one JSON document")
	f.StringVarP(&conn.server, "server", "s", "", "NATS server URL(s), as client commands take it: with none (and no $NATS_URL) the selected nats context's credentials sign")
	f.StringVar(&conn.context, "context", os.Getenv("NATS_CONTEXT"), "nats CLI context whose credentials sign the grant [$NATS_CONTEXT]")
	f.StringVar(&conn.dataDir, "data-dir", ".fleetbook", "with no credentials given, sign with the operator credentials of this data dir (that of fleetbook up)")
	conn.cred.register(cmd)
	conn.role = auth.RoleOperator
	return cmd
}

// consoleURL checks the console's address: http or https, a host, no query or fragment (the
// grant is the fragment). It returns it without a trailing slash.
func consoleURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q is not an http or https URL", s)
	case u.Host == "":
		return "", fmt.Errorf("%q has no host", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("%q has a query or a fragment: give the console's address only", s)
	case u.User != nil:
		return "", fmt.Errorf("%q carries a user name or password", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// signingKey is the key f's commands sign API requests with, found without connecting, as dial
// and withCreds find it: the credential flags' key, else that of --context (or, with no server
// URL, of the selected nats context), else, when no credential flag is given, the credentials of
// f.role in --data-dir. A credential without a key (a user and password, a token) signs nothing.
func (f *connFlags) signingKey() (nkeys.KeyPair, error) {
	if f.cred.given() {
		_, key, err := f.cred.options()
		if err != nil {
			return nil, exitf(exitRefused, "%v", err)
		}
		if key != nil {
			return key, nil
		}
	}
	url := f.server
	if url == "" {
		url = os.Getenv("NATS_URL")
	}
	if f.context != "" || (url == "" && natscontext.SelectedContext() != "") {
		_, _, key, err := contextOptions(f.context)
		if err != nil {
			return nil, exitf(exitRefused, "nats context %q: %v: %v", f.context, errBadContext, err)
		}
		if key != nil {
			return key, nil
		}
	}
	creds := ""
	if !f.cred.given() {
		creds = roleCreds(f.dataDir, f.role)
	}
	if creds == "" {
		return nil, exitf(exitRefused, "no identity key to sign the grant with: give --creds or --nkey (a user, password or token signs nothing), --context, or the --data-dir of a `fleetbook up` (its %s credentials)", f.role)
	}
	key, err := auth.UserKey(creds)
	if err != nil {
		return nil, exitf(exitRefused, "%s: %v", creds, err)
	}
	return key, nil
}
