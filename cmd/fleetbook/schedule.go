package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

func scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run playbooks on a calendar: add, list, show, update, pause, resume, trigger, backfill, delete",
		Long: `Schedules run a playbook at the slots of a calendar (cron expressions, intervals, a time
zone), each slot exactly once across coordinators and crashes. See docs/schedules.md.`,
	}
	cmd.AddCommand(scheduleAddCommand(), scheduleListCommand(), scheduleShowCommand(), scheduleUpdateCommand(),
		schedulePauseCommand(true), schedulePauseCommand(false), scheduleTriggerCommand(),
		scheduleBackfillCommand(), scheduleDeleteCommand())
	return cmd
}

// calendarFlags are the flags of a schedule's spec and policies, shared by add and update.
type calendarFlags struct {
	cron           []string
	every, offset  string
	tz             string
	start, end     string
	jitter         string
	exclude        []string
	overlap        string
	catchup        string
	pauseOnFailure bool
	timeout        time.Duration
}

func (f *calendarFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.cron, "cron", nil, `cron expression: 5 fields, 6 with seconds first, or @daily-style (repeatable)`)
	fs.StringVar(&f.every, "every", "", "interval between slots, such as 30m, 6h or 1d")
	fs.StringVar(&f.offset, "offset", "", "shift of the --every slots from the Unix epoch, shorter than the interval")
	fs.StringVar(&f.tz, "tz", "", "IANA time zone the cron expressions and exclusions are read in (default UTC)")
	fs.StringVar(&f.start, "start", "", "no slot before this time (RFC 3339, or YYYY-MM-DD[THH:MM] in --tz)")
	fs.StringVar(&f.end, "end", "", "no slot after this time (RFC 3339, or YYYY-MM-DD[THH:MM] in --tz)")
	fs.StringVar(&f.jitter, "jitter", "", "delay each run by up to this much, the same for a given slot on every coordinator")
	fs.StringArrayVar(&f.exclude, "exclude", nil, "slots not to fire: a date, DATE..DATE, or a cron expression (repeatable)")
	fs.StringVar(&f.overlap, "overlap", "", "when the previous run is still going: skip (default), buffer_one, buffer_all, cancel_other, allow_all")
	fs.StringVar(&f.catchup, "catchup", "", "how late a slot may still fire after coordinators were down (default 5m)")
	fs.BoolVar(&f.pauseOnFailure, "pause-on-failure", false, "pause the schedule when one of its runs fails")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop each run (as if cancelled) if it has not ended this long after it started")
}

// apply sets, in spec and pol, the fields whose flags were given (every field, for add).
func (f *calendarFlags) apply(fs *pflag.FlagSet, spec *protocol.ScheduleSpec, pol *protocol.SchedulePolicies) error {
	set := func(name string) bool { return fs.Changed(name) }
	if set("cron") {
		spec.Cron = f.cron
	}
	if set("every") {
		spec.Every = f.every
	}
	if set("offset") {
		spec.Offset = f.offset
	}
	if set("tz") {
		spec.TimeZone = f.tz
	}
	if set("jitter") {
		spec.Jitter = f.jitter
	}
	if set("exclude") {
		spec.Exclude = f.exclude
	}
	loc := time.UTC
	if spec.TimeZone != "" {
		l, err := time.LoadLocation(spec.TimeZone)
		if err != nil {
			return exitf(exitRefused, "--tz: unknown time zone %q", spec.TimeZone)
		}
		loc = l
	}
	for _, b := range []struct {
		flag, value string
		to          *time.Time
	}{{"start", f.start, &spec.Start}, {"end", f.end, &spec.End}} {
		if !set(b.flag) {
			continue
		}
		t, err := parseSlotTime(b.value, loc)
		if err != nil {
			return exitf(exitRefused, "--%s: %v", b.flag, err)
		}
		*b.to = t
	}
	if set("overlap") {
		pol.Overlap = protocol.OverlapPolicy(f.overlap)
	}
	if set("catchup") {
		pol.CatchupWindow = f.catchup
	}
	if set("pause-on-failure") {
		pol.PauseOnFailure = f.pauseOnFailure
	}
	if f.timeout < 0 {
		return exitf(exitRefused, "--timeout must not be negative, got %s", f.timeout)
	}
	return nil
}

// parseSlotTime reads a time: RFC 3339, or a date with an optional time of day in loc; empty is zero.
func parseSlotTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (give RFC 3339 such as 2026-12-01T02:00:00Z, or 2026-12-01, or 2026-12-01T02:00)", s)
}

// checkCalendar refuses a spec or policies the coordinator would refuse, before any server is
// reached, naming the field.
func checkCalendar(spec protocol.ScheduleSpec, pol protocol.SchedulePolicies, asJSON bool) error {
	if err := coordinator.CheckSchedule(spec, pol); err != nil {
		return refused(err, "schedule", asJSON)
	}
	return nil
}

// playbookFor reads and validates a schedule's playbook file with its inputs, as run does, and
// collects the child playbooks it names.
func playbookFor(file string, in inputFlags, plugins pluginSet, asJSON bool) (string, map[string]any, map[string]string, error) {
	doc, err := readPlaybook(file)
	if err != nil {
		return "", nil, nil, err
	}
	inputs, err := in.values()
	if err != nil {
		return "", nil, nil, err
	}
	if _, _, err := coordinator.Validate(doc, inputs, plugins.parse()...); err != nil {
		return "", nil, nil, refused(err, file, asJSON)
	}
	files, apiErr := childPlaybooks(file, doc, plugins.parse()...)
	if apiErr != nil {
		return "", nil, nil, refused(apiErr, file, asJSON)
	}
	return string(doc), inputs, files, nil
}

func scheduleAddCommand() *cobra.Command {
	var (
		conn   connFlags
		cal    calendarFlags
		in     inputFlags
		asJSON bool
		paused bool
		note   string
	)
	cmd := &cobra.Command{
		Use:   "add NAME FILE",
		Short: "Add a schedule that runs playbook FILE at the slots of its calendar",
		Long: `Add a schedule. Give --cron (repeatable) or --every, and the playbook's inputs as for run.
The playbook and inputs are validated now: a schedule that could never run is refused (exit 2).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := protocol.ScheduleAddRequest{Name: args[0], Source: args[1], Paused: paused, Note: note}
			if !protocol.ValidScheduleName(req.Name) {
				return exitf(exitRefused, "schedule name %q: 1 to 64 letters, digits, - and _, starting with a letter or digit", req.Name)
			}
			if err := cal.apply(cmd.Flags(), &req.Spec, &req.Policies); err != nil {
				return err
			}
			req.Timeout = cal.timeout
			if err := checkCalendar(req.Spec, req.Policies, asJSON); err != nil {
				return err
			}
			plugins, err := loadPlugins(conn.plugins)
			if err != nil {
				return err
			}
			if req.Playbook, req.Inputs, req.Files, err = playbookFor(args[1], in, plugins, asJSON); err != nil {
				return err
			}
			return withClient(cmd, &conn, "fleetbook schedule add", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				info, err := c.AddSchedule(ctx, req)
				if err != nil {
					return err
				}
				return printScheduleInfo(os.Stdout, info, asJSON, 0)
			})
		},
	}
	conn.register(cmd)
	cal.register(cmd.Flags())
	cmd.Flags().StringArrayVarP(&in.pairs, "input", "i", nil, "input value NAME=VALUE (repeatable)")
	cmd.Flags().StringVar(&in.file, "inputs", "", "file of input values (.json or .yaml)")
	cmd.Flags().BoolVar(&paused, "paused", false, "add the schedule paused")
	cmd.Flags().StringVar(&note, "note", "", "a note shown with the schedule")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schedule as JSON")
	pluginsFlag(cmd, &conn.plugins)
	return cmd
}

func scheduleUpdateCommand() *cobra.Command {
	var (
		conn   connFlags
		cal    calendarFlags
		in     inputFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME [FILE]",
		Short: "Change a schedule: the flags given (and FILE, a new playbook) replace its values",
		Long: `Change a schedule. Only what is given changes: calendar flags replace those fields of the
spec, --input/--inputs replace every input (sensitive ones must be given again), FILE replaces the
playbook. The playbook and inputs are validated again (exit 2 when refused).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return withClient(cmd, &conn, "fleetbook schedule update", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				cur, err := c.GetSchedule(ctx, name, 1)
				if err != nil {
					return err
				}
				req := protocol.ScheduleUpdateRequest{Name: name}
				spec, pol := cur.Schedule.Spec, cur.Schedule.Policies
				if err := cal.apply(cmd.Flags(), &spec, &pol); err != nil {
					return err
				}
				if err := checkCalendar(spec, pol, asJSON); err != nil {
					return err
				}
				req.Spec, req.Policies = &spec, &pol
				if cmd.Flags().Changed("timeout") {
					req.Timeout = &cal.timeout
				}
				inputsGiven := cmd.Flags().Changed("input") || cmd.Flags().Changed("inputs")
				if inputsGiven {
					if req.Inputs, err = in.values(); err != nil {
						return err
					}
					if req.Inputs == nil {
						req.Inputs = map[string]any{}
					}
				}
				if len(args) == 2 {
					plugins, err := loadPlugins(conn.plugins)
					if err != nil {
						return err
					}
					var doc string
					if inputsGiven {
						doc, req.Inputs, req.Files, err = playbookFor(args[1], in, plugins, asJSON)
					} else {
						// The inputs are the schedule's, which this side cannot see (sensitive
						// ones are sealed): the coordinator checks them with the new playbook.
						doc, req.Files, err = playbookOnly(args[1], plugins, asJSON)
					}
					if err != nil {
						return err
					}
					req.Playbook, req.Source = &doc, &args[1]
				}
				info, err := c.UpdateSchedule(ctx, req)
				if err != nil {
					return err
				}
				return printScheduleInfo(os.Stdout, info, asJSON, 0)
			})
		},
	}
	conn.register(cmd)
	cal.register(cmd.Flags())
	cmd.Flags().StringArrayVarP(&in.pairs, "input", "i", nil, "input value NAME=VALUE (repeatable; replaces every input)")
	cmd.Flags().StringVar(&in.file, "inputs", "", "file of input values (.json or .yaml; replaces every input)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schedule as JSON")
	pluginsFlag(cmd, &conn.plugins)
	return cmd
}

// playbookOnly reads and validates a playbook file without its inputs, and collects the child
// playbooks it names.
func playbookOnly(file string, plugins pluginSet, asJSON bool) (string, map[string]string, error) {
	doc, err := readPlaybook(file)
	if err != nil {
		return "", nil, err
	}
	if _, err := coordinator.ValidatePlaybook(doc, plugins.parse()...); err != nil {
		return "", nil, refused(err, file, asJSON)
	}
	files, apiErr := childPlaybooks(file, doc, plugins.parse()...)
	if apiErr != nil {
		return "", nil, refused(apiErr, file, asJSON)
	}
	return string(doc), files, nil
}

func scheduleListCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List schedules: next fire time, last run and its status, paused",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd, &conn, "fleetbook schedule list", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				list, err := c.ListSchedules(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(os.Stdout).Encode(map[string]any{"schedules": list})
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPLAYBOOK\tCALENDAR\tNEXT\tLAST RUN\tSTATUS\tPAUSED")
				for _, s := range list {
					next, last, status := "-", "-", "-"
					if !s.Next.IsZero() {
						next = s.Next.Local().Format(time.DateTime)
					}
					if s.Last != nil {
						last, status = s.Last.RunID, string(s.Last.Status)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%t\n", visible(s.Name), visible(s.Playbook.Name), visible(calendarText(s.Spec)),
						next, visible(last), visible(status), s.Paused)
				}
				return tw.Flush()
			})
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"schedules": [...]} as JSON`)
	return cmd
}

func scheduleShowCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		next   int
		runs   int
	)
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a schedule: spec, policies, the next fire times and the latest slots with their runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &conn, "fleetbook schedule show", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				info, err := c.GetSchedule(ctx, args[0], next)
				if err != nil {
					return err
				}
				return printScheduleInfo(os.Stdout, info, asJSON, runs)
			})
		},
	}
	conn.register(cmd)
	conn.readOnly = true
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schedule as JSON")
	cmd.Flags().IntVar(&next, "next", 10, "how many next fire times to show")
	cmd.Flags().IntVar(&runs, "runs", 10, "how many of the latest slots to show")
	return cmd
}

func schedulePauseCommand(pause bool) *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		note   string
	)
	use, short := "resume NAME", "Resume a paused schedule: it fires from now on (the slots of the pause never fire)"
	if pause {
		use, short = "pause NAME", "Pause a schedule: no slot fires until it is resumed"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &conn, "fleetbook schedule "+strings.Fields(use)[0], asJSON, func(ctx context.Context, c *coordinator.Client) error {
				info, err := c.PauseSchedule(ctx, args[0], pause, note)
				if err != nil {
					return err
				}
				return printScheduleInfo(os.Stdout, info, asJSON, 0)
			})
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&note, "note", "", "why (shown with the schedule)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schedule as JSON")
	return cmd
}

func scheduleTriggerCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
		key    string
	)
	cmd := &cobra.Command{
		Use:   "trigger NAME",
		Short: "Run a schedule now, under its overlap policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				key = uuid.NewString()
			}
			return withClient(cmd, &conn, "fleetbook schedule trigger", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				resp, err := c.TriggerSchedule(ctx, args[0], key)
				if err != nil {
					return err
				}
				return printAction(os.Stdout, resp, asJSON)
			})
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&key, "key", "", "trigger under this key: repeating the command with it never starts a second run (default: a new key)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	return cmd
}

func scheduleBackfillCommand() *cobra.Command {
	var (
		conn     connFlags
		asJSON   bool
		from, to string
		overlap  string
		tz       string
	)
	cmd := &cobra.Command{
		Use:   "backfill NAME --from T --to T",
		Short: "Fire the schedule's past slots in a range that have not run (default overlap buffer_all)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc := time.UTC
			if tz != "" {
				l, err := time.LoadLocation(tz)
				if err != nil {
					return exitf(exitRefused, "--tz: unknown time zone %q", tz)
				}
				loc = l
			}
			req := protocol.ScheduleBackfillRequest{Name: args[0], Overlap: protocol.OverlapPolicy(overlap)}
			var err error
			if req.From, err = parseSlotTime(from, loc); err != nil || from == "" {
				return exitf(exitRefused, "--from: give the start of the range (%v)", err)
			}
			if req.To, err = parseSlotTime(to, loc); err != nil || to == "" {
				return exitf(exitRefused, "--to: give the end of the range (%v)", err)
			}
			return withClient(cmd, &conn, "fleetbook schedule backfill", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				resp, err := c.BackfillSchedule(ctx, req)
				if err != nil {
					return err
				}
				return printAction(os.Stdout, resp, asJSON)
			})
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "first slot time to consider (RFC 3339, or YYYY-MM-DD[THH:MM] in --tz)")
	cmd.Flags().StringVar(&to, "to", "", "last slot time to consider")
	cmd.Flags().StringVar(&tz, "tz", "", "zone of --from/--to when they carry none (default UTC)")
	cmd.Flags().StringVar(&overlap, "overlap", "", "overlap policy of the backfilled slots (default buffer_all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON")
	return cmd
}

func scheduleDeleteCommand() *cobra.Command {
	var (
		conn   connFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a schedule (its runs are kept)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &conn, "fleetbook schedule delete", asJSON, func(ctx context.Context, c *coordinator.Client) error {
				if err := c.DeleteSchedule(ctx, args[0]); err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(os.Stdout).Encode(map[string]string{"deleted": args[0]})
				}
				fmt.Printf("schedule %s deleted\n", visible(args[0]))
				return nil
			})
		},
	}
	conn.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"deleted": NAME} as JSON`)
	return cmd
}

// withClient connects as conn says, runs f, and maps its error to the exit-code contract: a
// schedule not found or a refusal is 2, anything else 3.
func withClient(cmd *cobra.Command, conn *connFlags, name string, asJSON bool, f func(context.Context, *coordinator.Client) error) error {
	s, err := conn.connect(cmd.Context(), name)
	if err != nil {
		return err
	}
	defer s.stop()
	err = f(cmd.Context(), s.client)
	var exit *exitError
	if err == nil || errors.As(err, &exit) {
		return err
	}
	return apiFailure(err, strings.TrimPrefix(name, "fleetbook "), asJSON)
}

// calendarText is a schedule's calendar in one line.
func calendarText(s protocol.ScheduleSpec) string {
	var parts []string
	for _, c := range s.Cron {
		parts = append(parts, "cron "+c)
	}
	if s.Every != "" {
		every := "every " + s.Every
		if s.Offset != "" {
			every += " +" + s.Offset
		}
		parts = append(parts, every)
	}
	text := strings.Join(parts, ", ")
	if s.TimeZone != "" {
		text += " (" + s.TimeZone + ")"
	}
	return text
}

func printScheduleInfo(w io.Writer, info *protocol.ScheduleInfo, asJSON bool, history int) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	sc := info.Schedule
	fmt.Fprintf(w, "Schedule %s: %s %s\n", visible(sc.Name), visible(sc.PlaybookRef.Name), visible(sc.PlaybookRef.Version))
	fmt.Fprintf(w, "Calendar: %s\n", visible(calendarText(sc.Spec)))
	if !sc.Spec.Start.IsZero() || !sc.Spec.End.IsZero() {
		fmt.Fprintf(w, "Between:  %s and %s\n", whenText(sc.Spec.Start), whenText(sc.Spec.End))
	}
	if sc.Spec.Jitter != "" {
		fmt.Fprintf(w, "Jitter:   %s\n", visible(sc.Spec.Jitter))
	}
	for _, e := range sc.Spec.Exclude {
		fmt.Fprintf(w, "Exclude:  %s\n", visible(e))
	}
	overlap, catchup := string(sc.Policies.Overlap), sc.Policies.CatchupWindow
	if overlap == "" {
		overlap = string(protocol.OverlapSkip)
	}
	if catchup == "" {
		catchup = protocol.DefaultCatchupWindow.String()
	}
	fmt.Fprintf(w, "Policies: overlap %s, catch-up window %s, pause on failure %t\n", visible(overlap), visible(catchup), sc.Policies.PauseOnFailure)
	fmt.Fprintf(w, "Owner:    %s (its runs are submitted as it)\n", visible(sc.Owner.String()))
	fmt.Fprintf(w, "Paused:   %t", sc.Paused)
	if sc.Note != "" {
		fmt.Fprintf(w, " (%s)", visible(sc.Note))
	}
	fmt.Fprintln(w)
	st := sc.State
	fmt.Fprintf(w, "Slots:    %d fired, %d skipped, %d missed, %d refused; %d buffered, %d runs going\n",
		st.Fired, st.Skipped, st.Missed, st.Refused, len(st.Buffered), len(st.Active))
	if len(sc.Inputs) > 0 {
		b, _ := json.Marshal(sc.Inputs)
		fmt.Fprintf(w, "Inputs:   %s\n", visible(string(b)))
	}
	if len(info.Next) > 0 {
		// In the schedule's own zone: "02:00+01:00" is what its cron expression says.
		loc := time.Local
		if l, err := time.LoadLocation(sc.Spec.TimeZone); err == nil && sc.Spec.TimeZone != "" {
			loc = l
		}
		fmt.Fprintln(w, "\nNext fire times:")
		for _, t := range info.Next {
			fmt.Fprintf(w, "  %s\n", t.In(loc).Format(time.RFC3339))
		}
	}
	if history > 0 && len(st.History) > 0 {
		fmt.Fprintln(w, "\nLatest slots:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SLOT\tOUTCOME\tRUN\tSTATUS\tNOTE")
		from := max(len(st.History)-history, 0)
		for _, h := range st.History[from:] {
			note := h.Error
			if h.Trigger != "" {
				note = strings.TrimSpace(h.Trigger + " " + note)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", h.Slot.Local().Format(time.RFC3339), visible(string(h.Outcome)),
				visible(dash(h.RunID)), visible(dash(string(h.Status))), visible(note))
		}
		return tw.Flush()
	}
	return nil
}

func printAction(w io.Writer, resp *protocol.ScheduleActionResponse, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	if len(resp.Slots) == 0 {
		fmt.Fprintf(w, "schedule %s: no slot to fire\n", visible(resp.Name))
		return nil
	}
	for _, s := range resp.Slots {
		line := fmt.Sprintf("%s %s", s.Slot.Local().Format(time.RFC3339), s.Outcome)
		if s.RunID != "" {
			line += " run " + s.RunID
		}
		if s.Error != "" {
			line += " (" + s.Error + ")"
		}
		fmt.Fprintln(w, visible(line))
	}
	return nil
}

func whenText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}
