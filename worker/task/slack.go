package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fleetbook/fleetbook/protocol"
)

// Slack task settings.
const (
	// DefaultSlackAPI is the Slack Web API base URL slack tasks call unless Env.SlackAPI (the
	// worker's WithSlackAPI) or the task's api_url says otherwise.
	DefaultSlackAPI = "https://slack.com/api"
	// slackDefaultColor and slackDefaultUsername are Choria's defaults, the name made ours.
	slackDefaultColor    = "#ffa449"
	slackDefaultUsername = "fleetbook"
	// slackFooter signs every message.
	slackFooter = "fleetbook"
	// redacted replaces the token wherever it might show.
	redacted = "[redacted]"
)

// slackMessage is the body of chat.postMessage: one attachment, as Choria sent it.
type slackMessage struct {
	Channel     string            `json:"channel"`
	Username    string            `json:"username"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback string       `json:"fallback"`
	Text     string       `json:"text"`
	Color    string       `json:"color"`
	Pretext  string       `json:"pretext"`
	MrkdwnIn []string     `json:"mrkdwn_in"`
	Footer   string       `json:"footer"`
	Fields   []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// slackAnswer is the part of Slack's answer a task looks at.
type slackAnswer struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
	Warning string `json:"warning"`
}

// slackRequest builds the chat.postMessage call of a slack job: token, channel, text (required),
// color, username, api_url. The token goes only in the Authorization header.
func slackRequest(job *protocol.Job, defaultAPI string) (*httpRequest, string, error) {
	p := &props{m: job.Properties}
	token := p.str("token", "", true)
	channel := p.str("channel", "", true)
	text := p.str("text", "", true)
	color := p.str("color", slackDefaultColor, false)
	username := p.str("username", slackDefaultUsername, false)
	api := strings.TrimRight(p.str("api_url", defaultAPI, false), "/")
	if p.err != nil {
		return nil, token, p.err
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, token, errors.New("property token: must be a single line")
	}
	u, err := parseHTTPURL("api_url", api+"/chat.postMessage")
	if err != nil {
		return nil, token, err
	}
	msg := slackMessage{
		Channel:  channel,
		Username: username,
		Attachments: []slackAttachment{{
			Fallback: text, Text: text, Color: color,
			Pretext:  "Task: " + job.Description,
			MrkdwnIn: []string{"text"},
			Footer:   slackFooter,
			Fields: []slackField{
				{Title: "playbook", Value: job.Playbook, Short: true},
				{Title: "run", Value: job.ID.RunID, Short: true},
			},
		}},
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, token, fmt.Errorf("the message cannot be encoded: %w", err)
	}
	return &httpRequest{
		method: http.MethodPost, url: u, body: body,
		contentType: "application/json; charset=utf-8",
		headers:     map[string]string{"Authorization": "Bearer " + token},
		verifyTLS:   true, timeout: httpTimeout(job), requestID: job.ID.String(),
	}, token, nil
}

// runSlackJob posts a message. Slack answers HTTP 200 with {"ok": false, "error": ...} when it
// refuses one: that is a failed task naming the error. The token never appears in the result.
func runSlackJob(ctx context.Context, env Env, job *protocol.Job) (protocol.Result, error) {
	rq, token, err := slackRequest(job, env.SlackAPI)
	if err != nil {
		return env.failed(job, redact(err.Error(), token)), nil
	}
	res := env.NewResult(job, time.Now().UTC())
	resp, err := sendHTTP(ctx, rq)
	res.EndedAt = time.Now().UTC()
	switch {
	case errors.Is(err, ErrInterrupted):
		return protocol.Result{}, err
	case err != nil:
		res.Msg = redact(fmt.Sprintf("Slack chat.postMessage failed: %v", err), token)
		return res, nil
	}
	res.Data = redactData(resp.data(), token)
	var ans slackAnswer
	switch {
	case !resp.success():
		res.Msg = redact("Slack chat.postMessage failed: "+resp.summary(), token)
	case json.Unmarshal(resp.body, &ans) != nil:
		res.Msg = "Slack chat.postMessage failed: the answer is not JSON"
	case !ans.OK:
		res.Msg = redact("Slack chat.postMessage failed: "+ans.Error, token)
	default:
		res.Success = true
		res.Msg = fmt.Sprintf("Message posted to Slack channel %s", ans.Channel)
		res.Data = map[string]any{"channel": ans.Channel, "ts": ans.TS}
		if ans.Warning != "" {
			res.Msg += " (warning: " + redact(ans.Warning, token) + ")"
		}
	}
	return res, nil
}

// redact removes token from s.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, redacted)
}

// redactData removes token from data by way of its JSON text, in case the answer echoed it.
func redactData(data any, token string) any {
	if data == nil || token == "" {
		return data
	}
	b, err := json.Marshal(data)
	if err != nil || !strings.Contains(string(b), token) {
		return data
	}
	// The token is a JSON-safe string in practice; if replacing broke the JSON, keep the text.
	text := redact(string(b), token)
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return text
	}
	return v
}
