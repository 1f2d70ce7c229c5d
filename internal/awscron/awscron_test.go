package awscron

import (
	"testing"
	"time"
)

func TestParseAndNext(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	from := time.Date(2026, 11, 21, 10, 30, 0, 0, utc) // a Saturday
	cases := []struct{ expr, want string }{
		{"cron(0 10 * * ? *)", "2026-11-22T10:00"},
		{"cron(0 10 ? * 2-6 *)", "2026-11-23T10:00"},         // next Monday
		{"cron(0 10 ? * MON-FRI *)", "2026-11-23T10:00"},     // names
		{"cron(30 22 ? * tue#2 *)", "2026-12-08T22:30"},      // second Tuesday of December
		{"cron(15 10 ? * 6L 2026-2030)", "2026-11-27T10:15"}, // last Friday
		{"cron(0 12 L * ? *)", "2026-11-30T12:00"},
		{"cron(0 12 LW * ? *)", "2026-11-30T12:00"},
		{"cron(0 12 1W * ? *)", "2026-12-01T12:00"},
		{"cron(0/15 * * * ? *)", "2026-11-21T10:45"},
		{"cron(0 0 1 JAN ? 2027)", "2027-01-01T00:00"},
		{"cron(5,35 10 21 11 ? *)", "2026-11-21T10:35"},
		{"rate(1 day)", "2026-11-22T10:30"},
		{"rate(12 hours)", "2026-11-21T22:30"},
	}
	for _, tc := range cases {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := s.Next(from, utc).Format("2006-01-02T15:04"); got != tc.want {
			t.Errorf("%s: next %s, want %s", tc.expr, got, tc.want)
		}
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, _ := Parse("cron(0 9 * * ? *)")
	if got := s.Next(from, berlin).UTC().Format("15:04"); got != "08:00" {
		t.Errorf("time zone: %s", got)
	}
	never, _ := Parse("cron(0 0 1 1 ? 1999)")
	if !never.Next(from, utc).IsZero() {
		t.Error("a past-only schedule fires")
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"0 10 * * ? *", "cron(0 10 * * *)", "cron(0 10 * * ? * *)", "cron(0  10 * * ? *)",
		"cron(0 10 * * 1 *)", "cron(0 10 ? * ? *)", "cron(60 10 * * ? *)", "cron(0 24 * * ? *)",
		"cron(0 10 32 * ? *)", "cron(0 10 ? * 8 *)", "cron(0 10 ? * 2#6 *)", "cron(0 10 * 13 ? *)",
		"cron(0 10 * * ? 2200)", "cron(0 10 5-1 * ? *)", "cron(0/0 10 * * ? *)", "cron(? 10 * * ? *)",
		"rate(0 days)", "rate(1 days)", "rate(2 day)", "rate(5 weeks)", "rate(five minutes)",
	} {
		if _, err := Parse(expr); err == nil {
			t.Errorf("%q accepted", expr)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"cron(0 10 * * ? *)", "cron(30 22 ? * tue#2 *)", "cron(0 12 LW * ? *)", "rate(5 minutes)"} {
		f.Add(s)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := Parse(s)
		if err != nil {
			return
		}
		if n := sc.Next(from, time.UTC); !n.IsZero() && !n.After(from) {
			t.Fatalf("next %v is not after %v", n, from)
		}
	})
}

// FuzzNextAgainstReference checks Next against a brute-force reference that
// walks real instants minute by minute over a bounded window, in a zone
// with DST changes: the first instant whose wall-clock minute, hour and day
// match is the one Next must return.
func FuzzNextAgainstReference(f *testing.F) {
	for _, s := range []string{"cron(0 10 ? * MON-FRI *)", "cron(30 2 * * ? *)", "cron(*/15 1-3 ? * SUN *)", "cron(0 12 L * ? *)",
		"cron(0 8 ? * 2#1 *)", "cron(45 23 1W * ? *)", "cron(0 0 ? * 6L *)", "cron(5 * * 3,11 ? 2027)"} {
		f.Add(s, uint32(0))
		f.Add(s, uint32(97_000)) // around the March 2026 change
		f.Add(s, uint32(440_000))
	}
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Skip(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const window = 10 * 24 * 60 // minutes
	f.Fuzz(func(t *testing.T, expr string, offset uint32) {
		sc, err := Parse(expr)
		if err != nil || sc.rate > 0 {
			return
		}
		from := base.Add(time.Duration(offset%(2*366*24*60)) * time.Minute).Add(17 * time.Second)
		got := sc.Next(from, loc)
		var want time.Time
		for m := time.Duration(1); m <= window; m++ {
			c := from.Truncate(time.Minute).Add(m * time.Minute).In(loc)
			if sc.minute.has(c.Minute()) && sc.hour.has(c.Hour()) && sc.dayMatches(c) {
				want = c
				break
			}
		}
		switch {
		case want.IsZero():
			if !got.IsZero() && got.Before(from.Add(window*time.Minute)) {
				t.Fatalf("%s from %v: Next %v, but the reference finds no match in the window", expr, from, got)
			}
		case !got.Equal(want):
			t.Fatalf("%s from %v: Next %v, reference %v", expr, from, got, want)
		}
	})
}
