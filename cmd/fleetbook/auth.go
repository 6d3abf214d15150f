package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/auth"
)

func authCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Make and show fleetbook's NATS credentials (for up, or for an existing NATS cluster)",
		Long: `fleetbook's identities are NATS decentralised-JWT credentials: an operator, the FLEETBOOK
account and one user per role, each with the permissions of its role (docs/security.md).

  fleetbook auth init --dir D            make a setup in D (fleetbook up does this in DATA-DIR/auth)
  fleetbook auth server-config --dir D   the nats-server configuration that trusts it
  fleetbook auth issue agent --identity web1.example.net --dir D > web1.creds
  fleetbook auth show --dir D            roles, credential files and the coordinator key agents trust
  fleetbook auth rotate --dir D          new signing key: every credential is issued again, old ones die`,
	}
	cmd.AddCommand(authInitCommand(), authServerConfigCommand(), authIssueCommand(), authShowCommand(), authRotateCommand())
	return cmd
}

// authDirFlag registers --dir, the setup directory (default the auth directory of .fleetbook).
func authDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "dir", filepath.Join(".fleetbook", authDir), "credentials directory")
}

func loadSetup(dir string) (*auth.Setup, error) {
	s, err := auth.Load(dir)
	if err != nil {
		return nil, exitf(exitRefused, "%v (make one with `fleetbook auth init --dir %s`)", err, dir)
	}
	return s, nil
}

func authInitCommand() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Make a credentials setup: trust chain and a credential per role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, created, err := auth.Init(dir)
			if err != nil {
				return exitf(exitInfra, "%v", err)
			}
			if !created {
				fmt.Fprintf(os.Stderr, "fleetbook auth: %s already holds a setup; kept it, with its role credentials brought up to date\n", dir)
			}
			if _, err := ensurePolicy(s); err != nil {
				return exitf(exitInfra, "policy: %v", err)
			}
			return printSetup(cmd, s, asJSON)
		},
	}
	authDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the setup as JSON")
	return cmd
}

func authServerConfigCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "server-config",
		Short: "Print the nats-server configuration that trusts a setup (operator, system account, resolver)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loadSetup(dir)
			if err != nil {
				return err
			}
			conf, err := s.ServerConfig()
			if err != nil {
				return exitf(exitInfra, "%v", err)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), conf)
			return err
		},
	}
	authDirFlag(cmd, &dir)
	return cmd
}

func authIssueCommand() *cobra.Command {
	var (
		dir, identity, out string
		expiry             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "issue ROLE",
		Short: "Issue a new credential of ROLE (operator, viewer, console, coordinator, worker, agent, fleet)",
		Long: `Issue a new credential: a user JWT signed by the account's signing key, with the permissions
of ROLE, and its seed. An agent credential is for one node (--identity): it may answer requests
on that node's subject and write that node's registration only. The credential is printed (or
written to --out, mode 0600); keep it as secret as a password.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			role, err := auth.ParseRole(args[0])
			if err != nil {
				return exitf(exitRefused, "%v", err)
			}
			if (role == auth.RoleAgent) != (identity != "") {
				return exitf(exitRefused, "--identity names the node of an agent credential, and only of one")
			}
			if expiry < 0 {
				return exitf(exitRefused, "--expiry %s: must not be negative", expiry)
			}
			s, err := loadSetup(dir)
			if err != nil {
				return err
			}
			creds, err := s.Issue(role, identity, expiry)
			if err != nil {
				return exitf(exitRefused, "%v", err)
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(creds)
				return err
			}
			if err := os.WriteFile(out, creds, 0o600); err != nil {
				return exitf(exitInfra, "%v", err)
			}
			return os.Chmod(out, 0o600)
		},
	}
	authDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&identity, "identity", "", "the node identity of an agent credential")
	cmd.Flags().StringVar(&out, "out", "", "write the credential to this file (mode 0600) instead of printing it")
	cmd.Flags().DurationVar(&expiry, "expiry", 0, "make the credential expire after this long (0: never)")
	return cmd
}

func authShowCommand() *cobra.Command {
	var (
		dir    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a setup: account, the credential of each role and its public key, the key agents trust",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loadSetup(dir)
			if err != nil {
				return err
			}
			return printSetup(cmd, s, asJSON)
		},
	}
	authDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the setup as JSON")
	return cmd
}

// setupView is what `auth show --json` prints.
type setupView struct {
	Dir     string     `json:"dir"`
	Account string     `json:"account"`
	Roles   []roleView `json:"roles"`
	// Trust is the public key node agents must trust (--trust): the coordinator credential's.
	Trust string `json:"trust"`
}

type roleView struct {
	Role  string `json:"role"`
	Creds string `json:"creds"`
	Key   string `json:"key"`
}

// printSetup prints s: which credential each role has, its public key (the identity a policy
// names), and the key node agents trust.
func printSetup(cmd *cobra.Command, s *auth.Setup, asJSON bool) error {
	v := setupView{Dir: s.Dir, Account: s.Account()}
	for _, r := range auth.Roles {
		path := s.CredsPath(r)
		key, err := auth.UserKey(path)
		if err != nil {
			return exitf(exitInfra, "%v", err)
		}
		pub, _ := key.PublicKey()
		v.Roles = append(v.Roles, roleView{Role: string(r), Creds: path, Key: pub})
		if r == auth.RoleCoordinator {
			v.Trust = pub
		}
	}
	w := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(w, "Setup:   %s\nAccount: %s\n\n", v.Dir, v.Account)
	fmt.Fprintf(w, "%-12s %-58s %s\n", "ROLE", "KEY", "CREDENTIALS")
	for _, r := range v.Roles {
		fmt.Fprintf(w, "%-12s %-58s %s\n", r.Role, r.Key, r.Creds)
	}
	fmt.Fprintf(w, "\nNode agents trust the coordinator key: fleetbook agent --trust %s\n", v.Trust)
	return nil
}

func authRotateCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the account's signing key and issue every role's credential again",
		Long: `Replace the signing key of the fleetbook account and issue every role's credential in
DIR/creds again. Every credential the old key signed stops working as soon as the servers have the
new account JWT: at the next start of fleetbook up, or on a cluster once the new
` + "`fleetbook auth server-config`" + ` is in place and the servers reloaded. Issue the node agents'
credentials again with ` + "`fleetbook auth issue agent`" + `. The account stays, and with it every
stream and past run. The role keys change: the policy file is rewritten for the new operator and
viewer keys only if fleetbook made it; edit a policy of your own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := loadSetup(dir)
			if err != nil {
				return err
			}
			rewritten, err := rotatePolicy(s, s.Rotate)
			if err != nil {
				return exitf(exitInfra, "%v", err)
			}
			if !rewritten {
				fmt.Fprintf(os.Stderr, "fleetbook auth: the policy in %s is not the default one: give it the new keys below\n", dir)
			}
			return printSetup(cmd, s, false)
		},
	}
	authDirFlag(cmd, &dir)
	return cmd
}
