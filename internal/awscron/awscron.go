// Package awscron parses Image Builder schedule expressions, the six-field
// cron(Minutes Hours Day-of-month Month Day-of-week Year) form with ? L W #,
// and rate(N unit), and computes when they next match in a time zone.
package awscron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed expression.
type Schedule struct {
	rate    time.Duration // for rate(...) expressions
	minute  field
	hour    field
	dom     field
	month   field
	dow     field
	year    field
	domLast bool // L in day-of-month
	domLW   bool // LW
	domW    int  // nW: nearest weekday to day n (0 = unused)
	dowLast int  // nL: last weekday n of the month (1-7, 0 = unused)
	dowNth  [2]int
}

type field struct {
	any  bool // * or ?
	bits uint64
	yrs  map[int]bool
}

func (f field) has(v int) bool {
	if f.any {
		return true
	}
	if f.yrs != nil {
		return f.yrs[v]
	}
	return f.bits&(1<<uint(v)) != 0
}

var (
	months = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	days   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

// Parse parses "cron(...)" or "rate(...)".
func Parse(expr string) (*Schedule, error) {
	switch {
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expr[5 : len(expr)-1])
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(expr[5 : len(expr)-1])
	}
	return nil, fmt.Errorf("the expression must be cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) or rate(<value> <unit>)")
}

func parseRate(s string) (*Schedule, error) {
	parts := strings.Split(s, " ")
	if len(parts) != 2 {
		return nil, fmt.Errorf("rate expressions are rate(<value> <unit>)")
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("the rate value must be a positive integer")
	}
	unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[parts[1]]
	if unit == 0 || (n == 1) != !strings.HasSuffix(parts[1], "s") {
		return nil, fmt.Errorf("the rate unit must be minute, hour or day (singular for 1, plural otherwise)")
	}
	return &Schedule{rate: time.Duration(n) * unit}, nil
}

func parseCron(s string) (*Schedule, error) {
	f := strings.Split(s, " ")
	if len(f) != 6 {
		return nil, fmt.Errorf("cron expressions need exactly six fields separated by single spaces: minutes hours day-of-month month day-of-week year")
	}
	sc := &Schedule{}
	var err error
	if sc.minute, err = parseField(f[0], 0, 59, nil, "minutes"); err != nil {
		return nil, err
	}
	if sc.hour, err = parseField(f[1], 0, 23, nil, "hours"); err != nil {
		return nil, err
	}
	if sc.month, err = parseField(f[3], 1, 12, months, "month"); err != nil {
		return nil, err
	}
	if sc.year, err = parseField(f[5], 1970, 2199, nil, "year"); err != nil {
		return nil, err
	}
	domQ, dowQ := f[2] == "?", f[4] == "?"
	if domQ == dowQ {
		return nil, fmt.Errorf("exactly one of day-of-month and day-of-week must be '?'")
	}
	if domQ {
		sc.dom = field{any: true}
		if err := sc.parseDow(f[4]); err != nil {
			return nil, err
		}
	} else {
		sc.dow = field{any: true}
		if err := sc.parseDom(f[2]); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func (sc *Schedule) parseDom(s string) error {
	switch {
	case s == "L":
		sc.domLast = true
		return nil
	case s == "LW":
		sc.domLW = true
		return nil
	case strings.HasSuffix(s, "W"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "W"))
		if err != nil || n < 1 || n > 31 {
			return fmt.Errorf("day-of-month %q: W needs a day 1-31 before it", s)
		}
		sc.domW = n
		return nil
	}
	var err error
	sc.dom, err = parseField(s, 1, 31, nil, "day-of-month")
	return err
}

func (sc *Schedule) parseDow(s string) error {
	upper := strings.ToUpper(s)
	if i := strings.IndexByte(upper, '#'); i >= 0 {
		d, err := value(upper[:i], 1, 7, days)
		n, err2 := strconv.Atoi(upper[i+1:])
		if err != nil || err2 != nil || n < 1 || n > 5 {
			return fmt.Errorf("day-of-week %q: use <day>#<1-5>", s)
		}
		sc.dowNth = [2]int{d, n}
		return nil
	}
	if upper == "L" {
		sc.dowLast = 7
		return nil
	}
	if strings.HasSuffix(upper, "L") {
		d, err := value(strings.TrimSuffix(upper, "L"), 1, 7, days)
		if err != nil {
			return fmt.Errorf("day-of-week %q: use <day>L", s)
		}
		sc.dowLast = d
		return nil
	}
	var err error
	sc.dow, err = parseField(s, 1, 7, days, "day-of-week")
	return err
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not between %d and %d", s, lo, hi)
	}
	return n, nil
}

func parseField(s string, lo, hi int, names map[string]int, what string) (field, error) {
	if s == "*" {
		return field{any: true}, nil
	}
	if s == "?" {
		return field{}, fmt.Errorf("%s: '?' is only allowed in day-of-month or day-of-week", what)
	}
	var f field
	if hi > 63 {
		f.yrs = map[int]bool{}
	}
	set := func(v int) {
		if f.yrs != nil {
			f.yrs[v] = true
		} else {
			f.bits |= 1 << uint(v)
		}
	}
	for _, item := range strings.Split(s, ",") {
		base, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return f, fmt.Errorf("%s: step %q must be a positive integer", what, stepStr)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case base == "*":
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			var err error
			if from, err = value(a, lo, hi, names); err != nil {
				return f, fmt.Errorf("%s: %v", what, err)
			}
			if to, err = value(b, lo, hi, names); err != nil {
				return f, fmt.Errorf("%s: %v", what, err)
			}
			if from > to {
				return f, fmt.Errorf("%s: range %q runs backwards", what, base)
			}
		default:
			v, err := value(base, lo, hi, names)
			if err != nil {
				return f, fmt.Errorf("%s: %v", what, err)
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		for v := from; v <= to; v += step {
			set(v)
		}
	}
	return f, nil
}

// maxScanDays bounds the search for the next match.
const maxScanDays = 366 * 30

// Next returns the first time strictly after t at which the schedule fires,
// evaluated in loc, or the zero time if it never fires again.
func (sc *Schedule) Next(t time.Time, loc *time.Location) time.Time {
	if sc.rate > 0 {
		return t.Add(sc.rate).Truncate(time.Minute)
	}
	t = t.In(loc).Truncate(time.Minute).Add(time.Minute)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	for i := 0; i < maxScanDays; i++ {
		if sc.dayMatches(day) {
			for h := 0; h < 24; h++ {
				if !sc.hour.has(h) {
					continue
				}
				for m := 0; m < 60; m++ {
					if !sc.minute.has(m) {
						continue
					}
					c := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
					if !c.Before(t) && c.Hour() == h {
						return c
					}
				}
			}
		}
		day = day.AddDate(0, 0, 1)
		if day.Year() > 2199 {
			break
		}
	}
	return time.Time{}
}

func (sc *Schedule) dayMatches(d time.Time) bool {
	if !sc.year.has(d.Year()) || !sc.month.has(int(d.Month())) {
		return false
	}
	last := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, d.Location()).Day()
	dom, dow := d.Day(), int(d.Weekday())+1
	switch {
	case sc.domLast:
		return dom == last
	case sc.domLW:
		return dom == nearestWeekday(d, last, last)
	case sc.domW > 0:
		target := sc.domW
		if target > last {
			target = last
		}
		return dom == nearestWeekday(d, target, last)
	case sc.dowLast > 0:
		return dow == sc.dowLast && dom+7 > last
	case sc.dowNth[0] > 0:
		return dow == sc.dowNth[0] && (dom-1)/7+1 == sc.dowNth[1]
	}
	return sc.dom.has(dom) && sc.dow.has(dow)
}

// nearestWeekday returns the weekday closest to day target of d's month,
// without leaving the month.
func nearestWeekday(d time.Time, target, last int) int {
	t := time.Date(d.Year(), d.Month(), target, 0, 0, 0, 0, d.Location())
	switch t.Weekday() {
	case time.Saturday:
		if target == 1 {
			return 3
		}
		return target - 1
	case time.Sunday:
		if target == last {
			return target - 2
		}
		return target + 1
	}
	return target
}
