package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// BenchmarkSubmit is the round trip of one submit (validated, audited, stored, queued), unsigned
// to a coordinator without a policy and signed to one with a policy: the price of the signature,
// its own reply inbox and the policy's decision.
func BenchmarkSubmit(b *testing.B) {
	for _, signed := range []bool{false, true} {
		b.Run(fmt.Sprintf("signed=%v", signed), func(b *testing.B) {
			s := natstest.RunServer(b)
			nc, js := natstest.Connect(b, s.ClientURL())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := kvstore.Provision(ctx, js, kvstore.Config{}); err != nil {
				b.Fatal(err)
			}
			kp, _ := nkeys.CreateUser()
			pub, _ := kp.PublicKey()
			var copts []Option
			var clopts []ClientOption
			if signed {
				p, err := policy.Parse([]byte("identities:\n  bench: " + pub + "\nrules:\n  - who: [bench]\n    allow: [submit, read]\n"))
				if err != nil {
					b.Fatal(err)
				}
				copts, clopts = append(copts, WithPolicy(p)), append(clopts, WithIdentityKey(kp))
			}
			cnc, _ := natstest.Connect(b, s.ClientURL())
			c, err := New(cnc, copts...)
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = c.Run(ctx) }()
			defer func() { cancel(); <-done }()
			client, err := NewClient(nc, clopts...)
			if err != nil {
				b.Fatal(err)
			}
			natstest.Eventually(b, 30*time.Second, func() error { _, err := client.List(ctx, 1); return err })
			doc := header + "tasks:\n" + shell("noop")
			b.ResetTimer()
			for i := range b.N {
				if _, err := client.Submit(ctx, protocol.SubmitRequest{Playbook: doc, IdempotencyKey: fmt.Sprintf("b%d", i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdentify is the coordinator's check of one signed request's headers.
func BenchmarkIdentify(b *testing.B) {
	c := &Coordinator{opts: defaultOptions()}
	kp, _ := nkeys.CreateUser()
	msg := &nats.Msg{Subject: protocol.SubmitSubject, Reply: "_INBOX.x", Data: make([]byte, 2048)}
	if err := signRequest(kp, msg, time.Now()); err != nil {
		b.Fatal(err)
	}
	h := micro.Headers(msg.Header)
	b.ResetTimer()
	for range b.N {
		if _, err := c.identify(msg.Subject, msg.Reply, h, msg.Data, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
