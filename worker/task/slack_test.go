package task

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

const testToken = "xoxb-123-secret-token"

func slackProps(api string, extra map[string]any) map[string]any {
	p := map[string]any{"token": testToken, "channel": "#ops", "text": "deploy *done*"}
	if api != "" {
		p["api_url"] = api
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// noToken fails the test if the token shows anywhere in res.
func noToken(t *testing.T, res protocol.Result) {
	t.Helper()
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), testToken) {
		t.Errorf("the token leaked into the result: %s", b)
	}
}

func TestSlackPostsMessage(t *testing.T) {
	rc := newReceiver(t, false, 200, `{"ok": true, "channel": "C024BE91L", "ts": "1503435956.000247", "message": {"text": "x"}}`)
	res := mustExecute(t, slackAPIEnv(rc.URL+"/api/"), propJob(t, protocol.TaskSlack, slackProps("", nil)))

	if !res.Success || res.Msg != "Message posted to Slack channel C024BE91L" {
		t.Errorf("result: %+v", res)
	}
	if d, _ := res.Data.(map[string]any); d["ts"] != "1503435956.000247" || d["channel"] != "C024BE91L" {
		t.Errorf("data: %#v", res.Data)
	}
	noToken(t, res)
	got := rc.only(t)
	if got.method != "POST" || got.path != "/api/chat.postMessage" {
		t.Errorf("request %s %s", got.method, got.path)
	}
	if got.header.Get("Authorization") != "Bearer "+testToken || !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
		t.Errorf("headers: %v", got.header)
	}
	if strings.Contains(string(got.body), testToken) || strings.Contains(got.query, testToken) {
		t.Errorf("token sent outside the Authorization header: %s ?%s", got.body, got.query)
	}
	var msg slackMessage
	if err := json.Unmarshal(got.body, &msg); err != nil {
		t.Fatal(err)
	}
	want := slackMessage{Channel: "#ops", Username: "fleetbook", Attachments: []slackAttachment{{
		Fallback: "deploy *done*", Text: "deploy *done*", Color: "#ffa449", Pretext: "Task: notify",
		MrkdwnIn: []string{"text"}, Footer: "fleetbook",
		Fields: []slackField{{"playbook", "test_book", true}, {"run", "r1", true}},
	}}}
	if fmt.Sprint(msg) != fmt.Sprint(want) {
		t.Errorf("message\n got %+v\nwant %+v", msg, want)
	}
}

func TestSlackColorUsernameAndAPIOverride(t *testing.T) {
	rc := newReceiver(t, false, 200, `{"ok": true, "channel": "C1", "ts": "1"}`)
	// The worker's default points nowhere useful: the task's api_url wins.
	env := slackAPIEnv("http://127.0.0.1:1")
	res := mustExecute(t, env, propJob(t, protocol.TaskSlack, slackProps(rc.URL, map[string]any{"color": "danger", "username": "deploybot"})))
	if !res.Success {
		t.Fatalf("result: %+v", res)
	}
	var msg slackMessage
	if err := json.Unmarshal(rc.only(t).body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Username != "deploybot" || msg.Attachments[0].Color != "danger" {
		t.Errorf("message: %+v", msg)
	}
}

func TestSlackFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"ok false", 200, `{"ok": false, "error": "channel_not_found"}`, "Slack chat.postMessage failed: channel_not_found"},
		// Even an answer that echoes the token does not carry it into the result.
		{"echoed token", 200, `{"ok": false, "error": "invalid_auth ` + testToken + `", "token": "` + testToken + `"}`, "Slack chat.postMessage failed: invalid_auth [redacted]"},
		{"http error", 503, "down", "Slack chat.postMessage failed: HTTP 503 Service Unavailable: down"},
		{"not json", 200, "<html>", "Slack chat.postMessage failed: the answer is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, false, tc.status, tc.body)
			res := mustExecute(t, testEnv(), propJob(t, protocol.TaskSlack, slackProps(rc.URL, nil)))
			if res.Success || res.Msg != tc.want {
				t.Errorf("got %+v, want msg %q", res, tc.want)
			}
			noToken(t, res)
		})
	}
}

func TestSlackBadProperties(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"no token", map[string]any{"channel": "c", "text": "t"}, "property token: is required"},
		{"no channel", map[string]any{"token": testToken, "text": "t"}, "property channel: is required"},
		{"empty text", map[string]any{"token": testToken, "channel": "c", "text": ""}, "property text: must not be empty"},
		{"token newline", map[string]any{"token": testToken + "\nX: y", "channel": "c", "text": "t"}, "property token: must be a single line"},
		{"bad api", slackProps("file:///etc", nil), "property api_url: must be an http:// or https:// URL with a host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustExecute(t, testEnv(), propJob(t, protocol.TaskSlack, tc.props))
			if res.Success || res.Msg != tc.want {
				t.Errorf("got %+v, want %q", res, tc.want)
			}
			noToken(t, res)
		})
	}
}

// slackAPIEnv is testEnv with the worker's Slack API base URL set to api.
func slackAPIEnv(api string) Env {
	env := testEnv()
	env.SlackAPI = api
	return env
}
