package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/protocol"
)

// dataStoreKV alternates puts and gets of one 120-character string through the playbook
// data-store API (datastore.Open of a kv store on the default data bucket), serially, and returns
// the operations done and the size of the stored (JSON) value.
func dataStoreKV(ctx context.Context, e *Env, lim limit) (rate, int, error) {
	_, js, err := e.Connect("bench data store")
	if err != nil {
		return rate{}, 0, err
	}
	if err := kvstore.Provision(ctx, js, kvstore.Config{}); err != nil {
		return rate{}, 0, err
	}
	st, err := datastore.Open(ctx, js, protocol.StoreSpec{Name: "bench", Type: datastore.TypeKV}, "bench")
	if err != nil {
		return rate{}, 0, fmt.Errorf("open bench data store: %w", err)
	}
	value := strings.Repeat("x", 120)
	body, err := json.Marshal(value)
	if err != nil {
		return rate{}, 0, err
	}
	start := time.Now()
	n := 0
	for ; !lim.over(n, start); n++ {
		if n%2 == 0 {
			err = st.Put(ctx, "bench/key", value)
		} else {
			_, err = st.Get(ctx, "bench/key")
		}
		if err != nil {
			return rate{}, 0, fmt.Errorf("data store op %d: %w", n, err)
		}
	}
	return rate{ops: n, elapsed: time.Since(start)}, len(body), nil
}
