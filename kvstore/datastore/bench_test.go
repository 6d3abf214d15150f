package datastore

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/internal/natstest"
	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// benchJS starts a provisioned server for one benchmark.
func benchJS(b *testing.B) jetstream.JetStream {
	s := natstest.RunServer(b)
	_, js := natstest.Connect(b, s.ClientURL())
	if err := kvstore.Provision(b.Context(), js, kvstore.Config{}); err != nil {
		b.Fatal(err)
	}
	return js
}

// The kv data store must cost little over raw KV (DESIGN: at least 80% of its throughput).
// Compare: go test ./kvstore/datastore/ -run XXX -bench 'KVPut|KVGet'

func BenchmarkRawKVPut(b *testing.B) {
	js := benchJS(b)
	kv, err := js.KeyValue(b.Context(), protocol.DataBucket)
	if err != nil {
		b.Fatal(err)
	}
	val := []byte(`"green"`)
	for i := 0; b.Loop(); i++ {
		if _, err := kv.Put(b.Context(), fmt.Sprintf("app/k%d", i%100), val); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreKVPut(b *testing.B) {
	js := benchJS(b)
	st, err := Open(b.Context(), js, protocol.StoreSpec{Name: "d"}, "r")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := st.Put(b.Context(), fmt.Sprintf("app/k%d", i%100), "green"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawKVGet(b *testing.B) {
	js := benchJS(b)
	kv, _ := js.KeyValue(b.Context(), protocol.DataBucket)
	if _, err := kv.Put(b.Context(), "app/k", []byte(`"green"`)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := kv.Get(b.Context(), "app/k"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreKVGet(b *testing.B) {
	js := benchJS(b)
	st, _ := Open(b.Context(), js, protocol.StoreSpec{Name: "d"}, "r")
	if err := st.Put(b.Context(), "app/k", "green"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Get(b.Context(), "app/k"); err != nil {
			b.Fatal(err)
		}
	}
}
