package s3api

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Payload modes of x-amz-content-sha256.
const (
	unsigned               = "UNSIGNED-PAYLOAD"
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256            = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	maxChunk               = 16 << 20
)

var errDigest = &s3Error{400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}

// payloadReader is a request body as the client meant it: aws-chunked
// bodies decoded (and their chunk signatures checked), plain bodies checked
// against their declared SHA-256 once read.
type payloadReader struct {
	r    io.Reader
	sum  hash.Hash
	want string
}

func (p *payloadReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// verify reports a body whose digest is not the one signed; call it after
// reading the whole body and before making anything visible.
func (p *payloadReader) verify() error {
	if p.sum == nil {
		return nil
	}
	_, _ = io.Copy(io.Discard, p.r)
	if hex.EncodeToString(p.sum.Sum(nil)) != p.want {
		return errDigest
	}
	return nil
}

func (s *Server) payload(r *http.Request) (*payloadReader, error) {
	mode := r.Header.Get("X-Amz-Content-Sha256")
	switch mode {
	case unsigned:
		return &payloadReader{r: r.Body}, nil
	case streamingSigned, streamingSignedTrailer, streamingUnsigned:
		cr := &chunkReader{br: bufio.NewReaderSize(r.Body, 64<<10), trailer: mode != streamingSigned}
		if mode != streamingUnsigned {
			key, a, err := s.verifier.SigningKey(r)
			if err != nil {
				return nil, err
			}
			cr.key, cr.prev, cr.date, cr.scope = key, a.Signature, r.Header.Get("X-Amz-Date"), a.Scope()
		}
		return &payloadReader{r: cr}, nil
	}
	if len(mode) != 64 {
		return nil, &s3Error{400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a hex SHA-256."}
	}
	p := &payloadReader{sum: sha256.New(), want: strings.ToLower(mode)}
	p.r = io.TeeReader(r.Body, p.sum)
	return p, nil
}

// chunkReader decodes aws-chunked: "<hex size>[;chunk-signature=<sig>]\r\n
// <data>\r\n" until a zero-size chunk, then optional trailers.
type chunkReader struct {
	br      *bufio.Reader
	trailer bool
	// Set for signed chunks: each chunk's signature chains from the previous.
	key               []byte
	prev, date, scope string
	buf               []byte
	done              bool
	err               error
}

var errChunk = &s3Error{400, "IncompleteBody", "The request body is not valid aws-chunked encoding."}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		c.err = c.next()
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) next() error {
	line, err := c.br.ReadString('\n')
	if err != nil {
		return errChunk
	}
	line = strings.TrimRight(line, "\r\n")
	sizeText, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if err != nil || size < 0 || size > maxChunk {
		return errChunk
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return errChunk
	}
	if c.key != nil {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok || !c.check(sig, data) {
			return &s3Error{403, "SignatureDoesNotMatch", "The chunk signature does not match."}
		}
	}
	if size == 0 {
		c.done = true
		return c.trailers()
	}
	if crlf, err := c.br.ReadString('\n'); err != nil || strings.TrimRight(crlf, "\r\n") != "" {
		return errChunk
	}
	c.buf = data
	return nil
}

func (c *chunkReader) check(sig string, data []byte) bool {
	sum := sha256.Sum256(data)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.date + "\n" + c.scope + "\n" + c.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(sts))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return false
	}
	c.prev = sig
	return true
}

// trailers reads what follows the last chunk. Checksum trailers are
// accepted as sent; the object's ETag is Slipway's own MD5.
func (c *chunkReader) trailers() error {
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && strings.TrimSpace(line) == "" {
				return nil
			}
			return errChunk
		}
		if strings.TrimRight(line, "\r\n") == "" {
			return nil
		}
		if !c.trailer {
			return errChunk
		}
	}
}
