// Package sigv4 verifies AWS Signature Version 4 request signatures on the
// server side. It follows the client's SignedHeaders list verbatim, so any
// correct signer (aws-sdk-go-v2, botocore, the aws CLI, Terraform) verifies.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

const (
	amzDateFormat = "20060102T150405Z"
	dateFormat    = "20060102"
	// DefaultMaxSkew is how far a request's time may be from the server's.
	DefaultMaxSkew = 15 * time.Minute
)

// Reason says why a request failed verification.
type Reason int

// The verification failures, each mapped to an AWS error at the edge.
const (
	Missing    Reason = iota + 1 // no Authorization header at all
	Incomplete                   // malformed or incomplete Authorization
	UnknownKey                   // access key id not configured
	Mismatch                     // signature does not match
	Expired                      // request time outside the allowed skew
	WrongScope                   // credential scoped to another service
)

// Error is a verification failure.
type Error struct {
	Reason  Reason
	Message string
}

func (e *Error) Error() string { return e.Message }

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// Authorization is a parsed Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// Scope returns the credential scope string.
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// ParseAuthorization parses an AWS4-HMAC-SHA256 Authorization header value.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != Algorithm {
		return a, fail(Incomplete, "Authorization header requires '%s' algorithm; found '%s'.", Algorithm, truncate(alg))
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fail(Incomplete, "Authorization header requires each component to be of the form key=value; found '%s'.", truncate(part))
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			sig, haveSig = v, true
		default:
			return a, fail(Incomplete, "Authorization header has an unknown component '%s'.", truncate(k))
		}
	}
	var missing []string
	if !haveCred {
		missing = append(missing, "'Credential'")
	}
	if !haveSigned {
		missing = append(missing, "'SignedHeaders'")
	}
	if !haveSig {
		missing = append(missing, "'Signature'")
	}
	if len(missing) > 0 {
		return a, fail(Incomplete, "Authorization header requires %s parameter.", strings.Join(missing, ", "))
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" || parts[2] == "" || parts[3] == "" {
		return a, fail(Incomplete, "Credential should be scoped to a valid region and service, in the form <key>/<date>/<region>/<service>/aws4_request; found '%s'.", truncate(cred))
	}
	if _, err := time.Parse(dateFormat, parts[1]); err != nil {
		return a, fail(Incomplete, "Credential date '%s' is not in the form yyyyMMdd.", truncate(parts[1]))
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	if signed == "" {
		return a, fail(Incomplete, "Authorization header requires a non-empty 'SignedHeaders' parameter.")
	}
	a.SignedHeaders = strings.Split(signed, ";")
	for _, h := range a.SignedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return a, fail(Incomplete, "SignedHeaders must be a ';'-separated list of lower-case header names; found '%s'.", truncate(signed))
		}
	}
	if len(sig) != 64 || !isHex(sig) {
		return a, fail(Incomplete, "Signature must be 64 hexadecimal characters.")
	}
	a.Signature = sig
	return a, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Credential is a configured access key.
type Credential struct {
	AccessKeyID string
	Secret      string
	Account     string
}

// Result is what a verified request proves about its sender.
type Result struct {
	AccessKeyID string
	Account     string
	Region      string
	Service     string
}

// Verifier checks signatures against a fixed set of credentials.
type Verifier struct {
	creds   map[string]Credential
	now     func() time.Time
	maxSkew time.Duration

	mu   sync.Mutex
	keys map[string][]byte // derived signing keys, by secret/date/region/service

	// anyKeys, when set, admits access keys it does not know (whose
	// signatures it cannot check) into anyAccount, or the account a
	// 12-digit key names.
	anyKeys    bool
	anyAccount string
}

// AcceptAnyKeys makes the verifier admit unknown access keys, as tools
// written for LocalStack and moto expect: a 12-digit key is its own
// account, any other key is defaultAccount. Known keys are still verified.
func (v *Verifier) AcceptAnyKeys(defaultAccount string) {
	v.anyKeys, v.anyAccount = true, defaultAccount
}

// anyAccountFor is the account an unknown key is admitted to.
func (v *Verifier) anyAccountFor(key string) string {
	if len(key) == 12 && strings.Trim(key, "0123456789") == "" {
		return key
	}
	return v.anyAccount
}

// NewVerifier returns a verifier for the credentials. now may be nil.
func NewVerifier(creds []Credential, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	m := make(map[string]Credential, len(creds))
	for _, c := range creds {
		m[c.AccessKeyID] = c
	}
	return &Verifier{creds: m, now: now, maxSkew: DefaultMaxSkew, keys: map[string][]byte{}}
}

// Verify checks r, whose body has already been read into body. service is the
// signing name the routed operation belongs to.
func (v *Verifier) Verify(r *http.Request, body []byte, service string) (*Result, error) {
	sum := sha256.Sum256(body)
	return v.verify(r, service, hex.EncodeToString(sum[:]), false)
}

// VerifyS3 checks a request signed for S3: the path is signed as sent
// (escaped once) and the payload hash is the x-amz-content-sha256 header,
// which the caller checks against the body (or its chunk signatures).
func (v *Verifier) VerifyS3(r *http.Request) (*Result, error) {
	ph := r.Header.Get("X-Amz-Content-Sha256")
	if ph == "" {
		return nil, fail(Incomplete, "Missing required header for this request: x-amz-content-sha256")
	}
	return v.verify(r, "s3", ph, true)
}

// SigningKey returns the key a verified request's scope signs with (for
// the chunk signatures of streaming S3 uploads).
func (v *Verifier) SigningKey(r *http.Request) ([]byte, Authorization, error) {
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, a, err
	}
	cred, ok := v.creds[a.AccessKeyID]
	if !ok && v.anyKeys {
		return nil, a, nil // nothing to check chunk signatures with
	}
	if !ok {
		return nil, a, fail(UnknownKey, "The security token included in the request is invalid.")
	}
	return v.signingKey(cred.Secret, a), a, nil
}

func (v *Verifier) verify(r *http.Request, service, payloadHash string, s3 bool) (*Result, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Has("X-Amz-Algorithm") {
			return nil, fail(Incomplete, "Query-string (presigned) authentication is not supported; sign the Authorization header.")
		}
		return nil, fail(Missing, "Missing Authentication Token")
	}
	a, err := ParseAuthorization(h)
	if err != nil {
		return nil, err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return nil, fail(Incomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return nil, fail(Incomplete, "X-Amz-Date '%s' is not in the form yyyyMMddTHHmmssZ.", truncate(amzDate))
	}
	if !hasHeader(a.SignedHeaders, "host") {
		return nil, fail(Incomplete, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !hasHeader(a.SignedHeaders, "x-amz-date") {
		return nil, fail(Incomplete, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if a.Date != amzDate[:8] {
		return nil, fail(Mismatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, amzDate[:8], amzDate)
	}
	cred, ok := v.creds[a.AccessKeyID]
	if !ok && !v.anyKeys {
		return nil, fail(UnknownKey, "The security token included in the request is invalid.")
	}
	if a.Service != service {
		return nil, fail(WrongScope, "Credential should be scoped to correct service: '%s'.", service)
	}
	now := v.now().UTC()
	if now.Sub(t) > v.maxSkew {
		return nil, fail(Expired, "Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, now.Add(-v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), skewText(v.maxSkew))
	}
	if t.Sub(now) > v.maxSkew {
		return nil, fail(Expired, "Signature not yet current: %s is still later than %s (%s + %s.)",
			amzDate, now.Add(v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), skewText(v.maxSkew))
	}
	if !ok {
		// An unknown key admitted by AcceptAnyKeys: no secret to check.
		return &Result{AccessKeyID: a.AccessKeyID, Account: v.anyAccountFor(a.AccessKeyID), Region: a.Region, Service: a.Service}, nil
	}
	creq := canonicalRequest(r, a.SignedHeaders, payloadHash, s3)
	sts := StringToSign(amzDate, a.Scope(), creq)
	want := hex.EncodeToString(hmacSHA256(v.signingKey(cred.Secret, a), []byte(sts)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) != 1 {
		return nil, fail(Mismatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return &Result{AccessKeyID: a.AccessKeyID, Account: cred.Account, Region: a.Region, Service: a.Service}, nil
}

func skewText(d time.Duration) string {
	return strconv.Itoa(int(d/time.Minute)) + " min"
}

func hasHeader(list []string, name string) bool {
	for _, h := range list {
		if h == name {
			return true
		}
	}
	return false
}

// signingKey derives (and caches) the key for the credential scope.
func (v *Verifier) signingKey(secret string, a Authorization) []byte {
	id := secret + "/" + a.Scope()
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[id]; ok {
		return k
	}
	k := DeriveKey(secret, a.Date, a.Region, a.Service)
	if len(v.keys) >= 1024 {
		clear(v.keys) // bounded: scopes change daily, so a reset is cheap
	}
	v.keys[id] = k
	return k
}

// DeriveKey computes the SigV4 signing key.
func DeriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// StringToSign builds the SigV4 string to sign.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// CanonicalRequest builds the SigV4 canonical request of r as the client
// signed it, for a non-S3 service (path segments escaped twice).
func CanonicalRequest(r *http.Request, signed []string, body []byte) string {
	sum := sha256.Sum256(body)
	return canonicalRequest(r, signed, hex.EncodeToString(sum[:]), false)
}

func canonicalRequest(r *http.Request, signed []string, payloadHash string, s3 bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	if s3 {
		b.WriteString(rawURI(r))
	} else {
		b.WriteString(canonicalURI(r))
	}
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalURI(r *http.Request) string {
	p := rawURI(r)
	if p == "/" {
		return p
	}
	return escape(p, false)
}

// rawURI is the path as the client sent it (still escaped once).
func rawURI(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" || p == "*" {
		p = r.URL.EscapedPath()
	}
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		if u, err := url.Parse(p); err == nil {
			p = u.EscapedPath()
		}
	}
	if p == "" {
		return "/"
	}
	return p
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		pairs = append(pairs, pair{escape(dk, true), escape(dv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// escape percent-encodes everything but RFC 3986 unreserved characters (and
// '/', unless encodeSlash).
func escape(s string, encodeSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}
