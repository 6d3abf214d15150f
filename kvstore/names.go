package kvstore

// A KV bucket is a stream: these name the stream behind a bucket and the subject of one key,
// for the operations the KV API lacks (purging a key without a marker, publishing a key
// asynchronously).

// kvStreamName is the name of the stream behind bucket.
func kvStreamName(bucket string) string { return "KV_" + bucket }

// kvSubject is the subject of key in bucket (key may be a wildcard such as "run.>").
func kvSubject(bucket, key string) string { return "$KV." + bucket + "." + key }
