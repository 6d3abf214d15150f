package protocol

import (
	"fmt"
	"strings"
)

// A run record's parts are what of it is written once and never changes: a playbook too large
// to carry in every write of the record, large node sets, and pages of the run's finished steps. They are kept in
// RunsBucket beside the record, under keys below the run id ("<run id>.steps.0.…"), which no
// record has (a run id is one token), and the record names them (RunRecord.DocumentPart,
// RunRecord.NodeParts, RunRecord.StepPages): a write of the record then costs what its header and its unfinished
// steps cost, however long the run and its playbook. Whatever reads the bucket's keys as runs
// skips them (IsRunPartKey); they are pruned with the record.

// RunPartsWildcardPattern is the printf pattern of the KV subject of every part of one run: run
// id.
const RunPartsWildcardPattern = "$KV." + RunsBucket + ".%s.>"

// RunRecordKeys is the KV key filter of every run record, and of no part: a run id is one token.
const RunRecordKeys = "*"

// IsRunPartKey reports whether key in RunsBucket is a part of a record rather than a record.
func IsRunPartKey(key string) bool { return strings.Contains(key, ".") }

// DocumentPartKey is the key of a part holding run id's playbook documents; unique names one
// write of it (see StepPageKey).
func DocumentPartKey(runID, unique string) string {
	return fmt.Sprintf("%s.document.%s", runID, unique)
}

// StepPageKey is the key of page n (from 0) of run id's finished steps. unique is new for every
// write of a page: a page is never overwritten, so a write whose record was refused (a
// coordinator that lost the run writing the same page beside its new owner) cannot change the
// page another record names.
func StepPageKey(runID string, n int, unique string) string {
	return fmt.Sprintf("%s.steps.%d.%s", runID, n, unique)
}

// NodesPartKey is the key of part n (from 0) of run id's node set name; unique as in
// StepPageKey.
func NodesPartKey(runID, name string, n int, unique string) string {
	return fmt.Sprintf("%s.nodes.%s.%d.%s", runID, name, n, unique)
}

// DocumentPart is the content of a document part: the record's Document and Files.
type DocumentPart struct {
	Document string            `json:"document"`
	Files    map[string]string `json:"files,omitempty"`
}
