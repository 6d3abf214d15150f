package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// receiverMaxBody bounds one recorded request body.
const receiverMaxBody = 1 << 20

// ReceiverFile is the file, in a fleet's state directory, where the receiver records every call.
const ReceiverFile = "receiver.jsonl"

// ReceiverConfig is the fleet file's receiver section: a local HTTP sink standing in for the
// webhook and chat services a playbook notifies, so an example run sends nothing off the machine.
type ReceiverConfig struct {
	// Listen is the loopback address to listen on, host:port.
	Listen string `yaml:"listen"`
}

// check refuses an address that is not a loopback host and port: the receiver is a test sink and
// must not be reachable from other machines.
func (c *ReceiverConfig) check() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" {
		return fmt.Errorf("receiver.listen: %q must be host:port, e.g. 127.0.0.1:8931", c.Listen)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("receiver.listen: %q must be a loopback address (127.0.0.1, ::1 or localhost)", c.Listen)
	}
	return nil
}

// ReceivedCall is one recorded request, a line of the receiver's file.
type ReceivedCall struct {
	Time time.Time `json:"time"`
	// Kind is "chat" for a Slack chat.postMessage call, "webhook" for anything else.
	Kind    string            `json:"kind"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query,omitempty"`
	Headers map[string]string `json:"headers"`
	// Body is the request body: decoded JSON when it is JSON, else its text.
	Body any `json:"body,omitempty"`
}

// Receiver is the local HTTP sink of a simulated fleet. It answers every request with success
// (Slack's {"ok":true,...} for chat.postMessage) and appends it to its file as a ReceivedCall.
type Receiver struct {
	ln   net.Listener
	file string
	mu   sync.Mutex
}

// NewReceiver listens on cfg.Listen and records into dir/ReceiverFile. A port already in use is
// refused here, naming the address, before anything is served.
func NewReceiver(cfg ReceiverConfig, dir string) (*Receiver, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFleet, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: receiver: %w", ErrStartup, err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: receiver cannot listen on %s (is another fleet or receiver running? change receiver.listen in the fleet file): %w",
			ErrStartup, cfg.Listen, err)
	}
	return &Receiver{ln: ln, file: filepath.Join(dir, ReceiverFile)}, nil
}

// URL is the receiver's base URL.
func (r *Receiver) URL() string { return "http://" + r.ln.Addr().String() }

// File is where the receiver records calls.
func (r *Receiver) File() string { return r.file }

// Run serves until ctx ends.
func (r *Receiver) Run(ctx context.Context) error {
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(r.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, receiverMaxBody))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	call := ReceivedCall{
		Time: time.Now().UTC(), Kind: "webhook", Method: req.Method, Path: req.URL.Path,
		Query: req.URL.RawQuery, Headers: map[string]string{},
	}
	for k, v := range req.Header {
		call.Headers[k] = strings.Join(v, ", ")
	}
	if _, ok := call.Headers["Authorization"]; ok {
		// A real token given by mistake must not end up in a file.
		call.Headers["Authorization"] = "[redacted]"
	}
	var decoded any
	if json.Unmarshal(body, &decoded) == nil {
		call.Body = decoded
	} else if len(body) > 0 {
		call.Body = string(body)
	}
	answer := map[string]any{"ok": true}
	if strings.HasSuffix(req.URL.Path, "/chat.postMessage") {
		call.Kind = "chat"
		channel := "C0RECEIVER"
		if m, ok := decoded.(map[string]any); ok {
			if c, ok := m["channel"].(string); ok && c != "" {
				channel = c
			}
		}
		answer["channel"] = channel
		answer["ts"] = fmt.Sprintf("%d.000100", call.Time.Unix())
	}
	if err := r.record(call); err != nil {
		http.Error(w, "cannot record the call: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

func (r *Receiver) record(call ReceivedCall) error {
	line, err := json.Marshal(call)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(r.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadReceived reads the calls recorded in file, oldest first.
func ReadReceived(file string) ([]ReceivedCall, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var calls []ReceivedCall
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var c ReceivedCall
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		calls = append(calls, c)
	}
	return calls, nil
}
