// Package pagetoken makes the opaque nextToken values of list operations.
// A token carries the list's scope (service, operation, caller, filters) and
// the cursor of the last item returned, authenticated with a server key, so
// a forged, altered or foreign token is recognised and refused.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/slipway-dev/slipway/internal/fault"
)

// ErrInvalid is returned for any token this codec did not issue for the scope.
var ErrInvalid = errors.New("pagetoken: invalid token")

// Codec issues and checks tokens with one key.
type Codec struct {
	key []byte
}

// New returns a codec keyed with key (at least 32 random bytes, kept in the
// store so tokens survive restarts and work across replicas).
func New(key []byte) *Codec {
	return &Codec{key: append([]byte(nil), key...)}
}

func (c *Codec) mac(scope, cursor string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write([]byte(cursor))
	return m.Sum(nil)[:18]
}

// Encode returns a token for resuming the list identified by scope after
// cursor.
func (c *Codec) Encode(scope, cursor string) string {
	enc := base64.RawURLEncoding.Strict()
	return enc.EncodeToString([]byte(cursor)) + "." + enc.EncodeToString(c.mac(scope, cursor))
}

// Cursor returns the cursor a list call resumes after: "" for no token, or
// an InvalidPaginationToken fault for a token not issued for scope.
func (c *Codec) Cursor(scope, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	cur, err := c.Decode(scope, token)
	if err != nil {
		return "", fault.New(fault.InvalidPaginationToken, "The pagination token is not valid for this request.")
	}
	return cur, nil
}

// Limit returns max, or def when the caller gave none.
func Limit(max, def int) int {
	if max <= 0 {
		return def
	}
	return max
}

// Decode returns the cursor in token, or ErrInvalid if token was not issued
// by this codec for scope.
func (c *Codec) Decode(scope, token string) (string, error) {
	enc := base64.RawURLEncoding.Strict()
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", ErrInvalid
	}
	cursor, err := enc.DecodeString(body)
	if err != nil {
		return "", ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac(scope, string(cursor))) {
		return "", ErrInvalid
	}
	return string(cursor), nil
}
