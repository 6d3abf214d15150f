package protocol

import (
	"fmt"
	"strings"
)

// A JetStream KV bucket is a stream, and each of its keys a subject of it. These are JetStream's
// names for them, kept here with ours because fleetbook addresses them directly for what the KV
// API lacks: purging a key without leaving a marker, publishing to a key with a compare-and-set
// and a per-message TTL.
const (
	// BucketStreamPattern is the printf pattern of the stream behind a bucket: bucket.
	BucketStreamPattern = "KV_%s"
	// BucketSubjectPattern is the printf pattern of the subject of a key in a bucket: bucket, key.
	BucketSubjectPattern = "$KV.%s.%s"
)

// BucketStreamName is the name of the stream behind bucket.
func BucketStreamName(bucket string) string { return fmt.Sprintf(BucketStreamPattern, bucket) }

// BucketSubject is the subject of key in bucket; key may be a wildcard such as "run.>".
func BucketSubject(bucket, key string) string { return fmt.Sprintf(BucketSubjectPattern, bucket, key) }

// ReservedBucketPrefix starts the name of every bucket fleetbook provisions. Playbook data
// stores may not name a bucket with it (in any letter case), except DataBucket: the buckets behind
// it hold other runs' records, secrets, locks and node registrations, and a worker opens a data
// store with its own credentials, so no NATS permission would stop a playbook that names one.
const ReservedBucketPrefix = "fleetbook_"

// InternalBuckets are the buckets fleetbook provisions for its own state. Each has
// ReservedBucketPrefix, so CheckDataBucket refuses it; kvstore's provisioning test checks that
// every bucket it creates is here or is DataBucket.
var InternalBuckets = []string{
	RunsBucket, SubmissionsBucket, SecretsBucket, NodesBucket, LocksBucket, MemoryBucket,
	AttemptsBucket, AgentsBucket, SchedulesBucket,
}

// maxBucketName bounds a bucket name: the stream behind it (KV_ + name) must stay a usable
// stream name and file name.
const maxBucketName = 200

// CheckDataBucket is the one rule for the bucket a playbook's kv data store names: a valid
// JetStream bucket name (letters, digits, - and _), and not one of fleetbook's own (see
// ReservedBucketPrefix; DataBucket is allowed). Playbook validation applies it, and the data
// store applies it again right before it opens a bucket, so a name rendered at run time is refused
// too. The error wraps ErrInvalidBucket or ErrReservedBucket and quotes the name.
func CheckDataBucket(name string) error {
	if name == "" || len(name) > maxBucketName {
		return fmt.Errorf("%w: %q (1 to %d letters, digits, - and _)", ErrInvalidBucket, name, maxBucketName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%w: %q (letters, digits, - and _ only)", ErrInvalidBucket, name)
		}
	}
	if name != DataBucket && len(name) >= len(ReservedBucketPrefix) && strings.EqualFold(name[:len(ReservedBucketPrefix)], ReservedBucketPrefix) {
		return fmt.Errorf("%w: %q: names starting with %s belong to fleetbook's own state; a data store may use %s or a bucket of its own",
			ErrReservedBucket, name, ReservedBucketPrefix, DataBucket)
	}
	return nil
}
