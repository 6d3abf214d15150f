package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Result is one benchmark's figure next to its raw JetStream baseline.
type Result struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Baseline is the same figure for raw JetStream, measured in the same run.
	Baseline float64 `json:"baseline"`
	// Ratio is Value / Baseline: above 1 is slower for a latency, faster for a rate.
	Ratio float64 `json:"ratio"`
}

// Report is what a suite run produced: the results, and notes on what could not be measured
// (never a made-up value in Results).
type Report struct {
	Benchmarks []Result `json:"benchmarks"`
	// Notes are not part of the JSON document: they go to stderr.
	Notes []string `json:"-"`
}

func newResult(name, unit string, value, baseline float64) Result {
	r := Result{Name: name, Unit: unit, Value: value, Baseline: baseline}
	if baseline != 0 {
		r.Ratio = value / baseline
	}
	return r
}

// WriteJSON writes the report as exactly {"benchmarks": [...]}.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		Benchmarks []Result `json:"benchmarks"`
	}{Benchmarks: r.Benchmarks}
	if out.Benchmarks == nil {
		out.Benchmarks = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteTable writes the report as an aligned text table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tvalue\tbaseline\tunit\tratio\t")
	for _, b := range r.Benchmarks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t\n", b.Name, number(b.Value), number(b.Baseline), b.Unit, b.Ratio)
	}
	return tw.Flush()
}

// number prints a figure with as many decimals as its size deserves.
func number(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
