package protocol

// PluginRequestVersion is the version of PluginRequest.
const PluginRequestVersion = 1

// PluginRequest is what a worker writes, as one JSON document, on the stdin of a plugin task
// type's executable.
type PluginRequest struct {
	Version int `json:"version"`
	// Type is the plugin's task type.
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Properties are the task's rendered properties, checked against the plugin's spec.
	Properties map[string]any `json:"properties"`
	RunID      string         `json:"run_id"`
	Step       int            `json:"step"`
	Attempt    int            `json:"attempt"`
	Playbook   string         `json:"playbook,omitempty"`
	// RequestID is the job id: the same for a redelivered job, so a plugin can de-duplicate.
	RequestID string `json:"request_id"`
	// TimeoutSeconds is how long the plugin has before it is killed.
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// PluginReply is what a plugin must print on stdout, as one JSON document.
type PluginReply struct {
	// Success is required.
	Success *bool  `json:"success"`
	Msg     string `json:"msg"`
	Data    any    `json:"data,omitempty"`
}
