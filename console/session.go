package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/coordinator"
)

// cookieName is the session cookie: it holds the signed-in identity's session grant.
const cookieName = "fleetbook_session"

// userSession is the signed-in identity of one request and the API client that acts for it.
type userSession struct {
	grant   string
	key     string
	expires time.Time
	// client signs with the console's key and carries the grant: the coordinator decides each
	// request as the identity that signed in.
	client *coordinator.Client
}

// csrf is the csrf field of the session's forms.
func (s *userSession) csrf() string { return csrfToken(s.grant) }

// sessionHandler handles a request of a signed-in identity.
type sessionHandler func(http.ResponseWriter, *http.Request, *userSession)

// sessionCookie is the grant the request's session cookie holds, "" when none.
func sessionCookie(r *http.Request) string {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}

// session returns the session of r: its cookie's grant, verified now. The coordinator verifies
// the grant again on every request; the console checks it first so that a stranger gets the
// sign-in page, not an error from the API.
func (c *Console) session(r *http.Request) (*userSession, error) {
	grant := sessionCookie(r)
	if grant == "" {
		return nil, ErrNoSession
	}
	g, err := coordinator.VerifySessionGrant(grant, time.Now())
	if err != nil {
		return nil, errors.Join(ErrNoSession, err)
	}
	return &userSession{grant: grant, key: g.Key, expires: g.ExpiresAt, client: c.client.ForSession(grant)}, nil
}

// signedIn serves h to a signed-in identity; any other request is sent to the sign-in page
// (303), with the page it asked for to come back to.
func (c *Console) signedIn(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if sessionCookie(r) != "" {
				c.clearCookie(w, r)
			}
			target := "/signin"
			if r.Method == http.MethodGet && r.URL.Path != "/runs" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		h(w, r, s)
	})
}

// signedInJSON serves h to a signed-in identity and answers anyone else 401 with a JSON error:
// for the endpoints scripts call.
func (c *Console) signedInJSON(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			writeJSONError(w, http.StatusUnauthorized, err.Error())
			return
		}
		h(w, r, s)
	})
}

// signinData is what the sign-in page shows.
type signinData struct {
	Error string
	Next  string
}

func (d signinData) pageError() string { return d.Error }

// signinPage shows the sign-in form; its script signs in with the grant of the URL's fragment.
func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "signin", nil, signinData{Next: localPath(r.URL.Query().Get("next"))})
}

// signin verifies the posted grant and, when it holds, sets the session cookie: HttpOnly (no
// script reads it), SameSite=Strict (no other site's request carries it), Secure under TLS,
// expiring with the grant. A bad grant gets the sign-in page again, 401, saying why.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	grant := strings.TrimSpace(r.PostFormValue("grant"))
	next := localPath(r.PostFormValue("next"))
	if grant == "" {
		c.render(w, http.StatusUnauthorized, "signin", nil, signinData{Error: "grant: empty; give the token `fleetbook console login` prints", Next: next})
		return
	}
	g, err := coordinator.VerifySessionGrant(grant, time.Now())
	if err != nil {
		c.opts.log.Info("sign-in refused", "error", err)
		c.render(w, http.StatusUnauthorized, "signin", nil, signinData{Error: "grant refused: " + err.Error(), Next: next})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: grant, Path: "/", Expires: g.ExpiresAt, MaxAge: int(time.Until(g.ExpiresAt).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r),
	})
	c.opts.log.Info("signed in", "identity", g.Key, "expires_at", g.ExpiresAt)
	if next == "" {
		next = "/runs"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout clears the session cookie. The grant itself stays valid until it expires: whoever
// copied it could still use it (docs/console.md).
func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	c.clearCookie(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// sessionInfo answers the signed-in identity, for the sign-in page to tell a session that is
// already there (a link followed from another site arrives without the SameSite=Strict cookie).
func (c *Console) sessionInfo(w http.ResponseWriter, _ *http.Request, s *userSession) {
	writeJSON(w, http.StatusOK, map[string]any{"key": s.key, "expires_at": s.expires})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
}

func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.opts.secureCookies }

// localPath is p when it is a path of this console ("/runs/ID?x"), "" otherwise: the sign-in
// page never sends anyone to another site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	return p
}

// apiContext bounds one API call of a request.
func (c *Console) apiContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.opts.apiTimeout)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONError answers {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
