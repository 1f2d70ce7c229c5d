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
