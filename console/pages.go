package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/protocol"
)

// assets are the console's templates and static files, in the binary: the console needs no
// file beside it and no network beyond the NATS server (no CDN, no external font).
//
//go:embed assets
var assets embed.FS

// pageNames are the pages, each a template file of assets/templates rendered into base.html.
var pageNames = []string{"signin", "runs", "run", "schedules", "nodes"}

// pages are the parsed templates, one per page.
type pages struct{ byName map[string]*template.Template }

// pageData is what base.html renders: the page's name (body[data-page]), who is signed in, the
// csrf field of its forms, the error to show, the live marker and the page's own data.
type pageData struct {
	Page  string
	Who   string
	CSRF  string
	Error string
	// Live is body[data-live]: "true" while a run page follows the run, "false" once it ended,
	// "" on other pages.
	Live string
	Data any
}

// errorer is page data that carries an error to show in #error.
type errorer interface{ pageError() string }

// liver is page data that sets body[data-live].
type liver interface{ live() string }

func loadPages() (*pages, error) {
	base, err := template.New("base.html").Funcs(templateFuncs).ParseFS(assets, "assets/templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(assets, "assets/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes page with data for session s (nil on the sign-in page), as status. The page is
// rendered whole before anything is written, so a template error is a clean 500.
func (c *Console) render(w http.ResponseWriter, status int, page string, s *userSession, data any) {
	pd := pageData{Page: page, Data: data}
	if s != nil {
		pd.Who, pd.CSRF = s.key, s.csrf()
	}
	if e, ok := data.(errorer); ok {
		pd.Error = e.pageError()
	}
	if l, ok := data.(liver); ok {
		pd.Live = l.live()
	}
	var buf bytes.Buffer
	if err := c.pages.byName[page].ExecuteTemplate(&buf, "base.html", pd); err != nil {
		c.opts.log.Error("rendering a console page", "page", page, "error", err)
		http.Error(w, "500 internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// staticHandler serves the embedded script, style sheet and images.
func staticHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// apiStatus is the HTTP status of an error from the API: the policy's refusal is 403, a run
// that is not there 404, bad input 400, no coordinator answering 503.
func apiStatus(err error) int {
	var apiErr *protocol.ErrorResponse
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == protocol.CodeForbidden:
		return http.StatusForbidden
	case errors.As(err, &apiErr) && apiErr.Code == protocol.CodeNotFound:
		return http.StatusNotFound
	case errors.As(err, &apiErr) && (apiErr.Code == protocol.CodeBadRequest || apiErr.Code == protocol.CodeInvalidInput || apiErr.Code == protocol.CodeInvalidPlaybook):
		return http.StatusBadRequest
	case errors.As(err, &apiErr) && apiErr.Code == protocol.CodeConflict:
		return http.StatusConflict
	case errors.Is(err, coordinator.ErrNoCoordinator):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBadField):
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

// templateFuncs are the helpers the templates use; html/template escapes what they return.
var templateFuncs = template.FuncMap{
	"when":     when,
	"duration": duration,
	"value":    value,
	"who":      who,
}

// when is t in UTC to the second, "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// duration is the time from start to end, "" before start; to now while end is zero.
func duration(start, end time.Time) string {
	if start.IsZero() {
		return ""
	}
	if end.IsZero() {
		end = time.Now()
	}
	return roundDuration(end.Sub(start)).String()
}

// roundDuration keeps a duration readable: milliseconds under a minute, seconds above.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// value is v as text: a string as it is, anything else as JSON.
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// who names an identity: its policy name, else its key.
func who(i protocol.Identity) string {
	if i.Name != "" {
		return i.Name
	}
	if i.Key != "" {
		return i.Key
	}
	return protocol.UnsignedIdentity
}
