package agent

import (
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestReceiver_RecordsWebhookAndChat(t *testing.T) {
	dir := t.TempDir()
	r, err := NewReceiver(ReceiverConfig{Listen: "127.0.0.1:0"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	post := func(path, body string, header map[string]string) map[string]any {
		req, err := http.NewRequest(http.MethodPost, r.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: status %d, answer %v, err %v", path, resp.StatusCode, answer, err)
		}
		return answer
	}
	post("/hooks/deploy", `{"event":"upgrade_succeeded"}`, map[string]string{"X-Deploy-Tier": "alfa"})
	answer := post("/api/chat.postMessage", `{"channel":"#ops","text":"hi"}`, map[string]string{"Authorization": "Bearer xoxb-secret"})
	if answer["ok"] != true || answer["channel"] != "#ops" || answer["ts"] == nil {
		t.Errorf("chat answer %v, want Slack's ok with channel and ts", answer)
	}

	calls, err := ReadReceived(filepath.Join(dir, ReceiverFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("recorded %d calls, want 2: %+v", len(calls), calls)
	}
	hook, chat := calls[0], calls[1]
	if hook.Kind != "webhook" || hook.Path != "/hooks/deploy" || hook.Headers["X-Deploy-Tier"] != "alfa" ||
		hook.Body.(map[string]any)["event"] != "upgrade_succeeded" {
		t.Errorf("webhook call recorded as %+v", hook)
	}
	if chat.Kind != "chat" || chat.Body.(map[string]any)["text"] != "hi" {
		t.Errorf("chat call recorded as %+v", chat)
	}
	if got := chat.Headers["Authorization"]; got != "[redacted]" {
		t.Errorf("Authorization recorded as %q, want it redacted", got)
	}
}

func TestReceiver_Refusals(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ name, listen, want string }{
		{"port in use", taken.Addr().String(), "receiver cannot listen on " + taken.Addr().String()},
		{"not loopback", "0.0.0.0:8931", "must be a loopback address"},
		{"no port", "127.0.0.1", "must be host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReceiver(ReceiverConfig{Listen: tc.listen}, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseFleet_Receiver(t *testing.T) {
	f, err := ParseFleet("fleet.yaml", []byte("receiver: {listen: '127.0.0.1:8931'}\nnodes:\n  - identity: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Receiver == nil || f.Receiver.Listen != "127.0.0.1:8931" {
		t.Fatalf("receiver %+v", f.Receiver)
	}
	_, err = ParseFleet("fleet.yaml", []byte("receiver: {listen: 'example.net:80'}\nnodes:\n  - identity: a\n"))
	if err == nil || !strings.Contains(err.Error(), "fleet.yaml: receiver.listen") {
		t.Fatalf("err = %v, want the receiver's listen refused naming the file", err)
	}
}
