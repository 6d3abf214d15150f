package protocol

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// A small result is plain JSON; a discover result of 100,000 identities is gzipped well under the
// server's 1 MB payload limit; both decode to what was encoded.
func TestResultCodec(t *testing.T) {
	nodes := make([]any, 100_000)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("web-%06d.prod.example.net", i)
	}
	for name, res := range map[string]*Result{
		"small":    {ID: JobID{RunID: "r", Step: 1, Attempt: 1}, Success: true, Msg: "ok"},
		"discover": {ID: JobID{RunID: "r", Step: 1, Attempt: 1}, Success: true, Data: nodes},
	} {
		b, err := EncodeResult(res)
		if err != nil {
			t.Fatal(err)
		}
		if compressed := bytes.HasPrefix(b, gzipMagic); compressed != (name == "discover") {
			t.Errorf("%s: compressed %v", name, compressed)
		}
		if len(b) > 512<<10 {
			t.Errorf("%s: %d bytes", name, len(b))
		}
		var got Result
		if err := DecodeResult(b, &got); err != nil || !reflect.DeepEqual(&got, res) {
			t.Errorf("%s: decoded %v", name, err)
		}
	}
}

// A small message that decompresses past MaxResultBytes is refused, not read to the end.
func TestResultCodecRefusesBombs(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zeros := make([]byte, 1<<20)
	for range MaxResultBytes/len(zeros) + 1 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	var res Result
	if err := DecodeResult(buf.Bytes(), &res); !errors.Is(err, ErrResultTooLarge) {
		t.Errorf("decoded a bomb of %d bytes: %v", buf.Len(), err)
	}
}
