// Package lambda calls AWS Lambda's Invoke API on an endpoint the user
// configures (SAM local, the runtime interface emulator, LocalStack, real
// Lambda), SigV4-signed as an SDK signs it.
package lambda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Target is where one function is invoked: the endpoint's base URL and the
// name the endpoint knows it by.
type Target struct {
	Endpoint string `json:"endpoint"`
	Name     string `json:"name"`
}

// Client invokes functions.
type Client struct {
	// Endpoint is the default base URL (--lambda-endpoint).
	Endpoint string
	// Functions override Endpoint and name per function ARN.
	Functions map[string]Target
	// Credentials sign the calls.
	Credentials aws.Credentials
	HTTP        *http.Client
}

// ErrNoEndpoint is returned when no endpoint is configured for a function.
var ErrNoEndpoint = fmt.Errorf("lambda: no endpoint configured (use --lambda-endpoint or a function entry in the --config file)")

// Resolve returns where function (an ARN or a name) is invoked.
func (c *Client) Resolve(function string) (Target, error) {
	if t, ok := c.Functions[function]; ok {
		if t.Endpoint == "" {
			t.Endpoint = c.Endpoint
		}
		if t.Name == "" {
			t.Name = functionName(function)
		}
		if t.Endpoint == "" {
			return Target{}, ErrNoEndpoint
		}
		return t, nil
	}
	if c.Endpoint == "" {
		return Target{}, ErrNoEndpoint
	}
	return Target{Endpoint: c.Endpoint, Name: functionName(function)}, nil
}

// functionName returns the function name of an ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]).
func functionName(function string) string {
	parts := strings.Split(function, ":")
	if len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return function
}

// Region returns the region of a function ARN, or def.
func Region(function, def string) string {
	parts := strings.Split(function, ":")
	if len(parts) >= 7 && parts[3] != "" {
		return parts[3]
	}
	return def
}

// Result is a function's answer.
type Result struct {
	URL           string
	StatusCode    int
	FunctionError string
	Payload       []byte
}

// Invoke calls function with payload. async uses the Event invocation type
// (the endpoint answers 202 and the function's result is not returned).
func (c *Client) Invoke(ctx context.Context, function, region string, payload []byte, async bool) (*Result, error) {
	t, err := c.Resolve(function)
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(t.Endpoint, "/") + "/2015-03-31/functions/" + url.PathEscape(t.Name) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if async {
		req.Header.Set("X-Amz-Invocation-Type", "Event")
	} else {
		req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	}
	if err := c.sign(ctx, req, payload, "lambda", Region(function, region)); err != nil {
		return nil, err
	}
	return c.do(req, u)
}

// Get sends a signed GET (API Gateway identity providers).
func (c *Client) Get(ctx context.Context, u, service, region string, header http.Header) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if err := c.sign(ctx, req, nil, service, region); err != nil {
		return nil, err
	}
	return c.do(req, u)
}

func (c *Client) sign(ctx context.Context, req *http.Request, body []byte, service, region string) error {
	sum := sha256.Sum256(body)
	return v4.NewSigner().SignHTTP(ctx, c.Credentials, req, hex.EncodeToString(sum[:]), service, region, time.Now())
}

func (c *Client) do(req *http.Request, u string) (*Result, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	if err != nil {
		return nil, err
	}
	return &Result{URL: u, StatusCode: resp.StatusCode, FunctionError: resp.Header.Get("X-Amz-Function-Error"), Payload: b}, nil
}
