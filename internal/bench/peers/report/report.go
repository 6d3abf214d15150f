// Package report is the shape of `fleetbook bench --json`, for the peer harness: the product's
// internal/bench cannot be imported from this module.
package report

// Result is one figure next to its baseline, as in fleetbook bench's results.
type Result struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
}

// Report is {"benchmarks": [...]}.
type Report struct {
	Benchmarks []Result `json:"benchmarks"`
}
