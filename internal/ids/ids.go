// Package ids makes the random identifiers AWS resources carry: UUIDs
// (request IDs, execution IDs) and lowercase hex suffixes (i-…, ami-…, w-…).
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// UUID returns a random version 4 UUID in lowercase.
func UUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Hex returns n random lowercase hex digits.
func Hex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
