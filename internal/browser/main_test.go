package browser

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fleetbook/fleetbook/internal/fleettest"
)

// binary is the fleetbook command built for these tests.
var binary string

func TestMain(m *testing.M) {
	// Say why the tests skip even without -v: a CI whose browser went missing must show it.
	if _, why := chromium(); why != "" {
		fmt.Fprintln(os.Stderr, "internal/browser: every browser test skips:", why)
	}
	fleettest.Main(m, &binary)
}

// The harness itself drives the browser: a page's script sets the ready marker later, the tab
// waits for it and reads the DOM back.
func TestHarnessWaitsForReadyMarker(t *testing.T) {
	ctx := newBrowser(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><body data-page="runs"><p id="x">hello</p>
<script>setTimeout(function(){document.body.dataset.ready="true"},200)</script></body>`)
	}))
	t.Cleanup(srv.Close)
	do(t, ctx, "open the page", chromedp.Navigate(srv.URL), ready("runs"))
	if got := get(t, ctx, "read #x", chromedp.Text(chromedp.CSS("#x"))); got != "hello" {
		t.Errorf("#x is %q, want hello", got)
	}
	if got := get(t, ctx, "read the ready marker", chromedp.Evaluate[string](`document.body.dataset.ready`)); got != "true" {
		t.Errorf("data-ready is %q", got)
	}
}
