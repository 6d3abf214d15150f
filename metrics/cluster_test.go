package metrics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

func TestClusterGaugesReadOnScrape(t *testing.T) {
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s.ClientURL())
	ctx := t.Context()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: protocol.JobsStreamName, Subjects: []string{protocol.JobsSubjectWildcard},
		Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: protocol.JobsConsumer("blue"),
		FilterSubject: "fleetbook.jobs.blue.>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, fmt.Sprintf("fleetbook.jobs.blue.r.%d.1.0", i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cons.Next(); err != nil { // delivered, never acknowledged: in flight
		t.Fatal(err)
	}
	service := func(name string, meta map[string]string) {
		svc, err := micro.AddService(nc, micro.Config{Name: name, Version: "1.0.0", Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
	}
	// Coordinator a runs two instances of the API service: it is one coordinator.
	service(protocol.ServiceName, map[string]string{protocol.CoordinatorMetadataName: "a"})
	service(protocol.ServiceName, map[string]string{protocol.CoordinatorMetadataName: "a"})
	service(protocol.ServiceName, map[string]string{protocol.CoordinatorMetadataName: "b"})
	service(protocol.WorkerServiceName, map[string]string{protocol.WorkerMetadataName: "w1", protocol.WorkerMetadataPool: "blue"})
	service(protocol.WorkerServiceName, map[string]string{protocol.WorkerMetadataName: "w2", protocol.WorkerMetadataPool: "blue"})
	service(protocol.WorkerServiceName, map[string]string{protocol.WorkerMetadataName: "w3", protocol.WorkerMetadataPool: "red"})

	m, err := metrics.New(metrics.WithCluster(nc))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{metrics.JobsQueued, map[string]string{"pool": "blue"}, 2},
		{metrics.JobsInFlight, map[string]string{"pool": "blue"}, 1},
		{metrics.Coordinators, map[string]string{}, 2},
		{metrics.Workers, map[string]string{"pool": "blue"}, 2},
		{metrics.Workers, map[string]string{"pool": "red"}, 1},
		{metrics.ClusterUp, map[string]string{}, 1},
	}
	natstest.Eventually(t, time.Minute, func() error {
		got := gather(t, m)
		for _, w := range want {
			if v, ok := value(got, w.name, w.labels); !ok || v != w.value {
				return fmt.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.value)
			}
		}
		return nil
	})

	nc.Close()
	got := gather(t, m)
	if v, ok := value(got, metrics.ClusterUp, map[string]string{}); !ok || v != 0 {
		t.Errorf("after the connection closed, %s = %v (present %v), want 0", metrics.ClusterUp, v, ok)
	}
	if _, ok := value(got, metrics.Coordinators, map[string]string{}); ok {
		t.Errorf("after the connection closed, %s is still exported", metrics.Coordinators)
	}
}
