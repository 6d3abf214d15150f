package protocol

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A result travels in one message, and the server refuses messages over its payload limit (1 MB
// by default). Most results are small, but a discover job's result is its whole node set:
// 100,000 identities of 25 bytes are 2.7 MB of JSON. A result over compressResultBytes is
// therefore gzipped, which shrinks such lists about tenfold; readers tell the forms apart by
// gzip's magic number, which no JSON text starts with.
const (
	compressResultBytes = 256 << 10
	// MaxResultBytes bounds a result once decompressed, so that a small message cannot make its
	// reader allocate without end.
	MaxResultBytes = 64 << 20
)

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// ErrResultTooLarge is DecodeResult's refusal of a result larger than MaxResultBytes.
var ErrResultTooLarge = errors.New("result too large")

// EncodeResult is the body of res's message: JSON, gzipped when large.
func EncodeResult(res *Result) ([]byte, error) {
	b, err := json.Marshal(res)
	if err != nil || len(b) <= compressResultBytes {
		return b, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeResult decodes a result message's body, in either form EncodeResult makes.
func DecodeResult(data []byte, res *Result) error {
	if !bytes.HasPrefix(data, gzipMagic) {
		return json.Unmarshal(data, res)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decompress result: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, MaxResultBytes+1))
	if err != nil {
		return fmt.Errorf("decompress result: %w", err)
	}
	if len(b) > MaxResultBytes {
		return fmt.Errorf("%w: over %d bytes decompressed", ErrResultTooLarge, MaxResultBytes)
	}
	return json.Unmarshal(b, res)
}
