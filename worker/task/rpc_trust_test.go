package task

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetbook/fleetbook/protocol"
	"github.com/fleetbook/fleetbook/trust"
	"github.com/fleetbook/fleetbook/worker/agent"
)

func testSigner(t testing.TB) *trust.Signer {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	s, err := trust.NewSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signJob signs job as the coordinator does.
func signJob(t testing.TB, s *trust.Signer, job *protocol.Job) {
	t.Helper()
	g, err := s.RPCGrant(job.ID, job.RPC.Agent, job.RPC.Action, job.RPC.Properties, job.Targets, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	job.Grant = g
	job.ResultToken = s.ResultToken(job.ID)
}

func TestRPCJob_ForwardsTheGrantWithEachNodesProof(t *testing.T) {
	nc := fleetConn(t)
	signer := testSigner(t)
	nodes := simNodes(7)
	ids := identities(nodes)
	startFleet(t, nc.ConnectedUrl(), nodes, agent.WithTrustedSigners(signer.PublicKey()))
	spec := protocol.RPCSpec{Agent: "appmgr", Action: "upgrade", Properties: map[string]any{"revision": "2.0.0"}, Timeout: time.Minute}

	job := rpcJob(1, spec, ids)
	signJob(t, signer, &job)
	res := executeRPC(t, nc, job)
	if !res.Success || len(res.Nodes) != len(ids) {
		t.Fatalf("signed job: %s %+v", res.Msg, res.Nodes)
	}
	if res.Token != job.ResultToken || signer.CheckResult(&res) != nil {
		t.Fatalf("result token %q, want the job's %q", res.Token, job.ResultToken)
	}

	// Unsigned, or with a target added after signing: every node refuses.
	unsigned := rpcJob(2, spec, ids)
	widened := rpcJob(3, spec, ids[:3])
	signJob(t, signer, &widened)
	widened.Targets = ids
	for _, tc := range []struct {
		name string
		job  protocol.Job
		want string
	}{
		{"unsigned", unsigned, trust.ErrUnsigned.Error()},
		{"targets widened", widened, trust.ErrNotTargeted.Error()},
	} {
		res := executeRPC(t, nc, tc.job)
		if res.Success {
			t.Fatalf("%s: succeeded", tc.name)
		}
		for id, n := range res.Nodes {
			if n.Success || !strings.Contains(n.Msg, tc.want) {
				t.Fatalf("%s: %s: %+v, want a refusal saying %q", tc.name, id, n, tc.want)
			}
		}
	}
}
