package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var (
	testCred = Credential{AccessKeyID: "AKIDEXAMPLE", Secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Account: "123456789012"}
	fixedNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
)

// signed builds the request a server receives for a request the SDK signer
// signed at signedAt.
func signed(t testing.TB, method, target string, headers map[string]string, body []byte, service string, signedAt time.Time) *http.Request {
	t.Helper()
	client, err := http.NewRequest(method, "http://slipway.test"+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		client.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testCred.AccessKeyID, SecretAccessKey: testCred.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, client, hex.EncodeToString(sum[:]), service, "eu-west-1", signedAt); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewRequest(method, target, bytes.NewReader(body))
	server.Host = "slipway.test"
	for k, v := range client.Header {
		server.Header[k] = v
	}
	server.ContentLength = int64(len(body))
	return server
}

func verifier() *Verifier {
	return NewVerifier([]Credential{testCred}, func() time.Time { return fixedNow })
}

func reason(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func TestVerifyAcceptsSDKSignatures(t *testing.T) {
	t.Parallel()
	v := verifier()
	cases := []struct{ method, target, body string }{
		{"GET", "/GetWorkflow?workflowBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A123456789012%3Aworkflow%2Fbuild%2Fmy%20flow%2B1%2F1.0.0%2F1", ""},
		{"POST", "/ListWorkflows", `{"maxResults":5}`},
		{"DELETE", "/tags/arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A123456789012%3Aworkflow%2Fbuild%2Fx%2F1.0.0%2F1?tagKeys=b&tagKeys=a", ""},
		{"POST", "/", `{"WorkflowId":"w-0123456789abcdef0"}`},
	}
	for _, tc := range cases {
		r := signed(t, tc.method, tc.target, map[string]string{"Content-Type": "application/json"}, []byte(tc.body), "imagebuilder", fixedNow)
		res, err := v.Verify(r, []byte(tc.body), "imagebuilder")
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.target, err)
		}
		if res.Account != testCred.Account || res.Region != "eu-west-1" || res.Service != "imagebuilder" {
			t.Fatalf("result %+v", res)
		}
	}
}

func TestVerifyFailures(t *testing.T) {
	t.Parallel()
	v := verifier()
	body := []byte(`{}`)
	ok := func() *http.Request {
		return signed(t, "POST", "/ListWorkflows", nil, body, "imagebuilder", fixedNow)
	}
	cases := []struct {
		name   string
		mutate func(*http.Request)
		want   Reason
	}{
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, Missing},
		{"presigned", func(r *http.Request) {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
		}, Incomplete},
		{"algorithm", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1))
		}, Incomplete},
		{"no signature", func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:strings.Index(h, ", Signature=")])
		}, Incomplete},
		{"short credential", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/eu-west-1/", "/", 1))
		}, Incomplete},
		{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date") }, Incomplete},
		{"bad date", func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, Incomplete},
		{"host unsigned", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}, Incomplete},
		{"unknown key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKIDEXAMPLE", "AKIDOTHER", 1))
		}, UnknownKey},
		{"signature", func(r *http.Request) {
			h := r.Header.Get("Authorization")
			last := h[len(h)-1]
			flip := byte('0')
			if last == '0' {
				flip = '1'
			}
			r.Header.Set("Authorization", h[:len(h)-1]+string(flip))
		}, Mismatch},
		{"scope date", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20261122T120000Z") }, Mismatch},
	}
	for _, tc := range cases {
		r := ok()
		tc.mutate(r)
		_, err := v.Verify(r, body, "imagebuilder")
		if got := reason(err); got != tc.want {
			t.Errorf("%s: reason %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
	if _, err := v.Verify(ok(), body, "transfer"); reason(err) != WrongScope {
		t.Errorf("wrong service: %v", err)
	}
	old := signed(t, "POST", "/ListWorkflows", nil, body, "imagebuilder", fixedNow.Add(-16*time.Minute))
	if _, err := v.Verify(old, body, "imagebuilder"); reason(err) != Expired || !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("expired: %v", err)
	}
	edge := signed(t, "POST", "/ListWorkflows", nil, body, "imagebuilder", fixedNow.Add(-14*time.Minute))
	if _, err := v.Verify(edge, body, "imagebuilder"); err != nil {
		t.Errorf("14 minutes old: %v", err)
	}
	future := signed(t, "POST", "/ListWorkflows", nil, body, "imagebuilder", fixedNow.Add(16*time.Minute))
	if _, err := v.Verify(future, body, "imagebuilder"); reason(err) != Expired {
		t.Errorf("future: %v", err)
	}
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randWord(rng *rand.Rand, n int) string {
	b := make([]byte, 1+rng.IntN(n))
	for i := range b {
		b[i] = alnum[rng.IntN(len(alnum))]
	}
	return string(b)
}

// mutateAlnum changes one letter or digit of s (outside percent escapes) to
// a different one; changing anything else may legitimately canonicalise to
// the same request.
func mutateAlnum(rng *rand.Rand, s string) (string, bool) {
	var idx []int
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alnum, s[i]) >= 0 && !(i >= 1 && s[i-1] == '%') && !(i >= 2 && s[i-2] == '%') {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return s, false
	}
	i := idx[rng.IntN(len(idx))]
	c := s[i]
	for c == s[i] {
		c = alnum[rng.IntN(len(alnum))]
	}
	return s[:i] + string(c) + s[i+1:], true
}

// TestSignatureProperty signs random requests with the SDK and checks that
// each verifies and that changing one byte of the method, path, query, a
// signed header or the body makes it fail.
func TestSignatureProperty(t *testing.T) {
	t.Parallel()
	v := verifier()
	rng := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "PUT", "POST", "DELETE"}
	for iter := 0; iter < 300; iter++ {
		method := methods[rng.IntN(len(methods))]
		path := "/" + randWord(rng, 12)
		if rng.IntN(2) == 0 {
			path += "/" + randWord(rng, 8) + "%2F" + randWord(rng, 4)
		}
		var q []string
		for i := rng.IntN(4); i > 0; i-- {
			q = append(q, randWord(rng, 6)+"="+randWord(rng, 10))
		}
		query := strings.Join(q, "&")
		target := path
		if query != "" {
			target += "?" + query
		}
		headers := map[string]string{"X-Amz-Meta-Note": randWord(rng, 20), "Content-Type": "application/json"}
		body := []byte(`{"k":"` + randWord(rng, 40) + `"}`)
		r := signed(t, method, target, headers, body, "transfer", fixedNow)
		if _, err := v.Verify(r, body, "transfer"); err != nil {
			t.Fatalf("iteration %d: valid request refused: %v (%s %s)", iter, err, method, target)
		}
		type mutation struct {
			name string
			req  *http.Request
			body []byte
		}
		var muts []mutation
		other := methods[(rng.IntN(3)+1+indexOf(methods, method))%4]
		mr := signed(t, method, target, headers, body, "transfer", fixedNow)
		mr.Method = other
		muts = append(muts, mutation{"method", mr, body})
		if p, ok := mutateAlnum(rng, path); ok {
			mp := signed(t, method, target, headers, body, "transfer", fixedNow)
			nt := p
			if query != "" {
				nt += "?" + query
			}
			fresh := httptest.NewRequest(method, nt, bytes.NewReader(body))
			fresh.Host, fresh.Header = mp.Host, mp.Header
			muts = append(muts, mutation{"path", fresh, body})
		}
		if query != "" {
			if nq, ok := mutateAlnum(rng, query); ok {
				mq := signed(t, method, target, headers, body, "transfer", fixedNow)
				fresh := httptest.NewRequest(method, path+"?"+nq, bytes.NewReader(body))
				fresh.Host, fresh.Header = mq.Host, mq.Header
				muts = append(muts, mutation{"query", fresh, body})
			}
		}
		mh := signed(t, method, target, headers, body, "transfer", fixedNow)
		hv, _ := mutateAlnum(rng, mh.Header.Get("X-Amz-Meta-Note"))
		mh.Header.Set("X-Amz-Meta-Note", hv)
		muts = append(muts, mutation{"header", mh, body})
		mb := append([]byte(nil), body...)
		mb[rng.IntN(len(mb))] ^= byte(1 + rng.IntN(255))
		muts = append(muts, mutation{"body", signed(t, method, target, headers, body, "transfer", fixedNow), mb})
		for _, m := range muts {
			if _, err := v.Verify(m.req, m.body, "transfer"); reason(err) != Mismatch {
				t.Fatalf("iteration %d: %s change not detected (%v)", iter, m.name, err)
			}
		}
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/imagebuilder/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=a/20261121/r/s/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=")
	f.Add("Basic dGVzdDp0ZXN0")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			if reason(err) != Incomplete {
				t.Fatalf("parse error of reason %d: %v", reason(err), err)
			}
			return
		}
		again := Algorithm + " Credential=" + a.AccessKeyID + "/" + a.Scope() + ", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := ParseAuthorization(again)
		if err != nil || b.Scope() != a.Scope() || b.AccessKeyID != a.AccessKeyID || b.Signature != a.Signature {
			t.Fatalf("canonical form %q does not re-parse: %v", again, err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	v := verifier()
	body := []byte(`{"maxResults":25}`)
	r := signed(b, "POST", "/ListWorkflows", map[string]string{"Content-Type": "application/json"}, body, "imagebuilder", fixedNow)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body, "imagebuilder"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAcceptAnyKeys admits unknown keys only when asked, into the account a
// 12-digit key names or the default one, and still checks known keys.
func TestAcceptAnyKeys(t *testing.T) {
	t.Parallel()
	sign := func(key, secret string) *http.Request {
		r := httptest.NewRequest("POST", "/ListWorkflows", bytes.NewReader([]byte("{}")))
		r.Host = "slipway.test"
		sum := sha256.Sum256([]byte("{}"))
		creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "imagebuilder", "us-east-1", fixedNow); err != nil {
			t.Fatal(err)
		}
		return r
	}
	strict := verifier()
	if _, err := strict.Verify(sign("ANYKEY", "x"), []byte("{}"), "imagebuilder"); reason(err) != UnknownKey {
		t.Fatalf("strict verifier admitted an unknown key: %v", err)
	}
	open := verifier()
	open.AcceptAnyKeys("000000000000")
	for key, want := range map[string]string{"ANYKEY": "000000000000", "111122223333": "111122223333", "12345": "000000000000"} {
		res, err := open.Verify(sign(key, "whatever"), []byte("{}"), "imagebuilder")
		if err != nil || res.Account != want {
			t.Fatalf("%s: %+v %v", key, res, err)
		}
	}
	if _, err := open.Verify(sign(testCred.AccessKeyID, "wrong secret"), []byte("{}"), "imagebuilder"); reason(err) != Mismatch {
		t.Fatalf("a known key with a wrong signature: %v", err)
	}
}
