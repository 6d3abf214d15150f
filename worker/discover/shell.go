package discover

import (
	"context"
	"fmt"
	"strings"
)

// shellNodes runs the script property and reads one host name per line of its standard output.
// The script is split into words (splitArgv) and run directly, never through a shell, so a
// templated value in its arguments cannot run as code. Blank lines are skipped; a line that is
// not a valid host name fails discovery, as does a non-zero exit or the timeout. Unlike Choria,
// empty output is not an error here: the node set's empty_ok and when_empty decide.
func (d *discoverer) shellNodes(ctx context.Context, props map[string]any) ([]string, error) {
	script, err := stringProp(props, "script", true)
	if err != nil {
		return nil, err
	}
	argv, err := splitArgv(script)
	if err != nil {
		return nil, fmt.Errorf("property script: %w", err)
	}
	if argv[0], err = checkExecutable("node source script", argv[0]); err != nil {
		return nil, err
	}
	out, err := runProgram(ctx, argv, d.sourceTimeout)
	if err != nil {
		return nil, fmt.Errorf("node source script: %w", err)
	}
	var hosts []string
	for line := range strings.Lines(out.stdout) {
		if line = strings.TrimSpace(line); line != "" {
			hosts = append(hosts, line)
		}
	}
	if err := checkHostnames(hosts, "node source script output, host"); err != nil {
		return nil, err
	}
	return hosts, nil
}
