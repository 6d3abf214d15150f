package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// Paging of the runs page.
const (
	defaultRunsLimit = 50
	maxRunsLimit     = 500
)

// statuses are the run statuses, in the order the counts show them.
var statuses = []protocol.RunStatus{protocol.StatusPending, protocol.StatusRunning, protocol.StatusSuccess,
	protocol.StatusFailed, protocol.StatusCancelled}

// runFilters are the query of the runs page, as given (to fill the form again) and as a request.
type runFilters struct {
	Status, Playbook, Schedule, Submitter, Since, Until, Limit string
	req                                                        protocol.ListRunsRequest
}

// statusCount is one status of #counts; Link lists the runs in that status.
type statusCount struct {
	Status protocol.RunStatus
	Count  int
	Link   string
}

// runsData is what the runs page shows.
type runsData struct {
	Filters   runFilters
	Counts    []statusCount
	Runs      []protocol.RunSummary
	NextPage  string
	FirstPage string
	Err       string
}

func (d runsData) pageError() string { return d.Err }

// runsPage lists the runs the signed-in identity may read, newest first, under the filters of
// the query, with the counts by status and the paging links.
func (c *Console) runsPage(w http.ResponseWriter, r *http.Request, s *userSession) {
	q := r.URL.Query()
	f, err := parseRunFilters(q)
	data := runsData{Filters: f, FirstPage: pageLink(q, "")}
	if err != nil {
		data.Err = err.Error()
		c.render(w, http.StatusBadRequest, "runs", s, data)
		return
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	f.req.WithCounts = true
	resp, err := s.client.ListRunsPage(ctx, f.req)
	if err != nil {
		data.Err = err.Error()
		c.render(w, apiStatus(err), "runs", s, data)
		return
	}
	data.Runs = resp.Runs
	if resp.Next != "" {
		data.NextPage = pageLink(q, resp.Next)
	}
	for _, st := range statuses {
		link := url.Values{}
		for k, v := range q {
			if k != "status" && k != "before" {
				link[k] = v
			}
		}
		link.Set("status", string(st))
		data.Counts = append(data.Counts, statusCount{Status: st, Count: resp.Counts[st], Link: "/runs?" + link.Encode()})
	}
	c.render(w, http.StatusOK, "runs", s, data)
}

// pageLink is the runs page of query q from cursor before ("" for the first page).
func pageLink(q url.Values, before string) string {
	v := url.Values{}
	for k, vals := range q {
		if k != "before" {
			v[k] = vals
		}
	}
	if before != "" {
		v.Set("before", before)
	}
	if len(v) == 0 {
		return "/runs"
	}
	return "/runs?" + v.Encode()
}

// parseRunFilters reads the runs page's query; a bad value is an error naming its field.
func parseRunFilters(q url.Values) (runFilters, error) {
	f := runFilters{
		Status: strings.Join(q["status"], ","), Playbook: strings.TrimSpace(q.Get("playbook")),
		Schedule: strings.TrimSpace(q.Get("schedule")), Submitter: strings.TrimSpace(q.Get("submitter")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")), Limit: strings.TrimSpace(q.Get("limit")),
	}
	f.req = protocol.ListRunsRequest{Playbook: f.Playbook, Schedule: f.Schedule, Submitter: f.Submitter,
		Before: strings.TrimSpace(q.Get("before")), Limit: defaultRunsLimit}
	for _, st := range strings.Split(f.Status, ",") {
		st = strings.TrimSpace(st)
		if st == "" {
			continue
		}
		if !slices.Contains(statuses, protocol.RunStatus(st)) {
			return f, fmt.Errorf("%w status: %q is not a run status (pending, running, success, failed, cancelled)", ErrBadField, st)
		}
		f.req.Status = append(f.req.Status, protocol.RunStatus(st))
	}
	var err error
	if f.req.Since, err = parseTime(f.Since, false); err != nil {
		return f, fmt.Errorf("%w since: %v", ErrBadField, err)
	}
	if f.req.Until, err = parseTime(f.Until, true); err != nil {
		return f, fmt.Errorf("%w until: %v", ErrBadField, err)
	}
	if !f.req.Since.IsZero() && !f.req.Until.IsZero() && !f.req.Until.After(f.req.Since) {
		return f, fmt.Errorf("%w until: %s is not after since %s", ErrBadField, f.Until, f.Since)
	}
	if f.Limit != "" {
		n, err := strconv.Atoi(f.Limit)
		if err != nil || n < 1 || n > maxRunsLimit {
			return f, fmt.Errorf("%w limit: %q is not a number from 1 to %d", ErrBadField, f.Limit, maxRunsLimit)
		}
		f.req.Limit = n
	}
	if f.req.Before != "" && !protocol.ValidToken(f.req.Before) {
		return f, fmt.Errorf("%w before: %q is not a run id", ErrBadField, f.req.Before)
	}
	return f, nil
}

// parseTime reads an RFC 3339 time or a date (UTC). A date as an end (until) means the end of
// that day, so until=2026-12-03 includes the runs of the 3rd.
func parseTime(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil // what an input of type datetime-local sends
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-03T10:00:00Z) nor a date (2026-12-03)", s)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}
