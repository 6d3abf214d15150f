package browser

// The harness: it starts `fleetbook up` (or a console of its own), reads the sign-in URL it
// prints, gives the tests a Go client of the same fleet and a browser tab.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/coordinator"
	"github.com/fleetbook/fleetbook/internal/natstest"
)

// wait bounds every wait for the console or the browser: generous, for a busy 2-core machine.
// It is a deadline for readiness, not a speed requirement.
const wait = 2 * time.Minute

// chromiumCandidates are where the browser is looked for, in order, after $FLEETBOOK_CHROMIUM.
var chromiumCandidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}

// chromium returns the path of a Chromium binary, or "" and why none was found.
func chromium() (string, string) {
	if p := os.Getenv("FLEETBOOK_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Sprintf("$FLEETBOOK_CHROMIUM=%s is not an executable: %v", p, err)
		}
		return p, ""
	}
	for _, c := range chromiumCandidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, ""
		}
	}
	return "", fmt.Sprintf("no chromium binary (looked for %s; run .ci/install-chromium or set $FLEETBOOK_CHROMIUM)", strings.Join(chromiumCandidates, ", "))
}

// watched makes the first test of the run stat the module's sources (see watchSources).
var watched sync.Once

// skipWithoutChromium skips the test, saying why, when there is no Chromium; else it returns
// the browser's path.
func skipWithoutChromium(tb testing.TB) string {
	tb.Helper()
	watched.Do(func() { watchSources(filepath.Join("..", "..")) })
	path, why := chromium()
	if path == "" {
		tb.Skip("browser tests skipped: " + why)
	}
	return path
}

// process is one fleetbook process the test started; it is killed when the test ends and its
// output is printed if the test failed.
type process struct {
	cmd  *exec.Cmd
	out  *natstest.LogBuffer
	done chan struct{}

	mu sync.Mutex
	// stderr are the lines written to stderr so far; changed is closed (and replaced) at each.
	stderr  []string
	changed chan struct{}
}

// startProcess starts bin with args, the environment free of the machine's nats settings.
func startProcess(tb testing.TB, bin string, args ...string) *process {
	tb.Helper()
	p := &process{cmd: exec.Command(bin, args...), out: &natstest.LogBuffer{}, done: make(chan struct{}), changed: make(chan struct{})}
	p.cmd.Env = processEnv(tb)
	p.cmd.Dir = tb.TempDir()
	p.cmd.Stdout = p.out
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start fleetbook %s: %v", strings.Join(args, " "), err)
	}
	var read sync.WaitGroup
	read.Add(1)
	go func() {
		defer read.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.out, redactLine(line)) // the output is printed when a test fails
			p.mu.Lock()
			p.stderr = append(p.stderr, line)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	go func() {
		read.Wait()
		_ = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("--- output of fleetbook %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// stop asks the process to end (SIGTERM), then kills it if it has not within 30 s.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// line waits for the first stderr line starting with prefix and returns the rest of it.
func (p *process) line(tb testing.TB, prefix string) string {
	tb.Helper()
	deadline := time.After(wait)
	for seen := 0; ; {
		p.mu.Lock()
		lines, changed := p.stderr, p.changed
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if rest, ok := strings.CutPrefix(lines[seen], prefix); ok {
				return strings.TrimSpace(rest)
			}
		}
		select {
		case <-changed:
		case <-p.done:
			tb.Fatalf("fleetbook exited before printing %q:\n%s", prefix, p.out.String())
		case <-deadline:
			tb.Fatalf("fleetbook printed no %q line within %v:\n%s", prefix, wait, p.out.String())
		}
	}
}

// processEnv is the test's environment without the nats CLI's variables and with a
// configuration directory of its own, so no nats context of the machine points a process
// elsewhere.
func processEnv(tb testing.TB) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATS_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_CONFIG_HOME="+tb.TempDir())
}

// fleet is a running `fleetbook up` the test talks to: over NATS with a Go client signed by the
// operator's key, and over HTTP through the console.
type fleet struct {
	bin     string
	dataDir string
	natsURL string
	// console is the console's base URL (http://127.0.0.1:PORT), "" when up serves none.
	console string
	// signIn is the sign-in URL up printed, the grant in its fragment.
	signIn string
	up     *process
	client *coordinator.Client
}

// upOptions are the choices of startUp.
type upOptions struct {
	// fleetFile, when set, makes up simulate the nodes of this fleet file.
	fleetFile string
	// noHTTP starts up without a console.
	noHTTP bool
}

// startUp starts `fleetbook up` on a free NATS port with a data dir of the test's, the console on
// 127.0.0.1:0 unless o.noHTTP, and waits until both answer.
func startUp(tb testing.TB, bin string, o upOptions) *fleet {
	tb.Helper()
	skipWithoutChromium(tb) // before starting anything the test could not use
	f := &fleet{bin: bin, dataDir: filepath.Join(tb.TempDir(), "data")}
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(tb, 1)[0])
	f.natsURL = "nats://" + listen
	args := []string{"up", "--data-dir", f.dataDir, "--listen", listen}
	if !o.noHTTP {
		args = append(args, "--http", "127.0.0.1:0")
	}
	if o.fleetFile != "" {
		args = append(args, "--fleet", o.fleetFile)
	}
	f.up = startProcess(tb, bin, args...)
	if !o.noHTTP {
		f.signIn = f.up.line(tb, "console: ")
		base, _, ok := strings.Cut(f.signIn, "/signin#grant=")
		if !ok {
			tb.Fatalf("up printed console: %s, want http://HOST:PORT/signin#grant=TOKEN", f.signIn)
		}
		f.console = base
	}
	f.client = f.connect(tb)
	natstest.Eventually(tb, wait, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := f.client.List(ctx, 1)
		return err
	})
	return f
}

// connect returns a client of f's server signed with the operator's credentials and key.
func (f *fleet) connect(tb testing.TB) *coordinator.Client {
	tb.Helper()
	var setup *auth.Setup
	natstest.Eventually(tb, wait, func() error {
		s, err := auth.Load(filepath.Join(f.dataDir, "auth"))
		setup = s
		return err
	})
	creds := setup.CredsPath(auth.RoleOperator)
	key, err := auth.UserKey(creds)
	if err != nil {
		tb.Fatal(err)
	}
	pub, _ := key.PublicKey()
	var nc *nats.Conn
	natstest.Eventually(tb, wait, func() error {
		// The operator may receive replies only under its own inbox prefix.
		c, err := nats.Connect(f.natsURL, nats.UserCredentials(creds), nats.CustomInboxPrefix(auth.InboxPrefix(pub)))
		nc = c
		return err
	})
	tb.Cleanup(nc.Close)
	client, err := coordinator.NewClient(nc, coordinator.WithIdentityKey(key))
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// cli runs a short fleetbook command and returns its stdout; a non-zero exit fails the test.
func (f *fleet) cli(tb testing.TB, args ...string) string {
	tb.Helper()
	cmd := exec.Command(f.bin, args...)
	cmd.Env = processEnv(tb)
	cmd.Dir = tb.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("fleetbook %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// context returns the nats context file up wrote for its operator (the CLI's --context).
func (f *fleet) context() string { return filepath.Join(f.dataDir, "auth", "context.json") }

// newBrowser starts a headless Chromium with a user data dir of its own and returns a tab's
// context, which ends (closing the browser) when the test does or after 5 minutes. Without a
// chromium binary the test skips.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	path := skipWithoutChromium(tb)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to start its sandbox as root
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 5*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(tb.Logf))
	tb.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	if err := chromedp.Do(bctx); err != nil {
		tb.Fatalf("start chromium %s: %v", path, err)
	}
	return bctx
}

// do runs the browser actions with a deadline of wait, failing the test with what it was doing
// and where the tab was.
func do(tb testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	get(tb, ctx, what, chromedp.Steps(actions...))
}

// get runs one browser action with a deadline of wait and returns its value, failing the test
// with what it was doing and where the tab was.
func get[T any](tb testing.TB, ctx context.Context, what string, action chromedp.Action[T]) T {
	tb.Helper()
	actx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	v, err := chromedp.Run(actx, action)
	if err != nil {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(lctx, chromedp.Location())
		// What the page said of itself: its markers and any error it shows.
		state, _ := chromedp.Run(lctx, chromedp.Evaluate[string](`JSON.stringify({body: document.body ? {...document.body.dataset} : null, `+
			`error: (document.querySelector("#error") || {}).textContent, `+
			`steps: [...document.querySelectorAll("#timeline li.step")].map(s => s.dataset.state).join(" "), `+
			`nodeCount: (document.querySelector(".node-count") || {}).textContent, `+
			`log: [...document.querySelectorAll("ol#run-log li.log-line")].map(l => l.textContent).join(" | ")})`))
		tb.Fatalf("%s (at %s, page %s): %v", what, redact(loc), state, err)
	}
	return v
}

// until waits (within the action's deadline) for the JavaScript expression to be truthy in the
// page, checking every 50 ms; it does not survive a navigation (use visible for that).
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))
}

// visible waits for an element matching the CSS selector to be visible, across navigations.
func visible(css string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(css))
}

// ready waits until the page of kind (body[data-page]) has finished its first render.
func ready(page string) chromedp.Action[chromedp.Void] {
	return visible(fmt.Sprintf(`body[data-page=%q][data-ready="true"]`, page))
}

// signIn opens the sign-in URL and waits until the runs page it lands on is ready.
func signIn(tb testing.TB, ctx context.Context, url string) {
	tb.Helper()
	do(tb, ctx, "sign in through "+redact(url), chromedp.Navigate(url), ready("runs"))
}

// redactLine is line with the grant of any sign-in URL in it replaced by [redacted].
func redactLine(line string) string {
	before, after, ok := strings.Cut(line, "#grant=")
	if !ok {
		return line
	}
	_, rest, _ := strings.Cut(after, " ")
	return before + "#grant=[redacted] " + rest
}

// redact keeps a grant out of test output: whoever holds it acts as the operator.
func redact(url string) string {
	if base, _, ok := strings.Cut(url, "#grant="); ok {
		return base + "#grant=[redacted]"
	}
	return url
}

// screenshot saves a full-page PNG of the current page as DIR/NAME.png when
// $FLEETBOOK_SCREENSHOTS=DIR is set (docs/console.md shows them); otherwise it does nothing.
func screenshot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	dir := os.Getenv("FLEETBOOK_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := get(tb, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// watchSources stats every source file of the module below root that goes into the fleetbook
// binary. The test binary does not import what it tests (it runs the command it builds), so
// without this `go test` would reuse a cached pass after the console's code changed; the test
// cache does check the files a test stats (from m.Run on: not in TestMain before it).
func watchSources(root string) {
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "docs" || name == "examples") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".html", ".js", ".css", ".yaml", ".mod", ".sum":
			if !strings.HasSuffix(path, "_test.go") {
				_, _ = os.Stat(path)
			}
		}
		return nil
	})
}
