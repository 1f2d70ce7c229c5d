package awsproto

import "testing"

func BenchmarkTypedList(b *testing.B) {
	items := make([]typedItem, 25)
	for i := range items {
		items[i] = typedItem{Name: "arn:aws:imagebuilder:us-east-1:000000000000:workflow/build/bench-00/1.0.0/1", Opt: "BUILD", Count: 3, Flag: true, List: []string{"a", "b"}}
	}
	v := struct {
		Items []typedItem `json:"items"`
		Next  string      `json:"next,omitempty"`
	}{Items: items}
	buf := make([]byte, 0, 64<<10)
	b.Run("typed", func(b *testing.B) {
		for b.Loop() {
			buf, _ = appendTyped(buf[:0], v)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			buf, _ = marshalInto(buf[:0], v)
		}
	})
}
