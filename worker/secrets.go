package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// revealSecrets puts the sensitive input values back where the job holds references to them
// (see protocol.SecretRef), reading them from the secrets bucket at the last moment, and returns
// the texts to scrub from the job's output: every sensitive value of the run (and their
// encodings, protocol.SecretTexts), referred to by this job or not. A data write of a value
// derived from them is sealed (kvstore.Keyring.SealValue). A job of a run without secrets costs
// nothing. An error wrapping kvstore.ErrSecretsKey or kvstore.ErrSecretsTampered will not go
// away by trying again.
func (s *session) revealSecrets(ctx context.Context, raw []byte, job *protocol.Job) (*protocol.Job, []string, error) {
	if !job.Sensitive && !protocol.HasSecretRefs(string(raw)) {
		return job, nil, nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	store, err := kvstore.OpenSecrets(cctx, s.js, s.w.opts.keys)
	if err != nil {
		return nil, nil, err
	}
	values, err := store.Get(cctx, job.ID.RunID)
	if err != nil {
		return nil, nil, err
	}
	// Replaced inside the job's JSON text, so every field of every task type is covered; each
	// value is JSON-escaped so the document stays valid whatever the value holds.
	revealed := protocol.ReplaceSecretRefs(string(raw), func(name string) string {
		v, ok := values[name]
		if !ok {
			return protocol.Redacted
		}
		quoted, _ := json.Marshal(protocol.SecretText(v))
		return string(quoted[1 : len(quoted)-1])
	})
	var out protocol.Job
	if err := json.Unmarshal([]byte(revealed), &out); err != nil {
		return nil, nil, fmt.Errorf("job %s with its secrets: %w", job.ID, err)
	}
	texts := protocol.SecretTexts(values)
	if err := s.sealStoreWrite(&out, texts); err != nil {
		return nil, nil, err
	}
	return &out, texts, nil
}

// sealStoreWrite seals the value of a data write that holds any of the run's sensitive texts, so
// the store never holds it in clear and a read brings back that it is sensitive.
func (s *session) sealStoreWrite(job *protocol.Job, texts []string) error {
	if job.Type != protocol.TaskData || job.Data == nil || job.Data.Action != "write" || len(texts) == 0 {
		return nil
	}
	b, _ := json.Marshal(job.Data.Value)
	if !slices.ContainsFunc(texts, func(t string) bool { return strings.Contains(string(b), t) }) {
		return nil
	}
	sealed, err := s.w.opts.keys.SealValue(job.Data.Value)
	if err != nil {
		return err
	}
	job.Data.Value = sealed
	return nil
}

// permanentSecretsError reports whether err, from revealSecrets, fails the job rather than
// waiting for a retry: the run's values were sealed with a key this worker lacks, or altered.
func permanentSecretsError(err error) bool {
	return errors.Is(err, kvstore.ErrSecretsKey) || errors.Is(err, kvstore.ErrSecretsTampered)
}

// redactSealed hides a sealed value a data job read (written from a sensitive source, by this run
// or another): it stays sensitive, and is never shown. Use a sensitive data-bound input to use
// such a value in a template.
func redactSealed(job *protocol.Job, res protocol.Result) protocol.Result {
	if s, ok := res.Data.(string); ok && job.Type == protocol.TaskData && strings.HasPrefix(s, protocol.SealedPrefix) {
		res.Data = protocol.Redacted
		res.Msg += " (a sensitive value: not shown)"
	}
	return res
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
