package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/transfer"
	"github.com/aws/smithy-go"

	"github.com/slipway-dev/slipway/internal/sigv4"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/pgstore"
	"github.com/slipway-dev/slipway/internal/store/pgstore/pgtest"
	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
)

// server is a Slipway started on a loopback port for one test.
type server struct {
	URL  string
	app  *App
	once sync.Once

	// transports of the clients made through this server, closed before it
	// shuts down: a connection a client dialled but never used (its
	// transport sent the request on another) is new to the server, which
	// waits five seconds before it counts such a connection as idle.
	mu         sync.Mutex
	transports []*http.Transport
}

// config is o's configuration with an HTTP client whose idle connections
// are closed when the server stops.
func (s *server) config(o clientOpts) aws.Config {
	cfg := o.config()
	tr := awshttp.NewBuildableClient().GetTransport()
	s.mu.Lock()
	s.transports = append(s.transports, tr)
	s.mu.Unlock()
	cfg.HTTPClient = &http.Client{Transport: tr}
	return cfg
}

// start runs Slipway on 127.0.0.1:0. dir "" means in memory. The server is
// stopped when the test ends unless stop was called first.
func start(t *testing.T, dir string, extra ...sigv4.Credential) *server {
	t.Helper()
	cfg := Config{InMemory: dir == "", DataDir: dir, Credentials: extra}
	a, err := New(context.Background(), onTestStore(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return startApp(t, a)
}

// With SLIPWAY_TEST_STORE=postgres, the end-to-end tests run on
// PostgreSQL: each data directory (or in-memory server) gets a schema of
// its own, kept for restarts on the same directory.
var (
	pgSchemasMu sync.Mutex
	pgSchemas   = map[string]string{}
)

func onTestStore(t testing.TB, cfg Config) Config {
	t.Helper()
	if os.Getenv("SLIPWAY_TEST_STORE") != "postgres" || cfg.DatabaseURL != "" {
		return cfg
	}
	if cfg.InMemory {
		cfg.InMemory, cfg.DataDir = false, t.TempDir()
	}
	pgSchemasMu.Lock()
	defer pgSchemasMu.Unlock()
	url, ok := pgSchemas[cfg.DataDir]
	if !ok {
		url = pgtest.URL(t)
		pgSchemas[cfg.DataDir] = url
	}
	cfg.DatabaseURL = url
	return cfg
}

// openTestStore opens the store the servers of dir use (while none runs).
func openTestStore(t testing.TB, dir string) store.Store {
	t.Helper()
	cfg := onTestStore(t, Config{DataDir: dir})
	var st store.Store
	var err error
	if cfg.DatabaseURL != "" {
		st, err = pgstore.Open(context.Background(), cfg.DatabaseURL)
	} else {
		st, err = sqlitestore.Open(context.Background(), dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// startApp serves a on a loopback port until the test ends.
func startApp(t testing.TB, a *App) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{URL: "http://" + ln.Addr().String(), app: a}
	// Every response of every end-to-end test is checked against the
	// model's output shape.
	var mu sync.Mutex
	var mismatches []string
	a.CheckResponses(func(service, op string, problems []string) {
		mu.Lock()
		defer mu.Unlock()
		mismatches = append(mismatches, fmt.Sprintf("%s %s: %s", service, op, strings.Join(problems, "; ")))
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range mismatches {
			t.Errorf("response does not match the model: %s", m)
		}
	})
	go func() { _ = a.Serve(ln) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t testing.TB) {
	t.Helper()
	s.once.Do(func() {
		s.mu.Lock()
		for _, tr := range s.transports {
			tr.CloseIdleConnections()
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

type clientOpts struct {
	region, key, secret string
}

func opts(region string) clientOpts { return clientOpts{region: region, key: "test", secret: "test"} }

func (o clientOpts) config() aws.Config {
	return aws.Config{
		Region:      o.region,
		Credentials: credentials.NewStaticCredentialsProvider(o.key, o.secret, ""),
		Retryer:     clientRetryer,
	}
}

// clientRetryer retries only a response body cut off on the client side:
// under heavy polling the SDK (v1.47 with Go 1.26) now and then reads a
// response from a connection its transport already closed, against any
// server (a bare net/http handler included). Every server error still
// surfaces at once.
func clientRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
		o.RateLimiter = ratelimit.None
	})
}

func (s *server) ib(o clientOpts) *imagebuilder.Client {
	return imagebuilder.NewFromConfig(s.config(o), func(op *imagebuilder.Options) { op.BaseEndpoint = aws.String(s.URL) })
}

func (s *server) tf(o clientOpts) *transfer.Client {
	return transfer.NewFromConfig(s.config(o), func(op *transfer.Options) { op.BaseEndpoint = aws.String(s.URL) })
}

// apiError asserts err is an AWS API error with the code and returns it.
func apiError(t testing.TB, err error, code string) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
	return ae
}

// raw sends a request signed with the SDK's signer, for shapes the SDK
// refuses to send (missing required members, unknown operations).
type rawResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
}

func (s *server) raw(t *testing.T, method, path string, header map[string]string, body string, service string, when time.Time) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if service != "" {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", when); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := rawResponse{Status: resp.StatusCode, Header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out.Body); err != nil {
			t.Fatalf("response is not JSON: %q", b)
		}
	}
	return out
}

func transferHeaders(op string) map[string]string {
	return map[string]string{"X-Amz-Target": "TransferService." + op, "Content-Type": "application/x-amz-json-1.1"}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func httpBody(s string) io.ReadCloser { return io.NopCloser(bytes.NewBufferString(s)) }
