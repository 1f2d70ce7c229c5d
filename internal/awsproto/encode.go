package awsproto

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// appendJSON appends v encoded exactly as encoding/json encodes it. The
// untyped documents Image Builder answers with (maps of maps, slices and
// scalars) are written directly: encoding/json sorts each map's keys
// through reflection, which was a fifth of a GetImage. Anything else, and
// any string or number whose encoding is not plain, is handed to
// encoding/json, so the output never differs (FuzzAppendJSON checks).
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.AppendFloat(b, x, 'f', -1, 64), nil
		}
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendString(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = appendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return appendTyped(b, v)
}

// marshalInto appends v as json.Marshal encodes it, without Marshal's own
// copy of the result (a list page is kilobytes).
func marshalInto(b []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // Encode ends with a newline
}

// plainByte tells the bytes encoding/json writes as they are: printable
// ASCII but the quote, the backslash and the HTML characters it escapes.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// plain tells a string encoding/json writes as it is, between quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// appendString writes s quoted when it needs no escaping (printable ASCII
// without the characters encoding/json escapes), and lets encoding/json
// write it otherwise.
func appendString(b []byte, s string) ([]byte, error) {
	if !plain(s) {
		enc, err := json.Marshal(s)
		return append(b, enc...), err
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
