package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
)

// contentSecurityPolicy lets a page load only the console's own files: its one script and
// style sheet, no inline script or style attribute handlers, no plug-ins, no frames (the page
// cannot be framed either), forms posting only back to the console, and fetch and
// EventSource only to it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxFormBytes bounds the body of a POST: a grant, a reason, a few inputs.
const maxFormBytes = 64 << 10

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses (403) a POST that another site's page may have sent: its Origin header must
// be the console's own (as the request reached it, or public, the origin people reach it at
// through a proxy), or, for a client that sends no Origin, its form must carry the csrf field of
// the session it is sent with (csrfToken), which another site cannot know.
func sameOrigin(public string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if origin := r.Header.Get("Origin"); origin != "" {
			if origin != ownOrigin(r) && (public == "" || origin != public) {
				http.Error(w, "403 forbidden: "+ErrCrossOrigin.Error()+": Origin "+origin+" is not this console's", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		grant := sessionCookie(r)
		given := r.PostFormValue("csrf")
		if grant == "" || given == "" || subtle.ConstantTimeCompare([]byte(given), []byte(csrfToken(grant))) != 1 {
			http.Error(w, "403 forbidden: "+ErrCrossOrigin.Error()+": no Origin header and no matching csrf field", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownOrigin is the origin of the console as the request reached it.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host}).String()
}

// csrfToken is the csrf form field of the session of grant: derived from the grant, which
// never leaves the HttpOnly cookie, so a page of another site cannot compute it; and the same on
// every console process, so it needs no shared state.
func csrfToken(grant string) string {
	sum := sha256.Sum256([]byte("fleetbook console csrf\x00" + grant))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
