package jspull

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Acknowledgement bodies of the JetStream protocol.
const (
	ackBody        = "+ACK"
	nakBody        = "-NAK"
	inProgressBody = "+WPI"
	termBody       = "+TERM"
)

// msg is a message received by a Puller's own pull requests, as a jetstream.Msg. Its
// acknowledgements are published on the Puller's connection: they must work after the pull's
// subscription has been drained, when a stopping Puller hands back what it received.
type msg struct {
	nc *nats.Conn
	m  *nats.Msg
}

var _ jetstream.Msg = msg{}

// Metadata is what the message's ack subject says of it (sequences, deliveries, stream, consumer).
func (r msg) Metadata() (*jetstream.MsgMetadata, error) {
	md, err := r.m.Metadata()
	if err != nil {
		return nil, err
	}
	return &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Consumer: md.Sequence.Consumer, Stream: md.Sequence.Stream},
		NumDelivered: md.NumDelivered,
		NumPending:   md.NumPending,
		Timestamp:    md.Timestamp,
		Stream:       md.Stream,
		Consumer:     md.Consumer,
		Domain:       md.Domain,
	}, nil
}

// Data is the message's payload.
func (r msg) Data() []byte { return r.m.Data }

// Headers are the message's headers.
func (r msg) Headers() nats.Header { return r.m.Header }

// Subject is the subject the message was published on.
func (r msg) Subject() string { return r.m.Subject }

// Reply is the message's ack subject.
func (r msg) Reply() string { return r.m.Reply }

// Ack acknowledges the message without waiting for the server.
func (r msg) Ack() error { return r.send(ackBody) }

// DoubleAck acknowledges the message and waits for the server to confirm it.
func (r msg) DoubleAck(ctx context.Context) error {
	if r.m.Reply == "" {
		return nats.ErrMsgNoReply
	}
	_, err := r.nc.RequestWithContext(ctx, r.m.Reply, []byte(ackBody))
	return err
}

// Nak asks for the message to be delivered again at once.
func (r msg) Nak() error { return r.send(nakBody) }

// NakWithDelay asks for the message to be delivered again after delay.
func (r msg) NakWithDelay(delay time.Duration) error {
	return r.send(nakBody + ` {"delay": ` + strconv.FormatInt(delay.Nanoseconds(), 10) + `}`)
}

// InProgress restarts the message's ack wait.
func (r msg) InProgress() error { return r.send(inProgressBody) }

// Term tells the server never to deliver the message again.
func (r msg) Term() error { return r.send(termBody) }

// TermWithReason is Term, with the reason the server reports in its advisory.
func (r msg) TermWithReason(reason string) error { return r.send(termBody + " " + reason) }

func (r msg) send(body string) error {
	if r.m.Reply == "" {
		return nats.ErrMsgNoReply
	}
	return r.nc.Publish(r.m.Reply, []byte(body))
}
