// Package selfcheck tells code that keeps a fast path beside a slow,
// obviously right one whether to compare the two on every use: under
// `go test`, unless benchmarks were asked for (they would measure both).
package selfcheck

import (
	"flag"
	"sync"
	"testing"
)

// On reports whether fast paths should be checked against their slow
// twins. Flags are parsed by the time it is first called from a test.
var On = sync.OnceValue(func() bool {
	if !testing.Testing() {
		return false
	}
	f := flag.Lookup("test.bench")
	return f == nil || f.Value.String() == ""
})
