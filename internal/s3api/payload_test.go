package s3api

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

func TestChunkReaderUnsigned(t *testing.T) {
	body := "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
	cr := &chunkReader{br: bufio.NewReader(strings.NewReader(body)), trailer: true}
	b, err := io.ReadAll(cr)
	if err != nil || string(b) != "hello world" {
		t.Fatalf("%q %v", b, err)
	}
	for _, bad := range []string{"zz\r\nhello\r\n0\r\n\r\n", "5\r\nhel", "5\r\nhelloXX0\r\n\r\n", "ffffffff\r\n"} {
		cr := &chunkReader{br: bufio.NewReader(strings.NewReader(bad)), trailer: true}
		if _, err := io.ReadAll(cr); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func FuzzChunkReader(f *testing.F) {
	f.Add("5\r\nhello\r\n0\r\n\r\n")
	f.Add("3;chunk-signature=abc\r\nabc\r\n0;chunk-signature=def\r\n\r\n")
	f.Add("0\r\nx-amz-checksum-sha256:abc\r\nx-amz-trailer-signature:00\r\n\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		cr := &chunkReader{br: bufio.NewReader(strings.NewReader(body)), trailer: true}
		b, err := io.ReadAll(io.LimitReader(cr, 1<<20))
		if err == nil && len(b) > len(body) {
			t.Fatalf("decoded %d bytes from %d", len(b), len(body))
		}
		signed := &chunkReader{br: bufio.NewReader(strings.NewReader(body)), key: []byte("k"), prev: "seed", date: "20260101T000000Z", scope: "20260101/us-east-1/s3/aws4_request"}
		if b, err := io.ReadAll(io.LimitReader(signed, 1<<20)); err == nil && len(b) > 0 {
			t.Fatalf("unsigned data passed signature checks: %q", b)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=5-", "bytes=-3", "bytes=9-1", "bytes=a-b", "bytes=0-1,2-3"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size <= 0 {
			return
		}
		s, e, ok := parseRange(h, size)
		if ok && (s < 0 || e >= size || s > e) {
			t.Fatalf("%q size %d gave %d-%d", h, size, s, e)
		}
	})
}
