package playbooks

import "errors"

var (
	// ErrInvalidPlaybook indicates a playbook document failed to decode or validate.
	// Every *ValidationError matches it with errors.Is.
	ErrInvalidPlaybook = errors.New("invalid playbook")

	// ErrDocumentTooLarge indicates a document is larger than MaxDocumentBytes.
	ErrDocumentTooLarge = errors.New("document too large")

	// ErrUnknownInput indicates a template referenced an input that has no value in the scope.
	ErrUnknownInput = errors.New("unknown input")

	// ErrUnknownNodeSet indicates a template referenced a node set that is not in the scope.
	ErrUnknownNodeSet = errors.New("unknown node set")

	// ErrUnknownMetadata indicates a template referenced a metadata key other than the eight known ones.
	ErrUnknownMetadata = errors.New("unknown playbook metadata")

	// ErrUnsafeShellTemplate indicates a template (or a variable holding a value) in a shell
	// command position where the value could be run as code: inside single quotes, after a
	// backslash, inside a command substitution, parameter expansion or here-document, or as an
	// argument of a command that evaluates it (eval, sh -c, ssh, a pipe into sh...; see
	// shellcheck.go). Parse, RenderShell and CheckRenderedShell refuse with it.
	ErrUnsafeShellTemplate = errors.New("template cannot be used safely in this shell position")

	// ErrTemplateValue indicates a template value could not be turned into text (for example a
	// value containing a NUL byte passed to the shell).
	ErrTemplateValue = errors.New("invalid template value")

	// ErrAgentDefinition indicates an agent definition is unusable; the wrapping error names the
	// file (when there is one) and the field.
	ErrAgentDefinition = errors.New("invalid agent definition")

	// ErrInvalidExpression indicates an assert expression, compound filter, fact filter or
	// class/identity/agent matcher that does not parse; the error quotes it and says where.
	ErrInvalidExpression = errors.New("invalid expression")

	// ErrInvalidPlugin indicates a plugin spec (or its executable) is unusable; the wrapping
	// error names the file and every problem.
	ErrInvalidPlugin = errors.New("invalid plugin")
	// ErrInvalidPluginTask indicates rendered properties do not fit their plugin's spec.
	ErrInvalidPluginTask = errors.New("invalid plugin task properties")

	// ErrChildPath indicates a child playbook path (a playbook task's file or name) that is
	// absolute or leaves the parent playbook's directory; see CheckChildPath.
	ErrChildPath = errors.New("child playbook path must stay inside the playbook's directory")

	// ErrNodeSetEmpty indicates that a node set found no node and does not have empty_ok. The
	// error text is the set's when_empty message, or a default naming the set.
	ErrNodeSetEmpty = errors.New("node set is empty")
	// ErrNodeSetTooSmall indicates that a node set kept fewer nodes than its at_least.
	ErrNodeSetTooSmall = errors.New("node set has too few nodes")
)

// invalidExpression marks err, a parse error of an expression language (assert expressions,
// compound filters, fact filters, class/identity/agent matchers), as ErrInvalidExpression
// without changing its text.
func invalidExpression(err error) error { return &expressionError{err: err} }

// expressionError is an expression parse error that matches ErrInvalidExpression.
type expressionError struct{ err error }

func (e *expressionError) Error() string   { return e.err.Error() }
func (e *expressionError) Unwrap() []error { return []error{ErrInvalidExpression, e.err} }
