// Package epoch is the JSON protocols' timestamp: seconds since the Unix
// epoch as a number, with milliseconds.
package epoch

import (
	"strconv"
	"time"
)

// Time travels as epoch seconds.
type Time time.Time

// MarshalJSON writes seconds since the epoch (with milliseconds).
func (e Time) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads epoch seconds.
func (e *Time) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*e = Time(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

// Of returns t as an epoch time, or nil for the zero time.
func Of(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	e := Time(t.UTC().Truncate(time.Millisecond))
	return &e
}
