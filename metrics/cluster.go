package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetbook/fleetbook/protocol"
)

// clusterCollector reads the gauges that belong to the deployment rather than to this process,
// at each scrape: queue depth and in-flight jobs per pool from the pool consumers of the JOBS
// stream, and the coordinators and workers alive from their micro services' ping. Nothing is
// polled between scrapes.
type clusterCollector struct {
	nc      *nats.Conn
	timeout time.Duration
	wait    time.Duration

	queued, inFlight, coordinators, workers, up *prometheus.Desc
}

func newClusterCollector(nc *nats.Conn, timeout, wait time.Duration) *clusterCollector {
	return &clusterCollector{nc: nc, timeout: timeout, wait: wait,
		queued:       prometheus.NewDesc(JobsQueued, "Jobs waiting in a pool's queue, not yet delivered to a worker.", []string{"pool"}, nil),
		inFlight:     prometheus.NewDesc(JobsInFlight, "Jobs of a pool delivered to a worker and not yet acknowledged.", []string{"pool"}, nil),
		coordinators: prometheus.NewDesc(Coordinators, "Coordinators answering the API service's ping.", nil, nil),
		workers:      prometheus.NewDesc(Workers, "Workers answering the worker service's ping, by pool.", []string{"pool"}, nil),
		up:           prometheus.NewDesc(ClusterUp, "1 when the last scrape read the cluster gauges, 0 when it could not.", nil, nil),
	}
}

// Describe sends the descriptors of every cluster gauge.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queued, c.inFlight, c.coordinators, c.workers, c.up} {
		ch <- d
	}
}

// Collect reads the cluster within the timeout. What it could read is exported; if any part
// failed, ClusterUp is 0 and the failure is not hidden behind a zero count.
func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	up := 1.0
	pools, err := c.pools(ctx)
	if err != nil {
		up = 0
	}
	for pool, ci := range pools {
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(ci.NumPending), pool)
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(ci.NumAckPending), pool)
	}
	alive, err := c.alive(ctx)
	if err != nil {
		up = 0
	} else {
		ch <- prometheus.MustNewConstMetric(c.coordinators, prometheus.GaugeValue, float64(len(alive.coordinators)))
		for pool, names := range alive.workers {
			ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(len(names)), pool)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

// pools reads the info of every pool consumer (workers_<pool>) of the JOBS stream, by pool.
func (c *clusterCollector) pools(ctx context.Context) (map[string]*jetstream.ConsumerInfo, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, protocol.JobsStreamName)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", protocol.JobsStreamName, err)
	}
	prefix, _, _ := strings.Cut(protocol.JobsConsumerPattern, "%s")
	out := map[string]*jetstream.ConsumerInfo{}
	list := stream.ListConsumers(ctx)
	for ci := range list.Info() {
		if pool, ok := strings.CutPrefix(ci.Name, prefix); ok && pool != "" {
			out[pool] = ci
		}
	}
	if err := list.Err(); err != nil {
		return out, fmt.Errorf("consumers of %s: %w", protocol.JobsStreamName, err)
	}
	return out, nil
}

// living is who answered a ping: coordinator names, and worker names by pool.
type living struct {
	coordinators map[string]bool
	workers      map[string]map[string]bool
}

// alive pings the coordinators' and the workers' micro services and collects the replies for
// the discovery wait. A coordinator runs several instances of its service, so coordinators are
// counted by the name in their metadata, not by reply.
func (c *clusterCollector) alive(ctx context.Context) (living, error) {
	l := living{coordinators: map[string]bool{}, workers: map[string]map[string]bool{}}
	inbox := c.nc.NewInbox()
	replies := make(chan *nats.Msg, 1024)
	sub, err := c.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return l, fmt.Errorf("subscribe for ping replies: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for _, svc := range []string{protocol.ServiceName, protocol.WorkerServiceName} {
		subject, err := micro.ControlSubject(micro.PingVerb, svc, "")
		if err != nil {
			return l, err
		}
		if err := c.nc.PublishRequest(subject, inbox, nil); err != nil {
			return l, fmt.Errorf("ping %s: %w", svc, err)
		}
	}
	if err := c.nc.FlushWithContext(ctx); err != nil {
		return l, fmt.Errorf("ping: %w", err)
	}
	wait := time.NewTimer(c.wait)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-wait.C:
			return l, nil
		case m := <-replies:
			var p micro.Ping
			if json.Unmarshal(m.Data, &p) != nil {
				continue
			}
			switch p.Name {
			case protocol.ServiceName:
				if name := p.Metadata[protocol.CoordinatorMetadataName]; name != "" {
					l.coordinators[name] = true
				}
			case protocol.WorkerServiceName:
				pool, name := p.Metadata[protocol.WorkerMetadataPool], p.Metadata[protocol.WorkerMetadataName]
				if pool == "" || name == "" {
					continue
				}
				if l.workers[pool] == nil {
					l.workers[pool] = map[string]bool{}
				}
				l.workers[pool][name] = true
			}
		}
	}
}
