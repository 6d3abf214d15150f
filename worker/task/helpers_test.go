package task

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// wait bounds every Eventually in these tests: generous, since -race on a small machine is slow;
// none of the tests asserts how fast anything is.
const wait = 20 * time.Second

// testEnv is the Env of a worker named w-test with the worker's defaults and no NATS, for the
// executors' own tests.
func testEnv() Env {
	return Env{Worker: "w-test", DrainWait: time.Second, SlackAPI: DefaultSlackAPI}
}

// propJob is a job of type typ with props as a worker receives them: through JSON, so numbers
// are float64.
func propJob(t *testing.T, typ string, props map[string]any) *protocol.Job {
	t.Helper()
	return received(t, protocol.Job{
		Version: protocol.JobVersion, ID: protocol.JobID{RunID: "r1", Step: 3, Attempt: 2},
		Type: typ, Description: "notify", Playbook: "test_book", Properties: props,
	})
}

// received is job as a worker receives it: through JSON.
func received(t *testing.T, job protocol.Job) *protocol.Job {
	t.Helper()
	data, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	var got protocol.Job
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

// mustExecute runs job with env under the test's context and fails the test if it was
// interrupted.
func mustExecute(t *testing.T, env Env, job *protocol.Job) protocol.Result {
	t.Helper()
	res, err := Execute(t.Context(), env, job)
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	return res
}

// captured is one request a receiver saw.
type captured struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// receiver is an httptest server recording requests and answering with handler's status/body.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newReceiver(t *testing.T, tls bool, status int, body string) *receiver {
	t.Helper()
	rc := &receiver{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, captured{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), b})
		rc.mu.Unlock()
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	if tls {
		rc.Server = httptest.NewUnstartedServer(h)
		// The refused handshakes of the verify_ssl test are expected, not worth a log line.
		rc.Config.ErrorLog = log.New(io.Discard, "", 0)
		rc.StartTLS()
	} else {
		rc.Server = httptest.NewServer(h)
	}
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) only(t *testing.T) captured {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(rc.reqs))
	}
	return rc.reqs[0]
}
