package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	dto "github.com/prometheus/client_model/go"

	"github.com/fleetbook/fleetbook/auth"
	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/metrics"
	"github.com/fleetbook/fleetbook/protocol"
)

// secured is a server trusting a fresh setup, with fleetbook's streams and buckets provisioned
// by a coordinator.
type secured struct {
	t     *testing.T
	srv   *server.Server
	setup *auth.Setup
	coord jetstream.JetStream
}

func newSecured(t *testing.T) *secured {
	t.Helper()
	setup, created, err := auth.Init(t.TempDir())
	if err != nil || !created {
		t.Fatalf("Init: created %v, %v", created, err)
	}
	s := &secured{t: t, srv: trustingServer(t, setup), setup: setup}
	nc, _ := s.connect(auth.RoleCoordinator, "")
	s.coord, _ = jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := kvstore.Provision(ctx, s.coord, kvstore.Config{}); err != nil {
		t.Fatalf("the coordinator role could not provision: %v", err)
	}
	return s
}

// client is a connection of one role that records the permission violations the server
// reports to it.
type client struct {
	t          *testing.T
	nc         *nats.Conn
	mu         sync.Mutex
	violations []string
}

// connect connects with a fresh credential of role (identity for RoleAgent).
func (s *secured) connect(role auth.Role, identity string) (*nats.Conn, *client) {
	s.t.Helper()
	creds, err := s.setup.Issue(role, identity, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		s.t.Fatal(err)
	}
	key, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		s.t.Fatal(err)
	}
	seed, _ := key.Seed()
	pub, _ := key.PublicKey()
	c := &client{t: s.t}
	nc, err := nats.Connect(s.srv.ClientURL(), nats.UserJWTAndSeed(token, string(seed)),
		nats.CustomInboxPrefix(auth.InboxPrefix(pub)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.violations = append(c.violations, err.Error())
		}))
	if err != nil {
		s.t.Fatalf("%s connect: %v", role, err)
	}
	s.t.Cleanup(nc.Close)
	c.nc = nc
	return nc, c
}

// refused waits until the server has reported a violation of kind ("Publish" or "Subscription")
// on subject to c.
func (c *client) refused(kind, subject string) {
	c.t.Helper()
	want := fmt.Sprintf("Permissions Violation for %s to %q", kind, subject)
	natstest.Eventually(c.t, 30*time.Second, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, v := range c.violations {
			if strings.Contains(v, want) {
				return nil
			}
		}
		return fmt.Errorf("no %q reported; got %v", want, c.violations)
	})
}

// publishRefused publishes data to subject and waits for the server to refuse it.
func (c *client) publishRefused(subject string, data []byte) {
	c.t.Helper()
	if err := c.nc.Publish(subject, data); err != nil {
		c.t.Fatal(err)
	}
	if err := c.nc.Flush(); err != nil {
		c.t.Fatal(err)
	}
	c.refused("Publish", subject)
}

// subscribeRefused subscribes to subject and waits for the server to refuse it.
func (c *client) subscribeRefused(subject string) {
	c.t.Helper()
	if _, err := c.nc.SubscribeSync(subject); err != nil {
		c.t.Fatal(err)
	}
	if err := c.nc.Flush(); err != nil {
		c.t.Fatal(err)
	}
	c.refused("Subscription", subject)
}

// allowed fails the test if the server refused anything c did.
func (c *client) allowed() {
	c.t.Helper()
	if err := c.nc.Flush(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.violations) > 0 {
		c.t.Fatalf("refused: %v", c.violations)
	}
}

// messages is the number of messages stream holds.
func (s *secured) messages(stream string) uint64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.coord.Stream(ctx, stream)
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return info.State.Msgs
}

// unchanged runs act and fails the test unless every named stream holds as many messages after
// it as before.
func (s *secured) unchanged(act func(), streams ...string) {
	s.t.Helper()
	before := map[string]uint64{}
	for _, st := range streams {
		before[st] = s.messages(st)
	}
	act()
	for _, st := range streams {
		if n := s.messages(st); n != before[st] {
			s.t.Errorf("stream %s: %d messages, was %d: the refused action had an effect", st, n, before[st])
		}
	}
}

var (
	runsKV    = protocol.BucketStreamName(protocol.RunsBucket)
	secretsKV = protocol.BucketStreamName(protocol.SecretsBucket)
	nodesKV   = protocol.BucketStreamName(protocol.NodesBucket)
	subsKV    = protocol.BucketStreamName(protocol.SubmissionsBucket)
	agentsKV  = protocol.BucketStreamName(protocol.AgentsBucket)
	jobID     = protocol.JobID{RunID: "01a2f000-0000-7000-8000-000000000001", Step: 1, Attempt: 1, Batch: 0}
)

func TestAnonymousClientCannotConnect(t *testing.T) {
	s := newSecured(t)
	if _, err := nats.Connect(s.srv.ClientURL(), nats.MaxReconnects(0)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want an authorization violation", err)
	}
	other, _, err := auth.Init(t.TempDir()) // credentials of another fleetbook are strangers too
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nats.Connect(s.srv.ClientURL(), nats.UserCredentials(other.CredsPath(auth.RoleOperator)), nats.MaxReconnects(0)); err == nil {
		t.Fatal("another setup's operator credentials connected")
	}
}

func TestOperatorCannotTouchWhatWorkersAndCoordinatorsDo(t *testing.T) {
	s := newSecured(t)
	_, op := s.connect(auth.RoleOperator, "")
	s.unchanged(func() {
		op.publishRefused(protocol.JobSubject(protocol.DefaultPool, jobID), []byte(`{"id":"forged"}`))
		op.publishRefused(protocol.ResultSubject(jobID), []byte(`{"success":true}`))
		op.publishRefused(protocol.RunSubject(jobID.RunID), []byte(`{}`))
		op.publishRefused(protocol.NodeRPCSubject("web1.example.net"), []byte(`{"agent":"service","action":"restart"}`))
		op.publishRefused(protocol.BucketSubject(protocol.RunsBucket, jobID.RunID), []byte(`{"status":"success"}`))
		op.publishRefused(protocol.BucketSubject(protocol.NodesBucket, "web1.example.net"), []byte(`{}`))
		op.publishRefused(protocol.CancelSubject(jobID.RunID), nil)
		op.publishRefused(protocol.AuditSubject("submit"), []byte(`{"decision":"allow"}`)) // forging the audit log
		// Reading secrets: a direct get, a stream get, a consumer, a subscription.
		op.publishRefused("$JS.API.DIRECT.GET."+secretsKV, []byte(`{"last_by_subj":"$KV.fleetbook_secrets.x"}`))
		op.publishRefused("$JS.API.STREAM.MSG.GET."+secretsKV, []byte(`{"seq":1}`))
		op.publishRefused("$JS.API.CONSUMER.CREATE."+secretsKV, []byte(`{}`))
		op.publishRefused("$JS.API.STREAM.PURGE."+protocol.JobsStreamName, nil)
		op.publishRefused("$JS.API.STREAM.DELETE."+protocol.RunsStreamName, nil)
		op.subscribeRefused("$KV.fleetbook_secrets.>")
		op.subscribeRefused(protocol.JobsSubjectWildcard)
		op.subscribeRefused(protocol.NodeRPCSubjectWildcard)
		op.subscribeRefused(protocol.SubmitSubject) // answering the API as a coordinator
		op.subscribeRefused("_INBOX.>")             // reading others' replies
	}, protocol.JobsStreamName, protocol.ResultsStreamName, protocol.RunsStreamName, runsKV, nodesKV, secretsKV)
}

func TestOperatorMayCallTheAPIAndFollowEvents(t *testing.T) {
	s := newSecured(t)
	nc, op := s.connect(auth.RoleOperator, "")
	if err := nc.Publish(protocol.SubmitSubject, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	followEvents(t, nc)
	op.allowed()
}

// followEvents follows a run's events on nc as `fleetbook run` does (an ordered consumer), or
// fails the test.
func followEvents(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, protocol.EventsStreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{protocol.EventSubject(jobID.RunID)}})
	if err != nil {
		t.Fatalf("follow events: %v", err)
	}
	if _, err := cons.Fetch(1, jetstream.FetchMaxWait(100*time.Millisecond)); err != nil {
		t.Fatalf("fetch events: %v", err)
	}
}

func TestViewerCanOnlyRead(t *testing.T) {
	s := newSecured(t)
	_, v := s.connect(auth.RoleViewer, "")
	s.unchanged(func() {
		v.publishRefused(protocol.SubmitSubject, []byte(`{}`))
		v.publishRefused(protocol.CancelRunSubject, []byte(`{}`))
		v.publishRefused(protocol.PruneRunsSubject, []byte(`{}`))
		v.publishRefused(protocol.AuditListSubject, []byte(`{}`))
		for _, subject := range []string{protocol.ScheduleAddSubject, protocol.ScheduleUpdateSubject,
			protocol.SchedulePauseSubject, protocol.ScheduleResumeSubject, protocol.ScheduleTriggerSubject,
			protocol.ScheduleBackfillSubject, protocol.ScheduleDeleteSubject} {
			v.publishRefused(subject, []byte(`{}`))
		}
	}, protocol.RunsStreamName, runsKV)
	nc, v := s.connect(auth.RoleViewer, "")
	if err := nc.Publish(protocol.GetRunSubject, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{protocol.ListRunsSubject, protocol.ScheduleGetSubject, protocol.ScheduleListSubject} {
		if err := nc.Publish(subject, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	v.allowed()
}

// A console credential calls the API and follows events, and nothing else: it publishes no job
// or result, reads no secret, writes no run state, node or audit record, and answers no API.
func TestConsoleMayOnlyCallTheAPIAndFollowEvents(t *testing.T) {
	s := newSecured(t)
	_, c := s.connect(auth.RoleConsole, "")
	s.unchanged(func() {
		c.publishRefused(protocol.JobSubject(protocol.DefaultPool, jobID), []byte(`{"id":"forged"}`))
		c.publishRefused(protocol.ResultSubject(jobID), []byte(`{"success":true}`))
		c.publishRefused(protocol.RunSubject(jobID.RunID), []byte(`{}`))
		c.publishRefused(protocol.NodeRPCSubject("web1.example.net"), []byte(`{"agent":"service","action":"restart"}`))
		c.publishRefused(protocol.BucketSubject(protocol.RunsBucket, jobID.RunID), []byte(`{"status":"success"}`))
		c.publishRefused(protocol.BucketSubject(protocol.NodesBucket, "web1.example.net"), []byte(`{}`))
		c.publishRefused(protocol.CancelSubject(jobID.RunID), nil)
		c.publishRefused(protocol.AuditSubject("submit"), []byte(`{"decision":"allow"}`))
		c.publishRefused("$JS.API.DIRECT.GET."+secretsKV, []byte(`{"last_by_subj":"$KV.fleetbook_secrets.x"}`))
		c.publishRefused("$JS.API.STREAM.MSG.GET."+secretsKV, []byte(`{"seq":1}`))
		c.publishRefused("$JS.API.CONSUMER.CREATE."+secretsKV, []byte(`{}`))
		c.publishRefused("$JS.API.DIRECT.GET."+runsKV, []byte(`{"last_by_subj":"$KV.fleetbook_runs.x"}`))
		c.publishRefused("$JS.API.CONSUMER.CREATE."+protocol.JobsStreamName, []byte(`{}`))
		c.publishRefused("$JS.API.STREAM.PURGE."+protocol.JobsStreamName, nil)
		c.publishRefused("$JS.API.STREAM.DELETE."+protocol.RunsStreamName, nil)
		c.subscribeRefused("$KV.fleetbook_secrets.>")
		c.subscribeRefused(protocol.JobsSubjectWildcard)
		c.subscribeRefused(protocol.ResultsSubjectWildcard)
		c.subscribeRefused(protocol.NodeRPCSubjectWildcard)
		c.subscribeRefused(protocol.SubmitSubject)
		c.subscribeRefused("_INBOX.>")
	}, protocol.JobsStreamName, protocol.ResultsStreamName, protocol.RunsStreamName, runsKV, nodesKV, secretsKV)

	nc, c := s.connect(auth.RoleConsole, "")
	for _, subject := range []string{protocol.ListRunsSubject, protocol.GetRunSubject, protocol.SubmitSubject, protocol.ListNodesSubject} {
		if err := nc.Publish(subject, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	followEvents(t, nc)
	c.allowed()
}

func TestWorkerCannotSubmitOrWriteRunState(t *testing.T) {
	s := newSecured(t)
	_, w := s.connect(auth.RoleWorker, "")
	s.unchanged(func() {
		w.publishRefused(protocol.SubmitSubject, []byte(`{}`))
		w.publishRefused(protocol.CancelRunSubject, []byte(`{}`))
		w.publishRefused(protocol.RunSubject(jobID.RunID), []byte(`{}`))
		w.publishRefused(protocol.JobSubject(protocol.DefaultPool, jobID), []byte(`{}`))
		w.publishRefused(protocol.EventSubject(jobID.RunID), []byte(`{}`))
		w.publishRefused(protocol.AuditSubject("submit"), []byte(`{"decision":"allow"}`))
		w.publishRefused(protocol.BucketSubject(protocol.RunsBucket, jobID.RunID), []byte(`{}`))
		w.publishRefused(protocol.BucketSubject(protocol.SubmissionsBucket, "k"), []byte(`{}`))
		w.publishRefused(protocol.BucketSubject(protocol.SecretsBucket, jobID.RunID), []byte(`{}`))
		w.publishRefused(protocol.BucketSubject(protocol.NodesBucket, "web1.example.net"), []byte(`{}`))
		w.publishRefused(protocol.BucketSubject(protocol.AgentsBucket, "service.1_0_0"), []byte(`{}`))
		w.publishRefused(protocol.BucketSubject(protocol.SchedulesBucket, "nightly"), []byte(`{}`))
		w.publishRefused(protocol.ScheduleAddSubject, []byte(`{}`))
		w.publishRefused("$JS.API.DIRECT.GET."+runsKV, []byte(`{"seq":1}`))
		// Schedules hold sealed inputs and their owners' playbooks: a worker reads none of them.
		w.publishRefused("$JS.API.DIRECT.GET."+protocol.BucketStreamName(protocol.SchedulesBucket)+".$KV."+protocol.SchedulesBucket+".nightly", nil)
		w.publishRefused("$JS.API.CONSUMER.CREATE."+protocol.RunsStreamName, []byte(`{}`))
		w.publishRefused("$JS.API.CONSUMER.DELETE."+protocol.JobsStreamName+".workers_default", nil)
		w.publishRefused("$JS.API.STREAM.CREATE.KV_mine", []byte(`{}`))
		w.publishRefused("$JS.API.STREAM.PURGE."+protocol.ResultsStreamName, nil)
		w.subscribeRefused(protocol.SubmitSubject)
		w.subscribeRefused(protocol.NodeRPCSubjectWildcard) // answering as a node
		w.subscribeRefused("_INBOX.>")
	}, protocol.RunsStreamName, protocol.JobsStreamName, protocol.EventsStreamName, runsKV, subsKV, secretsKV, nodesKV, agentsKV)
}

// What a worker does, its role allows: wait for provisioning, open its buckets, pull from its
// consumer, read a run's secrets by key, publish a result, write a data store.
func TestWorkerMayDoItsJob(t *testing.T) {
	s := newSecured(t)
	nc, w := s.connect(auth.RoleWorker, "")
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kvstore.AwaitProvisioned(ctx, js, kvstore.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kvstore.OpenAttempts(ctx, js); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, protocol.JobsStreamName, jetstream.ConsumerConfig{Durable: protocol.JobsConsumer(protocol.DefaultPool),
		FilterSubject: fmt.Sprintf(protocol.JobsPoolWildcardPattern, protocol.DefaultPool), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("create the jobs consumer: %v", err)
	}
	if _, err := cons.Fetch(1, jetstream.FetchMaxWait(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, protocol.ResultSubject(jobID), []byte(`{}`)); err != nil {
		t.Fatalf("publish a result: %v", err)
	}
	secrets, err := js.KeyValue(ctx, protocol.SecretsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Get(ctx, jobID.RunID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("read a secret by key: %v", err)
	}
	data, err := js.KeyValue(ctx, protocol.DataBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := data.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("write the data store: %v", err)
	}
	w.allowed()
}

func TestAgentActsOnlyAsItself(t *testing.T) {
	s := newSecured(t)
	nc, a := s.connect(auth.RoleAgent, "web1.example.net")
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes, err := kvstore.OpenNodes(ctx, js, kvstore.Config{Await: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes.Register(ctx, protocol.NodeInfo{Version: protocol.NodeInfoVersion, Identity: "web1.example.net"}); err != nil {
		t.Fatalf("register itself: %v", err)
	}
	if _, err := nc.SubscribeSync(protocol.NodeRPCSubject("web1.example.net")); err != nil {
		t.Fatal(err)
	}
	a.allowed()
	s.unchanged(func() {
		a.subscribeRefused(protocol.NodeRPCSubject("db1.example.net"))
		a.subscribeRefused(protocol.NodeRPCSubjectWildcard)
		a.publishRefused(protocol.BucketSubject(protocol.NodesBucket, "db1.example.net"), []byte(`{}`))
		a.publishRefused(protocol.NodeRPCSubject("db1.example.net"), []byte(`{}`))
		a.publishRefused(protocol.ResultSubject(jobID), []byte(`{}`))
		a.publishRefused(protocol.SubmitSubject, []byte(`{}`))
		a.publishRefused("$JS.API.DIRECT.GET."+secretsKV, []byte(`{"seq":1}`))
		a.subscribeRefused("_INBOX.>")
	}, nodesKV, protocol.ResultsStreamName, secretsKV)
	if _, err := s.setup.Issue(auth.RoleAgent, "a.*", 0); !errors.Is(err, auth.ErrInvalidIdentity) {
		t.Fatalf("an agent credential for a wildcard identity: %v", err)
	}
}

func TestCoordinatorNeverTalksToNodesOrForgesResults(t *testing.T) {
	s := newSecured(t)
	_, c := s.connect(auth.RoleCoordinator, "")
	s.unchanged(func() {
		c.publishRefused(protocol.ResultSubject(jobID), []byte(`{"success":true}`))
		c.publishRefused(protocol.NodeRPCSubject("web1.example.net"), []byte(`{}`))
	}, protocol.ResultsStreamName)
}

// gauge is the value of the gauge name with labels among families, and whether it is there.
func gauge(families []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestCoordinatorMayCountTheFleet: with the coordinator's credential the cluster gauges of the
// metrics are read (the JOBS consumers, the pings of coordinators and workers), and with the
// worker's the worker service answers pings; neither may do more with the services.
func TestCoordinatorMayCountTheFleet(t *testing.T) {
	s := newSecured(t)
	cnc, c := s.connect(auth.RoleCoordinator, "")
	wnc, w := s.connect(auth.RoleWorker, "")
	// A coordinator serves its API as several instances on one connection: each answers pings.
	var api micro.Service
	for range 3 {
		svc, err := micro.AddService(cnc, micro.Config{Name: protocol.ServiceName, Version: "1.0.0",
			Metadata: map[string]string{protocol.CoordinatorMetadataName: "c1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		api = svc
	}
	// From another coordinator, every instance's reply comes through.
	onc, _ := s.connect(auth.RoleCoordinator, "")
	inbox := onc.NewInbox()
	replies, err := onc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := onc.PublishRequest("$SRV.PING."+protocol.ServiceName, inbox, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := replies.NextMsg(30 * time.Second); err != nil {
			t.Fatalf("reply %d of 3 instances: %v", i+1, err)
		}
	}
	// As a worker answers: on the worker service's ping subject only.
	pong, _ := json.Marshal(micro.Ping{Type: micro.PingResponseType, ServiceIdentity: micro.ServiceIdentity{Name: protocol.WorkerServiceName,
		ID: "1", Version: protocol.WorkerServiceVersion, Metadata: map[string]string{protocol.WorkerMetadataName: "w1", protocol.WorkerMetadataPool: "blue"}}})
	if _, err := wnc.Subscribe("$SRV.PING."+protocol.WorkerServiceName, func(m *nats.Msg) { _ = m.Respond(pong) }); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(wnc)
	if _, err := js.CreateOrUpdateConsumer(t.Context(), protocol.JobsStreamName, jetstream.ConsumerConfig{Durable: protocol.JobsConsumer("blue"),
		FilterSubject: fmt.Sprintf(protocol.JobsPoolWildcardPattern, "blue"), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	// The coordinator's readiness pings its own instance.
	own, err := micro.ControlSubject(micro.PingVerb, protocol.ServiceName, api.Info().ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cnc.Request(own, nil, 30*time.Second); err != nil {
		t.Fatalf("ping its own API instance: %v", err)
	}
	m, err := metrics.New(metrics.WithCluster(cnc))
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, time.Minute, func() error {
		families, err := m.Registry().Gather()
		if err != nil {
			return err
		}
		for _, g := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{metrics.ClusterUp, nil, 1},
			{metrics.Coordinators, nil, 1},
			{metrics.Workers, map[string]string{"pool": "blue"}, 1},
			{metrics.JobsQueued, map[string]string{"pool": "blue"}, 0},
		} {
			if v, ok := gauge(families, g.name, g.labels); !ok || v != g.want {
				return fmt.Errorf("%s%v = %v (present %v), want %v", g.name, g.labels, v, ok, g.want)
			}
		}
		return nil
	})
	c.allowed()
	w.allowed()

	// Pings only: no service's INFO or STATS (they list endpoints and their errors).
	c.publishRefused("$SRV.INFO."+protocol.WorkerServiceName, nil)
	c.publishRefused("$SRV.STATS", nil)
	// A worker neither counts the fleet nor poses as a coordinator.
	w.publishRefused("$SRV.PING."+protocol.ServiceName, nil)
	w.subscribeRefused("$SRV.PING." + protocol.ServiceName)
	w.subscribeRefused("$SRV.>")
	w.subscribeRefused("$SRV.INFO")
}
