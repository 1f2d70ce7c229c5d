package awsproto

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// sameAsEncodingJSON fails unless appendJSON writes v byte for byte as
// encoding/json does (or both fail).
func sameAsEncodingJSON(t *testing.T, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := appendJSON(nil, v)
	if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("appendJSON(%#v) = %s, %v; encoding/json: %s, %v", v, got, gerr, want, werr)
	}
}

func TestAppendJSON(t *testing.T) {
	t.Parallel()
	for _, v := range []any{
		nil, "", "plain", "quote \" and \\ and <tag> & more", "tab\there\n", "ünïcödé \u2028", "\x7f", string([]byte{0xff, 'a'}),
		true, false, 0.0, math.Copysign(0, -1), 720.0, 1.7634e9, 1e15, 1e21, 1e-7, 1.5, -3.25, 12345678901234567.0,
		7, int64(-9), []any{}, []any(nil), map[string]any{}, map[string]any(nil),
		map[string]any{"b": 1.0, "a": []any{"x", map[string]any{"z": nil, "y": true}}, "é": "k"},
		map[string]string{"b": "2", "a": "1"}, []string{"x"}, struct{ A int }{3}, json.RawMessage(`{"a": 1}`),
		map[string]any{"bad": math.NaN()}, math.Inf(1),
	} {
		sameAsEncodingJSON(t, v)
	}
}

// FuzzAppendJSON decodes arbitrary JSON as encoding/json does into untyped
// values and checks both encoders agree on it.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{`{"image":{"arn":"arn:aws:x","state":{"status":"AVAILABLE"},"n":[1,2.5,-0,1e300],"t":null}}`,
		`["<>&", "\u2028", "a\"b", {"": {}}]`, `1e-7`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		sameAsEncodingJSON(t, v)
	})
}

type typedItem struct {
	Name     string            `json:"name"`
	Opt      string            `json:"opt,omitempty"`
	Count    int               `json:"count,omitempty"`
	Flag     bool              `json:"flag"`
	Ptr      *string           `json:"ptr,omitempty"`
	List     []string          `json:"list"`
	Tags     map[string]string `json:"tags,omitempty"`
	Any      any               `json:"any,omitempty"`
	Next     *typedItem        `json:"next,omitempty"`
	Skipped  string            `json:"-"`
	NoTag    uint16
	private  string
	Children []typedItem `json:"children,omitempty"`
}

type typedWithRaw struct {
	When json.RawMessage `json:"when"`
	N    float64         `json:"n"`
}

type typedFloats struct {
	A float64 `json:"a"`
	B float32 `json:"b,omitempty"`
	C []float64
}

type typedEmbedded struct {
	typedItem
	Extra string `json:"extra"`
}

// TestAppendTyped: typed values, those the typed encoders write and those
// left to encoding/json, come out as encoding/json writes them.
func TestAppendTyped(t *testing.T) {
	t.Parallel()
	s := "<p>"
	full := typedItem{Name: "a\"b", Opt: "x", Count: -3, Flag: true, Ptr: &s, List: []string{"ü", ""}, Tags: map[string]string{"z": "1", "a": "&"},
		Any: map[string]any{"k": []any{1.0, "v"}}, Next: &typedItem{Name: "n"}, Skipped: "no", NoTag: 7, private: "p",
		Children: []typedItem{{Name: "c", List: []string{}}}}
	for _, v := range []any{
		typedItem{}, full, &full, []typedItem{full, {}}, []*typedItem{nil, &full}, map[string]any{"items": []typedItem{full}},
		typedWithRaw{When: json.RawMessage(`"2026"`), N: 1.5}, typedFloats{A: 1.7634e9, B: 1e-7, C: []float64{0, -0.0, 1e21, 1e-7, 123.456, 5e-324, 1.7976931348623157e308}},
		typedFloats{A: math.NaN()}, typedFloats{B: float32(math.Inf(-1))}, typedFloats{A: 1e20, B: 3.4e38}, typedEmbedded{typedItem: full, Extra: "e"}, []byte("bytes"),
		struct {
			A int `json:"a,string"`
		}{4}, struct {
			A int `json:"a,omitzero"`
		}{0},
	} {
		sameAsEncodingJSON(t, v)
	}
	// The wire types' kind is written by the typed encoders, the rest is not.
	for _, c := range []struct {
		v     any
		typed bool
	}{{typedItem{}, true}, {&typedItem{}, true}, {typedWithRaw{}, false}, {typedFloats{}, true}, {typedEmbedded{}, false}} {
		if got := buildEncoder(reflect.TypeOf(c.v)).(*typeEncoder).fn != nil; got != c.typed {
			t.Errorf("%T written by typed encoders: %v, want %v", c.v, got, c.typed)
		}
	}
}

// FuzzTypedFloats checks the typed encoders' numbers against encoding/json.
func FuzzTypedFloats(f *testing.F) {
	f.Add(1.5, float32(1e-7), int64(-3))
	f.Add(1e21, float32(3.4e38), int64(0))
	f.Fuzz(func(t *testing.T, a float64, b float32, n int64) {
		sameAsEncodingJSON(t, typedFloats{A: a, B: b, C: []float64{float64(n), a / 3}})
	})
}
