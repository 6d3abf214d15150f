package protocol

import "strings"

// The environment of fleetbook's processes holds what a playbook must not reach: the NATS
// connection and credentials of the worker or coordinator (the nats CLI's NATS_URL, NATS_CREDS,
// NATS_PASSWORD, ...), fleetbook's own settings, and the variables that make a shell or a program
// load or run code. A playbook's environment store may not set them (they would reach every later
// task of every run the process executes), and programs a playbook runs never see the
// credentials.

// credentialEnvPrefix starts every variable that carries a NATS connection or its credentials.
const credentialEnvPrefix = "NATS_"

// ownEnvPrefix starts fleetbook's own settings and the variables a worker gives a task.
const ownEnvPrefix = "FLEETBOOK_"

var (
	loaderEnv = map[string]bool{}
	// loaderEnvPrefixes are families of variables that make a program load or run code.
	loaderEnvPrefixes = []string{"LD_", "DYLD_", "BASH_FUNC_", "GIT_", "PYTHON", "PERL", "RUBY", "NODE_"}
)

func init() {
	for _, n := range []string{
		"PATH", "IFS", "ENV", "BASH_ENV", "CDPATH", "HOME", "SHELL", "PS1", "PS2", "PS3", "PS4",
		"PROMPT_COMMAND", "SHELLOPTS", "BASHOPTS", "GLOBIGNORE", "FPATH", "MAIL", "MAILPATH", "HISTFILE",
		"ZDOTDIR", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "SSH_ASKPASS", "SUDO_ASKPASS", "LESSOPEN",
		"LESSCLOSE", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "GCONV_PATH",
		"LOCPATH", "NLSPATH", "HOSTALIASES", "TERMINFO",
	} {
		loaderEnv[n] = true
	}
}

// LoaderEnv reports whether a value given to variable name may make a shell or a program load or
// run something (PATH, LD_PRELOAD, BASH_ENV, PYTHONPATH, ...).
func LoaderEnv(name string) bool {
	if loaderEnv[name] {
		return true
	}
	for _, p := range loaderEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// CredentialEnv reports whether variable name carries a NATS connection or its credentials: a
// program a playbook runs never gets it, and an environment store never reads it.
func CredentialEnv(name string) bool { return strings.HasPrefix(name, credentialEnvPrefix) }

// ProtectedEnv reports whether a playbook may not set variable name in a fleetbook process: a
// credential, one of fleetbook's own settings, or a loader variable.
func ProtectedEnv(name string) bool {
	return CredentialEnv(name) || strings.HasPrefix(name, ownEnvPrefix) || LoaderEnv(name)
}

// ProgramEnviron is environ (os.Environ's form) without the credential variables: the environment
// every program fleetbook runs for a playbook starts from.
func ProgramEnviron(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !CredentialEnv(name) {
			out = append(out, kv)
		}
	}
	return out
}
