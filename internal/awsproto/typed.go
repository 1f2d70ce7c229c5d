package awsproto

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/slipway-dev/slipway/internal/selfcheck"
)

// The typed responses (structs of strings, numbers, booleans, slices and
// pointers, as the handlers' wire types are) are written by encoders built
// once per Go type, straight into the response buffer. encoding/json
// encoded a 25-item list page into a buffer of its own and copied it, and
// its reflection walk was a sixth of a ListServers page. A type with
// anything this does not write exactly as encoding/json does (a Marshaler
// or TextMarshaler anywhere in it, embedded fields, the ",string" option,
// maps other than map[string]string and map[string]any, arrays, byte
// slices) is handed to encoding/json whole, so output never differs;
// under go test every typed encoding is compared with encoding/json's and
// a difference panics.

type encodeFunc func(b []byte, v reflect.Value) ([]byte, error)

// typeEncoder is one type's encoder; fn is nil when the type is left to
// encoding/json.
type typeEncoder struct {
	fn encodeFunc
}

var (
	encodersMu sync.Mutex
	encoders   sync.Map // reflect.Type -> *typeEncoder
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// appendTyped appends v (not an untyped document) as encoding/json would.
func appendTyped(b []byte, v any) ([]byte, error) {
	t := reflect.TypeOf(v)
	e, ok := encoders.Load(t)
	if !ok {
		e = buildEncoder(t)
	}
	fn := e.(*typeEncoder).fn
	if fn == nil {
		return marshalInto(b, v)
	}
	start := len(b)
	out, err := fn(b, reflect.ValueOf(v))
	if selfcheck.On() {
		want, werr := json.Marshal(v)
		if (err != nil) != (werr != nil) || err == nil && !bytes.Equal(out[start:], want) {
			panic(fmt.Sprintf("awsproto: typed encoding of %T differs from encoding/json:\n%s (%v)\n%s (%v)", v, out[start:], err, want, werr))
		}
	}
	return out, err
}

func buildEncoder(t reflect.Type) any {
	encodersMu.Lock()
	defer encodersMu.Unlock()
	if e, ok := encoders.Load(t); ok {
		return e
	}
	b := &planner{building: map[reflect.Type]*typeEncoder{}}
	e := b.encoder(t)
	if b.unsupported {
		e = &typeEncoder{}
	}
	e2, _ := encoders.LoadOrStore(t, e)
	return e2
}

// planner builds the encoders of a type and of the types it contains; one
// unsupported type anywhere leaves the whole to encoding/json.
type planner struct {
	building    map[reflect.Type]*typeEncoder
	unsupported bool
}

func (p *planner) encoder(t reflect.Type) *typeEncoder {
	if e, ok := p.building[t]; ok {
		return e // recursive types resolve once built
	}
	e := &typeEncoder{}
	p.building[t] = e
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		p.unsupported = true
		return e
	}
	switch t.Kind() {
	case reflect.String:
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) { return appendString(b, v.String()) }
	case reflect.Bool:
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendBool(b, v.Bool()), nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendInt(b, v.Int(), 10), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendUint(b, v.Uint(), 10), nil }
	case reflect.Float32, reflect.Float64:
		bits := t.Bits()
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) { return appendFloat(b, v.Float(), bits) }
	case reflect.Interface:
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(b, "null"...), nil
			}
			return appendJSON(b, v.Interface())
		}
	case reflect.Pointer:
		elem := p.encoder(t.Elem())
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(b, "null"...), nil
			}
			return elem.fn(b, v.Elem())
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p.unsupported = true // base64
			return e
		}
		elem := p.encoder(t.Elem())
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(b, "null"...), nil
			}
			b = append(b, '[')
			var err error
			for i := range v.Len() {
				if i > 0 {
					b = append(b, ',')
				}
				if b, err = elem.fn(b, v.Index(i)); err != nil {
					return nil, err
				}
			}
			return append(b, ']'), nil
		}
	case reflect.Map:
		if t.Key() != reflect.TypeFor[string]() || (t.Elem() != reflect.TypeFor[string]() && t.Elem() != reflect.TypeFor[any]()) {
			p.unsupported = true
			return e
		}
		// The untyped encoder sorts and writes both kinds.
		e.fn = func(b []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return append(b, "null"...), nil
			}
			if m, ok := v.Interface().(map[string]string); ok {
				return appendStringMap(b, m)
			}
			return appendJSON(b, v.Interface())
		}
	case reflect.Struct:
		e.fn = p.structEncoder(t)
	default:
		p.unsupported = true
	}
	return e
}

type fieldPlan struct {
	index     int
	key       []byte // `"name":`
	omitEmpty bool
	kind      reflect.Kind
	enc       *typeEncoder
}

func (p *planner) structEncoder(t reflect.Type) encodeFunc {
	var fields []fieldPlan
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			p.unsupported = true // promotion rules: left to encoding/json
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		omit := false
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "":
			case "omitempty":
				omit = true
			default:
				p.unsupported = true // ",string", "omitzero" and unknown options
				return nil
			}
		}
		if seen[name] || !plain(name) {
			p.unsupported = true // duplicate names cancel out in encoding/json
			return nil
		}
		seen[name] = true
		key, _ := appendString(nil, name)
		fields = append(fields, fieldPlan{index: i, key: append(key, ':'), omitEmpty: omit, kind: f.Type.Kind(), enc: p.encoder(f.Type)})
	}
	return func(b []byte, v reflect.Value) ([]byte, error) {
		b = append(b, '{')
		first := true
		var err error
		for i := range fields {
			f := &fields[i]
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(f.kind, fv) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, f.key...)
			if b, err = f.enc.fn(b, fv); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(k reflect.Kind, v reflect.Value) bool {
	switch k {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return false
}

func appendStringMap(b []byte, m map[string]string) ([]byte, error) {
	doc := make(map[string]any, len(m))
	for k, v := range m {
		doc[k] = v
	}
	return appendJSON(b, doc)
}

// appendFloat writes f as encoding/json does: the shortest decimal form,
// in exponent form below 1e-6 and from 1e21 on, with a one-digit negative
// exponent unpadded. NaN and infinities get encoding/json's error.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return marshalInto(b, f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
