package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// logOptions are the root's --log-format and --log-level, read by every logger the command makes.
var logOptions struct {
	format string
	level  string
}

// registerLogFlags adds --log-format and --log-level to every command.
func registerLogFlags(root *cobra.Command) {
	root.PersistentFlags().StringVar(&logOptions.format, "log-format", "text", "log lines as text or json (on stderr)")
	root.PersistentFlags().StringVar(&logOptions.level, "log-level", "", "log from this level up: debug, info, warn or error (default: error, info with --verbose and for services)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if logOptions.format != "text" && logOptions.format != "json" {
			return exitf(exitRefused, "--log-format: give text or json, got %q", logOptions.format)
		}
		if logOptions.level != "" {
			var l slog.Level
			if err := l.UnmarshalText([]byte(logOptions.level)); err != nil {
				return exitf(exitRefused, "--log-level: give debug, info, warn or error, got %q", logOptions.level)
			}
		}
		return nil
	}
}

// newLogger logs to w from level up (or from --log-level when given) in the --log-format.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	if logOptions.level != "" {
		_ = level.UnmarshalText([]byte(logOptions.level))
	}
	opts := &slog.HandlerOptions{Level: level}
	if logOptions.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// version is this binary's version from its build information, the one its coordinators' micro
// service announces too.
func version() string { return coordinator.Version() }

// groupCommand makes cmd, a command that only holds subcommands, refuse an unknown subcommand
// (exit 2) with the closest names, instead of printing its help as if asked for it.
func groupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		} else {
			msg += "; see " + cmd.CommandPath() + " --help"
		}
		return exitf(exitRefused, "%s", msg)
	}
	return cmd
}

// wantsJSON reports whether cmd was given --json.
func wantsJSON(cmd *cobra.Command) bool {
	if cmd == nil {
		return false
	}
	f := cmd.Flags().Lookup("json")
	return f != nil && f.Value.String() == "true"
}

// printJSONError prints err as the JSON error document of a --json command on stdout: the shape
// of protocol.ErrorResponse, the code naming the exit code's class.
func printJSONError(w io.Writer, code int, err error) {
	c := protocol.CodeBadRequest
	switch code {
	case exitInfra:
		c = "UNAVAILABLE"
	case exitFailed:
		c = "FAILED"
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(protocol.ErrorResponse{Code: c, Message: err.Error()})
}

// jsonErrorOut is where main prints a --json command's error document.
var jsonErrorOut io.Writer = os.Stdout

// unknownInputPattern finds the name in a problem about an input the playbook does not declare.
var unknownInputPattern = regexp.MustCompile(`unknown input "([^"]+)"`)

// explained is a refusal of doc with what helps fix it added to its problems: where a line is
// indented with tabs (YAML allows only spaces), and the declared input closest to an unknown one.
func explained(err error, doc []byte, opts ...playbooks.ParseOption) error {
	var apiErr *protocol.ErrorResponse
	if !errors.As(err, &apiErr) {
		return err
	}
	out := *apiErr
	out.Problems = append([]protocol.Problem(nil), apiErr.Problems...)
	if apiErr.Code == protocol.CodeInvalidPlaybook {
		for i, line := range strings.Split(string(doc), "\n") {
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			if strings.Contains(indent, "\t") && strings.TrimSpace(line) != "" {
				out.Problems = append([]protocol.Problem{{Line: i + 1, Message: "tabs are not allowed in YAML indentation: indent with spaces"}}, out.Problems...)
				break
			}
		}
	}
	if apiErr.Code == protocol.CodeInvalidInput {
		pb, perr := playbooks.Parse(doc, opts...)
		if perr == nil {
			for i, p := range out.Problems {
				m := unknownInputPattern.FindStringSubmatch(p.Message)
				if m == nil {
					continue
				}
				if best := closestInput(m[1], pb.Inputs); best != "" {
					out.Problems[i].Message += fmt.Sprintf("; did you mean %q?", best)
				}
			}
		}
	}
	return &out
}

// closestInput is the declared input nearest to name (by edit distance, at most a third of its
// length away), or "".
func closestInput(name string, inputs []playbooks.Input) string {
	best, bestD := "", len(name)/3+1
	for _, in := range inputs {
		if d := editDistance(strings.ToLower(name), strings.ToLower(in.Name)); d <= bestD && (best == "" || d < bestD) {
			best, bestD = in.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
