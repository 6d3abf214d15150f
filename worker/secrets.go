package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// revealSecrets puts the sensitive input values back where the job holds references to them
// (see protocol.SecretRef), reading them from the secrets bucket at the last moment, and returns
// the values' text so the job's output can be scrubbed of them. A job without references costs
// nothing.
func (s *session) revealSecrets(ctx context.Context, raw []byte, job *protocol.Job) (*protocol.Job, []string, error) {
	if !protocol.HasSecretRefs(string(raw)) {
		return job, nil, nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	store, err := kvstore.OpenSecrets(cctx, s.js)
	if err != nil {
		return nil, nil, err
	}
	values, err := store.Get(cctx, job.ID.RunID)
	if err != nil {
		return nil, nil, err
	}
	var texts []string
	// Replaced inside the job's JSON text, so every field of every task type is covered; each
	// value is JSON-escaped so the document stays valid whatever the value holds.
	revealed := protocol.ReplaceSecretRefs(string(raw), func(name string) string {
		v, ok := values[name]
		if !ok {
			return protocol.Redacted
		}
		text := protocol.SecretText(v)
		texts = append(texts, text)
		quoted, _ := json.Marshal(text)
		return string(quoted[1 : len(quoted)-1])
	})
	var out protocol.Job
	if err := json.Unmarshal([]byte(revealed), &out); err != nil {
		return nil, nil, fmt.Errorf("job %s with its secrets: %w", job.ID, err)
	}
	// Longest first, so a secret containing another is scrubbed whole.
	sort.SliceStable(texts, func(i, j int) bool { return len(texts[i]) > len(texts[j]) })
	return &out, texts, nil
}

// scrubResult removes secret values from everything a result carries out of the worker.
func scrubResult(res protocol.Result, secrets []string) protocol.Result {
	if len(secrets) == 0 {
		return res
	}
	res.Msg = playbooks.Scrub(res.Msg, secrets)
	res.Data = playbooks.ScrubValue(res.Data, secrets)
	for id, nr := range res.Nodes {
		nr.Msg = playbooks.Scrub(nr.Msg, secrets)
		nr.Data = playbooks.ScrubValue(nr.Data, secrets)
		res.Nodes[id] = nr
	}
	return res
}
