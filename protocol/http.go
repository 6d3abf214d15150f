package protocol

// HTTP headers fleetbook sends with webhook and graphite_event tasks.
const (
	// HTTPRequestIDHeader carries the job id (JobID.String) on every webhook and graphite_event
	// request. A redelivered job sends the same value, so a receiver can de-duplicate; a retry
	// of the task (`tries`) is a new attempt and sends a new value.
	HTTPRequestIDHeader = "X-Fleetbook-Request-ID"
	// HTTPSignatureHeader carries "sha256=<hex HMAC-SHA256>" of the request body (the query
	// string for GET) keyed with the task's signing_secret, when it has one.
	HTTPSignatureHeader = "X-Fleetbook-Signature"
	// HTTPSignaturePrefix starts the value of HTTPSignatureHeader.
	HTTPSignaturePrefix = "sha256="
)
