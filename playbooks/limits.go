package playbooks

// Limits applied while decoding. They protect the decoder from hostile documents; a real
// playbook is nowhere near any of them.
const (
	// MaxDocumentBytes is the largest document Parse accepts (1 MiB).
	MaxDocumentBytes = 1 << 20

	// MaxDepth is the deepest nesting of maps and lists accepted, counting the top-level map as 1.
	// It is checked after aliases are expanded.
	MaxDepth = 64

	// MaxValueNodes is the most YAML nodes the decoder visits, counting every alias expansion.
	// It refuses "billion laughs" documents, whose aliases expand exponentially.
	MaxValueNodes = 200_000

	// MaxInputsBytes bounds the given input values of one run, together, as JSON (256 KiB). They
	// travel in the submit request and live in the run record, both single NATS messages (1 MiB
	// by default, with the document and the child playbooks), so a larger value is refused by
	// ResolveInputs naming the input, rather than by the server as an oversized message.
	MaxInputsBytes = 256 << 10
)
