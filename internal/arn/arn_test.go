package arn

import "testing"

func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"arn:aws:imagebuilder:us-east-1:123456789012:workflow/build/my-flow/1.0.0/1",
		"arn:aws:transfer:eu-west-1:000000000000:workflow/w-0123456789abcdef0",
		"arn:aws-cn:iam::123456789012:role/a:b",
	} {
		a, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if a.String() != s {
			t.Fatalf("round trip %q -> %q", s, a.String())
		}
	}
	for _, s := range []string{"", "arn", "arn:aws:svc:r:a", "xarn:aws:s:r:a:res", "arn::s:r:a:res", "arn:aws:s:r:a:"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	if got := NormalizeName("Ubuntu-2004 with_Latest SSM"); got != "ubuntu-2004-with-latest-ssm" {
		t.Fatalf("got %q", got)
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	good := map[string]string{"1.0.0": "1.0.0", "1.2.x": "1.2.x", "1.x.x": "1.x.x", "x.x.x": "x.x.x", "1073741823.0.0": "1073741823.0.0"}
	for in, want := range good {
		v, err := ParseWildcard(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseWildcard(%q) = %v, %v", in, v, err)
		}
	}
	for _, in := range []string{"x.2.x", "1.x.8", "1.0", "1.0.0.0", "a.b.c", "1073741824.0.0", "-1.0.0", "+1.0.0", ""} {
		if _, err := ParseWildcard(in); err == nil {
			t.Errorf("ParseWildcard(%q) succeeded", in)
		}
	}
	if _, err := ParseVersion("1.x.x"); err == nil {
		t.Error("ParseVersion accepted a wildcard")
	}
	p, _ := ParseWildcard("1.x.x")
	if !p.Matches(Version{1, 4, 2}) || p.Matches(Version{2, 0, 0}) {
		t.Error("Matches")
	}
	a, b := Version{1, 10, 0}, Version{1, 9, 0}
	if a.Compare(b) != 1 || a.SortKey() <= b.SortKey() {
		t.Error("ordering")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"arn:aws:imagebuilder:us-east-1:123456789012:workflow/build/x/1.0.0/1", "arn:aws:s3:::bucket", "arn:::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		b, err := Parse(a.String())
		if err != nil || b != a {
			t.Fatalf("re-parse of %q: %v %v", a.String(), b, err)
		}
	})
}

func FuzzParseWildcard(f *testing.F) {
	for _, s := range []string{"1.0.0", "x.x.x", "1.x.x", "99.1.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseWildcard(s)
		if err != nil {
			return
		}
		w, err := ParseWildcard(v.String())
		if err != nil || w != v {
			t.Fatalf("re-parse of %q: %v %v", v.String(), w, err)
		}
	})
}
