package faults

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// replyDropper is a TCP proxy between NATS clients and a server that makes writes ambiguous: it
// forwards everything, except that it drops the server's answer to some requests whose subject
// starts with a watched prefix (a JetStream publish's PubAck, a KV write's, an acknowledgement
// confirmed by the server). The request itself reaches the server and takes effect; the client
// only never learns it did, and times out: a write that succeeded and looks failed. The first
// answer of each kind is always dropped, then answers are dropped at rate with a seeded PRNG.
//
// It also reads the answers it lets through, counting those that report a compare-and-set
// conflict (JetStream's "wrong last sequence") and those that report a duplicate publish.
type replyDropper struct {
	ln    net.Listener
	to    string
	kinds []dropKind
	rate  float64

	mu    sync.Mutex
	rng   *rand.Rand
	stats map[string]*dropStats
	conns []net.Conn
}

// dropKind names the requests whose subject starts with prefix.
type dropKind struct{ name, prefix string }

// dropStats counts one kind's answers.
type dropStats struct {
	answers, dropped, conflicts, duplicates int
}

func (s dropStats) String() string {
	return fmt.Sprintf("%d answers, %d dropped, %d cas conflicts, %d duplicates", s.answers, s.dropped, s.conflicts, s.duplicates)
}

// wrongLastSequence is JetStream's error code for a publish whose expected last sequence (a KV
// compare-and-set, or a create of a key that exists) does not match.
const wrongLastSequence = 10071

// startReplyDropper proxies a loopback port to the server at serverURL until the test ends.
func startReplyDropper(t *testing.T, serverURL string, seed uint64, rate float64, kinds ...dropKind) *replyDropper {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln, to: u.Host, kinds: kinds, rate: rate,
		rng: rand.New(rand.NewPCG(seed, seed^0xc3)), stats: map[string]*dropStats{}}
	for _, k := range kinds {
		p.stats[k.name] = &dropStats{}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// URL is the proxy's client URL.
func (p *replyDropper) URL() string { return "nats://" + p.ln.Addr().String() }

// Stats returns the counts of kind so far.
func (p *replyDropper) Stats(kind string) dropStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return *p.stats[kind]
}

func (p *replyDropper) track(cs ...net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, cs...)
	p.mu.Unlock()
}

// serve proxies one client connection.
func (p *replyDropper) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.to)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, server)
	// awaited maps the reply subject of each watched request to its kind, until it is answered.
	var mu sync.Mutex
	awaited := map[string]string{}
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = pipeProtocol(client, server, func(op string, args []string, _ []byte) bool {
			// PUB subject [reply] size; HPUB subject [reply] header-size total-size.
			if op == "PUB" && len(args) == 3 || op == "HPUB" && len(args) == 4 {
				if kind := p.kindOf(args[0]); kind != "" {
					mu.Lock()
					awaited[args[1]] = kind
					mu.Unlock()
				}
			}
			return true
		})
		server.Close()
		client.Close()
	})
	wg.Go(func() {
		_ = pipeProtocol(server, client, func(op string, args []string, payload []byte) bool {
			if op != "MSG" && op != "HMSG" {
				return true
			}
			mu.Lock()
			kind, ok := awaited[args[0]]
			delete(awaited, args[0])
			mu.Unlock()
			return !ok || p.answer(kind, payload)
		})
		server.Close()
		client.Close()
	})
	wg.Wait()
}

func (p *replyDropper) kindOf(subject string) string {
	for _, k := range p.kinds {
		if strings.HasPrefix(subject, k.prefix) {
			return k.name
		}
	}
	return ""
}

// answer counts an answer of kind and decides whether it goes through.
func (p *replyDropper) answer(kind string, payload []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats[kind]
	s.answers++
	if s.dropped == 0 || p.rng.Float64() < p.rate {
		s.dropped++
		return false
	}
	var ack struct {
		Duplicate bool `json:"duplicate"`
		Error     *struct {
			ErrCode int `json:"err_code"`
		} `json:"error"`
	}
	if json.Unmarshal(payload, &ack) == nil {
		if ack.Error != nil && ack.Error.ErrCode == wrongLastSequence {
			s.conflicts++
		}
		if ack.Duplicate {
			s.duplicates++
		}
	}
	return true
}

// pipeProtocol copies NATS protocol from src to dst one operation at a time, calling keep with
// each operation's name (upper case), its arguments and its payload (MSG, HMSG, PUB, HPUB), and
// dropping the operation when keep returns false. It returns when either side fails.
func pipeProtocol(src io.Reader, dst io.Writer, keep func(op string, args []string, payload []byte) bool) error {
	r := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(dst, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A control line this long is an INFO or CONNECT; it carries no payload.
			if _, err := w.Write(line); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		fields := strings.Fields(string(line))
		op, args := "", []string(nil)
		if len(fields) > 0 {
			op, args = strings.ToUpper(fields[0]), fields[1:]
		}
		size := -1
		switch {
		case (op == "PUB" || op == "MSG" || op == "HPUB" || op == "HMSG") && len(args) >= 2:
			size, err = strconv.Atoi(args[len(args)-1])
			if err != nil {
				return fmt.Errorf("bad %s line %q", op, line)
			}
		}
		frame := append([]byte(nil), line...)
		var payload []byte
		if size >= 0 {
			body := make([]byte, size+2) // the payload and its CRLF
			if _, err := io.ReadFull(r, body); err != nil {
				return err
			}
			payload = body[:size]
			frame = append(frame, body...)
		}
		if keep(op, args, payload) {
			if _, err := w.Write(frame); err != nil {
				return err
			}
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}
