package protocol

// CodeQueueFull: the run queue is at its limit; nothing was stored, and the same submission
// (same idempotency key) may be retried later.
const CodeQueueFull = "QUEUE_FULL"
