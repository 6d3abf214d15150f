package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/coordinator"
)

// BenchmarkOp measures, one at a time, each kind of operation a fleetbook step is made of, so a
// step's latency can be explained as a sum of counts times these costs (docs/performance.md).
func BenchmarkOp(b *testing.B) {
	ctx := context.Background()
	record := mustJSON(b, sampleRecord())
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			e := benchEnv(b, mode.always)
			nc, js, err := e.Connect("ops")
			if err != nil {
				b.Fatal(err)
			}
			kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "OPS", History: 5, Storage: jetstream.FileStorage})
			if err != nil {
				b.Fatal(err)
			}
			limits, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OPS_LIMITS", Subjects: []string{"ops.limits.>"},
				Storage: jetstream.FileStorage, AllowDirect: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OPS_WQ", Subjects: []string{"ops.wq"},
				Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage}); err != nil {
				b.Fatal(err)
			}
			wq, err := js.CreateConsumer(ctx, "OPS_WQ", jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				b.Fatal(err)
			}

			round := 0
			b.Run("kv_create", func(b *testing.B) {
				round++
				for i := range b.N {
					if _, err := kv.Create(ctx, fmt.Sprintf("c%d_%d", round, i), record); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("kv_update_cas", func(b *testing.B) {
				rev, err := kv.Put(ctx, "cas", record)
				if err != nil {
					b.Fatal(err)
				}
				for range b.N {
					if rev, err = kv.Update(ctx, "cas", record, rev); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("kv_get", func(b *testing.B) {
				for range b.N {
					if _, err := kv.Get(ctx, "cas"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("js_publish", func(b *testing.B) {
				for i := range b.N {
					if _, err := js.Publish(ctx, fmt.Sprintf("ops.limits.%d", i%100), payload); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("js_publish_async", func(b *testing.B) {
				for i := range b.N {
					if _, err := js.PublishAsync(fmt.Sprintf("ops.limits.%d", i%100), payload); err != nil {
						b.Fatal(err)
					}
				}
				<-js.PublishAsyncComplete()
			})
			b.Run("direct_get_missing", func(b *testing.B) {
				for range b.N {
					if _, err := limits.GetLastMsgForSubject(ctx, "ops.limits.none"); !errors.Is(err, jetstream.ErrMsgNotFound) {
						b.Fatal(err)
					}
				}
			})
			b.Run("purge_subject", func(b *testing.B) {
				for i := range b.N {
					subject := fmt.Sprintf("ops.limits.p.%d", i)
					if _, err := js.Publish(ctx, subject, payload); err != nil {
						b.Fatal(err)
					}
					if err := limits.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
						b.Fatal(err)
					}
				}
			})
			// wqCycle puts one message on the work queue, takes it and acknowledges it.
			wqCycle := func(b *testing.B) {
				if _, err := js.Publish(ctx, "ops.wq", payload); err != nil {
					b.Fatal(err)
				}
				msg, err := wq.Next()
				if err != nil {
					b.Fatal(err)
				}
				if err := msg.DoubleAck(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("wq_publish_next_doubleack", func(b *testing.B) {
				for range b.N {
					wqCycle(b)
				}
			})
			// The same with one message left in the stream, so that no ack empties it: an
			// emptied file-store stream replaces its last block file (see docs/performance.md).
			b.Run("wq_publish_next_doubleack_nonempty", func(b *testing.B) {
				if _, err := js.Publish(ctx, "ops.wq", payload); err != nil {
					b.Fatal(err)
				}
				first, err := wq.Next()
				if err != nil {
					b.Fatal(err)
				}
				for range b.N {
					wqCycle(b)
				}
				_ = first.DoubleAck(ctx)
			})
			b.Run("core_request_reply", func(b *testing.B) {
				sub, err := nc.Subscribe("ops.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = sub.Unsubscribe() }()
				for range b.N {
					if _, err := nc.Request("ops.echo", payload, runTimeout); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}

	// Not server operations: the CPU work and the process a no-op shell step costs.
	b.Run("validate_playbook", func(b *testing.B) {
		for range b.N {
			if _, _, err := coordinator.Validate([]byte(NoopPlaybook), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json_run_record", func(b *testing.B) {
		rec := sampleRecord()
		for range b.N {
			body, err := json.Marshal(rec)
			if err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(body, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fork_sh_true", func(b *testing.B) {
		for range b.N {
			cmd := exec.Command("/bin/sh", "-c", "true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
