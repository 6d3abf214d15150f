package metrics

import (
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is one process's set of fleetbook collectors, in a registry of its own. Create it
// with New; hand it to coordinator.WithMetrics and worker.WithMetrics; serve it with Mount.
// Every method is safe for concurrent use, and the recording methods do nothing on a nil
// *Metrics.
type Metrics struct {
	reg   *prometheus.Registry
	names []string
	books *bounded

	runsSubmitted *prometheus.CounterVec
	runsStarted   *prometheus.CounterVec
	runsFinished  *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	stepDuration  *prometheus.HistogramVec
	stepRetries   *prometheus.CounterVec

	jobsRunning *prometheus.GaugeVec
	workerJobs  *prometheus.CounterVec

	nodeReplies *prometheus.CounterVec
	rpcLatency  prometheus.Histogram

	scheduleSlots *prometheus.CounterVec
	lockWaits     *prometheus.CounterVec
	lockWait      prometheus.Histogram
}

// Option configures a Metrics.
type Option func(*options) error

type options struct {
	nc            *nats.Conn
	scrapeTimeout time.Duration
	discoveryWait time.Duration
	maxPlaybooks  int
}

// MaxPlaybooks is how many distinct playbook names the playbook label takes by default; runs of
// any further playbook are counted under OtherPlaybook.
const MaxPlaybooks = 200

// OtherPlaybook is the playbook label of the runs of playbooks past the cap.
const OtherPlaybook = "other"

// WithCluster makes the Metrics read the cluster gauges (JobsQueued, JobsInFlight,
// Coordinators, Workers, ClusterUp) through nc when scraped. One process should export them
// once: give it to the coordinator's Metrics, not to every Metrics of the process. The
// connection needs the JetStream API (stream and consumer info of FLEETBOOK_JOBS) and publish
// rights on $SRV.PING.fleetbook and $SRV.PING.fleetbook_worker: the coordinator credential has
// them (auth.RoleCoordinator); the console's and the worker's do not, so a console or a worker
// exports its own process's metrics only and leaves the cluster gauges to the coordinators.
func WithCluster(nc *nats.Conn) Option {
	return func(o *options) error {
		if nc == nil {
			return fmt.Errorf("%w: WithCluster: nil connection", ErrInvalidOption)
		}
		o.nc = nc
		return nil
	}
}

// WithScrapeTimeout bounds how long one scrape spends reading the cluster gauges (default 2s):
// a server that does not answer makes the scrape report ClusterUp 0, not hang.
func WithScrapeTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: scrape timeout must be positive, got %s", ErrInvalidOption, d)
		}
		o.scrapeTimeout = d
		return nil
	}
}

// WithDiscoveryWait sets how long a scrape collects the replies to its $SRV.PING of
// coordinators and workers (default 300ms): replies come from every live process and there is
// no telling how many to expect, so the count is of those that answered within it. It must be
// shorter than the scrape timeout.
func WithDiscoveryWait(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: discovery wait must be positive, got %s", ErrInvalidOption, d)
		}
		o.discoveryWait = d
		return nil
	}
}

// WithMaxPlaybooks sets how many distinct playbook names the playbook label takes (default
// MaxPlaybooks); later names are counted as OtherPlaybook.
func WithMaxPlaybooks(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: max playbooks must be at least 1, got %d", ErrInvalidOption, n)
		}
		o.maxPlaybooks = n
		return nil
	}
}

// Buckets of the histograms, in seconds: steps and node replies are usually fast (a no-op step
// takes about a millisecond, a node on a LAN answers in a few), runs and lock waits can last
// hours.
var (
	runBuckets  = []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600}
	stepBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900}
	rpcBuckets  = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	lockBuckets = []float64{0.001, 0.01, 0.1, 1, 5, 10, 30, 60, 300, 900}
)

// New returns a Metrics with every fleetbook collector and the Go runtime and process
// collectors registered.
func New(opts ...Option) (*Metrics, error) {
	o := options{scrapeTimeout: 2 * time.Second, discoveryWait: 300 * time.Millisecond, maxPlaybooks: MaxPlaybooks}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.discoveryWait >= o.scrapeTimeout {
		return nil, fmt.Errorf("%w: discovery wait %s must be shorter than the scrape timeout %s", ErrInvalidOption, o.discoveryWait, o.scrapeTimeout)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), books: newBounded(o.maxPlaybooks, OtherPlaybook)}
	m.runsSubmitted = counters(m, RunsSubmitted, "Runs accepted by the API.", "playbook")
	m.runsStarted = counters(m, RunsStarted, "Runs a coordinator began driving (takeovers excluded).", "playbook")
	m.runsFinished = counters(m, RunsFinished, "Runs whose final status was stored.", "playbook", "status")
	m.runDuration = histograms(m, RunDuration, "Time from a run's start to its end.", runBuckets, "status")
	m.stepDuration = histograms(m, StepDuration, "Time from a step's start to its end, every try included.", stepBuckets, "type", "outcome")
	m.stepRetries = counters(m, StepRetries, "Failed tries of a step that were tried again.", "type")
	m.jobsRunning = gauges(m, WorkerJobsRunning, "Jobs this worker runs now.", "pool")
	m.workerJobs = counters(m, WorkerJobs, "Jobs this worker ran to a result.", "pool", "type", "outcome")
	m.nodeReplies = counters(m, NodeReplies, "Outcome for each node of an rpc fan-out.", "outcome")
	m.rpcLatency = histogram(m, RPCLatency, "Time from a node's request to its reply.", rpcBuckets)
	m.scheduleSlots = counters(m, ScheduleSlots, "Schedule slots decided and stored, by outcome.", "outcome")
	m.lockWaits = counters(m, LockWaits, "Waits for playbook locks, by outcome.", "outcome")
	m.lockWait = histogram(m, LockWait, "Time a run waited for a playbook lock.", lockBuckets)
	if o.nc != nil {
		c := newClusterCollector(o.nc, o.scrapeTimeout, o.discoveryWait)
		m.reg.MustRegister(c)
		m.names = append(m.names, JobsQueued, JobsInFlight, Coordinators, Workers, ClusterUp)
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m, nil
}

// Registry is the registry the collectors are in: to serve it elsewhere, or to gather it in a
// test.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Names lists the fleetbook metrics this Metrics exports (those of names.go it registered),
// sorted; a metric appears in a scrape only once it has a value, but its name is here from the
// start.
func (m *Metrics) Names() []string {
	out := slices.Clone(m.names)
	slices.Sort(out)
	return out
}

func counters(m *Metrics, name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	m.names = append(m.names, name)
	return v
}

func gauges(m *Metrics, name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	m.names = append(m.names, name)
	return v
}

func histograms(m *Metrics, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.reg.MustRegister(v)
	m.names = append(m.names, name)
	return v
}

func histogram(m *Metrics, name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	m.reg.MustRegister(h)
	m.names = append(m.names, name)
	return h
}
