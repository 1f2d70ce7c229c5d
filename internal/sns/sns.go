// Package sns publishes messages to an SNS-compatible endpoint (moto's,
// LocalStack's, real SNS) with the Query protocol's Publish action,
// SigV4-signed for "sns" as an SDK signs it.
package sns

import (
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

// Client publishes to one endpoint.
type Client struct {
	Endpoint    string
	Credentials aws.Credentials
	HTTP        *http.Client
}

// ErrNoEndpoint is returned when no endpoint is configured.
var ErrNoEndpoint = fmt.Errorf("sns: no endpoint configured (use --sns-endpoint)")

// Region returns the region of a topic ARN, or def.
func Region(topicArn, def string) string {
	if parts := strings.Split(topicArn, ":"); len(parts) >= 6 && parts[3] != "" {
		return parts[3]
	}
	return def
}

// Publish sends message to the topic.
func (c *Client) Publish(ctx context.Context, topicArn, message string) error {
	if c == nil || c.Endpoint == "" {
		return ErrNoEndpoint
	}
	form := url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {topicArn}, "Message": {message}}
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Endpoint, "/")+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, c.Credentials, req, hex.EncodeToString(sum[:]), "sns", Region(topicArn, "us-east-1"), time.Now()); err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sns: Publish to %s: status %d: %s", topicArn, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}
