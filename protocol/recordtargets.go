package protocol

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// runRecordFields is RunRecord without its JSON methods.
type runRecordFields RunRecord

// MarshalJSON encodes the record as it is stored:
//
//   - without what its parts hold (see IsRunPartKey): Document and Files when DocumentPart
//     names them, the first SealedSteps steps when StepPages hold them, and the node sets that
//     NodeParts names;
//   - with the targets of each job in flight that are exactly one of the run's node sets (an
//     rpc task on "{{{ nodes.web }}}") named, not repeated: the record then holds every identity
//     once, not twice while the step runs, which halves what each of the step's writes carries
//     and moves the record's size limit from about 55,000 to about 110,000 short identities.
func (r RunRecord) MarshalJSON() ([]byte, error) {
	out := runRecordFields(r)
	if r.DocumentPart != "" {
		out.Document, out.Files = "", nil
	}
	out.Steps = r.unsealedSteps()
	if len(r.NodeParts) > 0 {
		out.Nodes = make(map[string][]string, len(r.Nodes))
		for name, nodes := range r.Nodes {
			if _, apart := r.NodeParts[name]; !apart {
				out.Nodes[name] = nodes
			}
		}
	}
	cloned := false
	for i := range out.Steps {
		s := &out.Steps[i]
		if s.Job == nil || len(s.Job.Targets) == 0 || s.JobTargetsSet != "" {
			continue
		}
		name, ok := nodeSetOf(r.Nodes, s.Job.Targets)
		if !ok {
			continue
		}
		if !cloned {
			out.Steps, cloned = slices.Clone(out.Steps), true
			s = &out.Steps[i]
		}
		job := *s.Job
		job.Targets = nil
		s.Job, s.JobTargetsSet = &job, name
	}
	return json.Marshal(out)
}

// unsealedSteps are the steps after the sealed ones, which the stored record holds. A record
// with every step starts at step 1; one decoded and not completed from its parts (see
// kvstore.Runs) holds only these already.
func (r *RunRecord) unsealedSteps() []StepRecord {
	if r.SealedSteps > 0 && len(r.Steps) > 0 && r.Steps[0].Seq == 1 {
		return r.Steps[min(r.SealedSteps, len(r.Steps)):]
	}
	return r.Steps
}

// UnmarshalJSON decodes a record MarshalJSON encoded, giving back each job its targets. What the
// record's parts hold (Document and Files when DocumentPart is set, the first SealedSteps steps,
// the node sets of NodeParts) is not in it: kvstore.Runs reads the parts and puts them back.
func (r *RunRecord) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, (*runRecordFields)(r)); err != nil {
		return err
	}
	return r.ResolveJobTargets()
}

// ResolveJobTargets gives back the targets of each job stored as the name of a node set, once
// the record has that set: a set in NodeParts is left for when its parts are read.
func (r *RunRecord) ResolveJobTargets() error {
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.JobTargetsSet == "" || s.Job == nil {
			continue
		}
		set, ok := r.Nodes[s.JobTargetsSet]
		if _, apart := r.NodeParts[s.JobTargetsSet]; !ok && apart {
			continue
		}
		if !ok {
			return fmt.Errorf("run %s step %d: job targets are node set %q, which the record does not have", r.ID, s.Seq, s.JobTargetsSet)
		}
		s.Job.Targets, s.JobTargetsSet = set, ""
	}
	return nil
}

// nodeSetOf names the node set of sets that targets are, in the same order.
func nodeSetOf(sets map[string][]string, targets []string) (string, bool) {
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		if slices.Equal(sets[name], targets) {
			return name, true
		}
	}
	return "", false
}
