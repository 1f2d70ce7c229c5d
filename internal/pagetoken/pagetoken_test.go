package pagetoken

import "testing"

func TestRoundTripAndForgery(t *testing.T) {
	t.Parallel()
	c := New([]byte("0123456789abcdef0123456789abcdef"))
	tok := c.Encode("ib/ListWorkflows/000000000000/us-east-1", "name\x00000001")
	cur, err := c.Decode("ib/ListWorkflows/000000000000/us-east-1", tok)
	if err != nil || cur != "name\x00000001" {
		t.Fatalf("decode: %q %v", cur, err)
	}
	if _, err := c.Decode("ib/ListWorkflows/111111111111/us-east-1", tok); err == nil {
		t.Fatal("token accepted for another scope")
	}
	other := New([]byte("another key another key another!!"))
	if _, err := other.Decode("ib/ListWorkflows/000000000000/us-east-1", tok); err == nil {
		t.Fatal("token accepted under another key")
	}
	for i := range tok {
		b := []byte(tok)
		b[i] ^= 1
		if _, err := c.Decode("ib/ListWorkflows/000000000000/us-east-1", string(b)); err == nil {
			t.Fatalf("token with byte %d flipped accepted", i)
		}
	}
	for _, bad := range []string{"", ".", "abc", "abc.def", "!!.??"} {
		if _, err := c.Decode("s", bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
