package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nats-io/nuid"

	"github.com/fleetbook/fleetbook/protocol"
)

// A run record is written at every change of its run, and a write costs what the record
// weighs: before parts, a run of 1,000 steps re-encoded and stored ~270 KB at each of its
// steps, and per-step cost grew with the run's length. What never changes again is stored
// once, as a part of the record, which names it (see protocol.IsRunPartKey):
//
//   - a playbook larger than inlineDocumentBytes, when the record is created;
//   - a node set larger than inlineNodesBytes (some 1,000 nodes), when it is discovered;
//   - finished steps, in pages, once more than unsealedSteps of them follow the last page, or
//     when the record grows past sealRecordBytes (an rpc step's per-node outcomes).
//
// A part is written before the record that names it, under a key of its own (never
// overwritten), so a record only ever names parts that exist and hold what it stored; a part
// whose record write was refused is left for the run's pruning. Only finished steps are sealed:
// nothing changes a finished step again.
const (
	// inlineDocumentBytes is the largest playbook (with its child playbooks) kept in the record,
	// and inlineNodesBytes the largest node set.
	inlineDocumentBytes = 8 << 10
	inlineNodesBytes    = 16 << 10
	// pageSteps is how many steps a page holds at most, and unsealedSteps how many finished
	// steps the record keeps before it seals pageSteps of them: the record holds between
	// unsealedSteps-pageSteps and unsealedSteps finished steps, plus the one in flight.
	pageSteps     = 16
	unsealedSteps = 2 * pageSteps
	// maxPageBytes ends a page early, well below the server's message size limit.
	maxPageBytes = 256 << 10
	// sealRecordBytes is the size past which every finished step is sealed.
	sealRecordBytes = 256 << 10
)

// errIncomplete refuses to store a record that lacks what its parts hold: one decoded and not
// completed, which would store fewer steps than the run has.
var errIncomplete = errors.New("record without its sealed steps")

// encode stores what rec's parts hold that is not stored yet and returns the record's stored
// form. It updates rec's part names, which describe the stored form from then on; a caller whose
// write of that form fails reads the record again, as after any failed write.
func (r *Runs) encode(ctx context.Context, rec *protocol.RunRecord) ([]byte, error) {
	if rec.SealedSteps > 0 && (len(rec.Steps) < rec.SealedSteps || rec.Steps[0].Seq != 1) {
		return nil, fmt.Errorf("store run %s: %w", rec.ID, errIncomplete)
	}
	if err := r.storeDocument(ctx, rec); err != nil {
		return nil, err
	}
	if err := r.storeNodeSets(ctx, rec); err != nil {
		return nil, err
	}
	if err := r.seal(ctx, rec, unsealedSteps); err != nil {
		return nil, err
	}
	// MarshalJSON directly, not json.Marshal: that would compact and copy its output again,
	// which was half the cost of encoding a large record.
	b, err := rec.MarshalJSON()
	if err != nil || len(b) <= sealRecordBytes || finishedUnsealed(rec) == 0 {
		return b, err
	}
	if err := r.seal(ctx, rec, 1); err != nil {
		return nil, err
	}
	return rec.MarshalJSON()
}

// storeDocument moves a large playbook to a part of its own, once.
func (r *Runs) storeDocument(ctx context.Context, rec *protocol.RunRecord) error {
	if rec.DocumentPart != "" {
		return nil
	}
	size := len(rec.Document)
	for _, f := range rec.Files {
		size += len(f)
	}
	if size <= inlineDocumentBytes {
		return nil
	}
	key := protocol.DocumentPartKey(rec.ID, nuid.Next())
	if err := r.putPart(ctx, key, protocol.DocumentPart{Document: rec.Document, Files: rec.Files}); err != nil {
		return err
	}
	rec.DocumentPart = key
	return nil
}

// storeNodeSets moves each large node set to parts of its own (several when it would not fit in
// one message), once: a set is recorded when it is discovered and never changes.
func (r *Runs) storeNodeSets(ctx context.Context, rec *protocol.RunRecord) error {
	for _, name := range slices.Sorted(maps.Keys(rec.Nodes)) {
		nodes := rec.Nodes[name]
		if _, apart := rec.NodeParts[name]; apart || !validKey(name) || nodesSize(nodes) <= inlineNodesBytes {
			continue
		}
		var keys []string
		for from := 0; from < len(nodes); {
			to, size := from, 0
			for to < len(nodes) && (to == from || size+len(nodes[to])+3 <= maxPageBytes) {
				size += len(nodes[to]) + 3
				to++
			}
			key := protocol.NodesPartKey(rec.ID, name, len(keys), nuid.Next())
			if err := r.putPart(ctx, key, nodes[from:to]); err != nil {
				return err
			}
			keys, from = append(keys, key), to
		}
		if rec.NodeParts == nil {
			rec.NodeParts = map[string][]string{}
		}
		rec.NodeParts[name] = keys
	}
	return nil
}

// nodesSize is about the size of nodes as JSON.
func nodesSize(nodes []string) int {
	n := 2
	for _, id := range nodes {
		n += len(id) + 3
	}
	return n
}

// validKey reports whether s may be one token of a KV key.
func validKey(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// seal stores pages of the finished steps that follow the last page for as long as at least
// keep of them are left unsealed.
func (r *Runs) seal(ctx context.Context, rec *protocol.RunRecord, keep int) error {
	for finishedUnsealed(rec) >= keep {
		from, n := rec.SealedSteps, finishedUnsealed(rec)
		var page []json.RawMessage
		size := 0
		for i := from; i < from+n && len(page) < pageSteps; i++ {
			b, err := json.Marshal(&rec.Steps[i])
			if err != nil {
				return fmt.Errorf("encode run %s step %d: %w", rec.ID, rec.Steps[i].Seq, err)
			}
			if len(page) > 0 && size+len(b) > maxPageBytes {
				break
			}
			page, size = append(page, b), size+len(b)
		}
		key := protocol.StepPageKey(rec.ID, len(rec.StepPages), nuid.Next())
		if err := r.putPart(ctx, key, page); err != nil {
			return err
		}
		rec.StepPages, rec.SealedSteps = append(rec.StepPages, key), from+len(page)
	}
	return nil
}

// finishedUnsealed counts the finished steps after the sealed ones, up to the first that is not
// finished: steps run in order, and a page holds consecutive steps.
func finishedUnsealed(rec *protocol.RunRecord) int {
	n := 0
	for i := rec.SealedSteps; i < len(rec.Steps) && rec.Steps[i].Done; i++ {
		n++
	}
	return n
}

// putPart stores v as JSON under key, beside the record.
func (r *Runs) putPart(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode run part %s: %w", key, err)
	}
	if _, err := r.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("store run part %s: %w", key, err)
	}
	return nil
}

// complete puts back into a decoded record what its parts hold: its playbook documents, its
// large node sets and its sealed steps. A part that is missing or does not fit is an error: the record would be wrong.
func (r *Runs) complete(ctx context.Context, rec *protocol.RunRecord) error {
	if rec.DocumentPart != "" {
		var doc protocol.DocumentPart
		if err := r.getPart(ctx, rec.DocumentPart, &doc); err != nil {
			return err
		}
		rec.Document, rec.Files = doc.Document, doc.Files
	}
	for _, name := range slices.Sorted(maps.Keys(rec.NodeParts)) {
		var nodes []string
		for _, key := range rec.NodeParts[name] {
			var part []string
			if err := r.getPart(ctx, key, &part); err != nil {
				return err
			}
			nodes = append(nodes, part...)
		}
		if rec.Nodes == nil {
			rec.Nodes = map[string][]string{}
		}
		rec.Nodes[name] = nodes
	}
	if err := rec.ResolveJobTargets(); err != nil {
		return err
	}
	if rec.SealedSteps == 0 {
		return nil
	}
	steps := make([]protocol.StepRecord, 0, rec.SealedSteps+len(rec.Steps))
	for _, key := range rec.StepPages {
		var page []protocol.StepRecord
		if err := r.getPart(ctx, key, &page); err != nil {
			return err
		}
		steps = append(steps, page...)
	}
	if len(steps) != rec.SealedSteps {
		return fmt.Errorf("run %s: its pages hold %d steps where it names %d", rec.ID, len(steps), rec.SealedSteps)
	}
	steps = append(steps, rec.Steps...)
	for i := range steps {
		if steps[i].Seq != i+1 {
			return fmt.Errorf("run %s: step %d is at place %d of its pages and record", rec.ID, steps[i].Seq, i+1)
		}
	}
	rec.Steps = steps
	return nil
}

// getPart decodes the part under key into v.
func (r *Runs) getPart(ctx context.Context, key string, v any) error {
	e, err := r.kv.Get(ctx, key)
	if err != nil {
		return translate("get run part", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return fmt.Errorf("decode run part %s: %w", key, err)
	}
	return nil
}
