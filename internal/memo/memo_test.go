package memo

import (
	"encoding/json"
	"fmt"
	"testing"
)

type item struct {
	Name string
	List []string
}

func decodeItem(b []byte) (item, error) {
	var it item
	return it, json.Unmarshal(b, &it)
}

// same tells whether two decoded items are one remembered value (a fresh
// decode has its own list).
func same(a, b item) bool { return len(a.List) > 0 && len(b.List) > 0 && &a.List[0] == &b.List[0] }

func TestDecodeRemembersByBytes(t *testing.T) {
	t.Parallel()
	d := New(1<<20, decodeItem)
	a := []byte(`{"Name":"a","List":["x"]}`)
	first, err := d.Decode(a)
	if err != nil || first.Name != "a" {
		t.Fatalf("%+v %v", first, err)
	}
	again, err := d.Decode(append([]byte(nil), a...)) // equal bytes, another buffer
	if err != nil || !same(first, again) {
		t.Fatalf("equal bytes decoded again: %+v %v", again, err)
	}
	// Changed bytes are another entry.
	b := append([]byte(nil), a...)
	b[9] = 'b'
	if it, _ := d.Decode(b); it.Name != "b" || same(it, first) {
		t.Fatalf("%+v", it)
	}
	if _, err := d.Decode([]byte(`{`)); err == nil || d.Len() != 2 {
		t.Fatalf("a bad input: %v, %d entries", err, d.Len())
	}
}

func TestDecodeStaysWithinBudget(t *testing.T) {
	t.Parallel()
	d := New(1000, decodeItem)
	in := func(i int) []byte { return fmt.Appendf(nil, `{"Name":"%08d","List":["x"]}`, i) }
	var last item
	for i := range 1000 {
		var err error
		if last, err = d.Decode(in(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Each input is 32 bytes: two generations of at most 1000 bytes.
	if got := d.Len(); got > 2*(1000/32+1) {
		t.Fatalf("%d entries held", got)
	}
	if it, _ := d.Decode(in(999)); !same(it, last) {
		t.Fatal("the most recent entry was dropped")
	}
	if it, _ := d.Decode(in(0)); it.Name != "00000000" {
		t.Fatalf("%+v", it)
	}
}

func TestChangedSharedValuePanicsUnderTest(t *testing.T) {
	t.Parallel()
	if !checking() {
		t.Fatal("hits are not checked under go test")
	}
	d := New(1<<20, decodeItem)
	b := []byte(`{"Name":"a","List":["x"]}`)
	it, _ := d.Decode(b)
	it.List[0] = "changed" // the mistake the check exists for
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a changed shared value")
		}
	}()
	_, _ = d.Decode(b)
}

func BenchmarkDecodeHit(b *testing.B) {
	d := New(1<<20, decodeItem)
	in := []byte(`{"Name":"a-fairly-ordinary-name","List":["one","two","three"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeByArray: the same bytes read again from the same array are
// found by the array, and arrays count against the budget, however many
// copies of equal bytes arrive.
func TestDecodeByArray(t *testing.T) {
	t.Parallel()
	d := New(1000, decodeItem)
	a := []byte(`{"Name":"a","List":["x"]}`)
	first, _ := d.Decode(a)
	if again, _ := d.Decode(a); !same(first, again) {
		t.Fatal("the same array decoded again")
	}
	if _, ok := d.curArr[array{&a[0], len(a)}]; !ok {
		t.Fatal("the array is not remembered")
	}
	for range 1000 {
		if it, _ := d.Decode(append([]byte(nil), a...)); it.Name != "a" {
			t.Fatalf("%+v", it)
		}
	}
	if n := len(d.curArr) + len(d.oldArr); n > 2*(1000/len(a)+1) {
		t.Fatalf("%d arrays held", n)
	}
}
