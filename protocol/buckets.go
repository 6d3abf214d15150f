package protocol

import "fmt"

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
