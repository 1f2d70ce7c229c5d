package imagebuilder

import (
	"testing"
	"time"
)

// FuzzFormatTime checks the hand-written formatter against time.Format.
func FuzzFormatTime(f *testing.F) {
	for _, s := range []int64{0, -1, 1_700_000_000_123_456_789, 253402300799_999_999, -62135596800_000_000} {
		f.Add(s/1e9, s%1e9)
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("x", 3600*5+1800))
		if got, want := FormatTime(tm), tm.UTC().Format(timeLayout); got != want {
			t.Fatalf("FormatTime(%v) = %q, want %q", tm, got, want)
		}
	})
}
