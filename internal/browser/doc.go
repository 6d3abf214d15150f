// Package browser tests the console in a real headless Chromium, driven over the DevTools
// protocol by chromedp, against real fleetbook processes (docs/console.md, "Screenshots" and
// "The browser tests"). The package has no code of its own: harness_test.go starts `fleetbook
// up` (or a console of its own), reads the sign-in URL it prints and gives the tests a Go client
// of the same fleet and a browser tab; the other _test.go files are the tests and benchmarks.
//
// Without a chromium binary the tests skip, saying so on stderr (also without -v), so a CI that
// lost its browser shows it.
package browser
