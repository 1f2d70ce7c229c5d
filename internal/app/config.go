package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/lambda"
	"github.com/slipway-dev/slipway/internal/sigv4"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// Config is how a Slipway process is set up.
type Config struct {
	// Addr is the listen address (default 127.0.0.1:4599).
	Addr string
	// DataDir holds the SQLite database (default ./slipway-data).
	DataDir string
	// DatabaseURL, when set, keeps state in PostgreSQL (postgres://...)
	// instead of SQLite under DataDir (--database-url).
	DatabaseURL string
	// EngineLease is how long a replica holds a work item before another
	// may take it over (default 30s); renewed while the item is handled,
	// it bounds how long a dead replica's work waits (--engine-lease).
	EngineLease time.Duration
	// InMemory keeps all state in memory; nothing survives the process.
	InMemory bool
	// ConfigFile optionally names a JSON file with more credentials.
	ConfigFile string
	// StepDelay is how long each simulated Image Builder step action takes.
	StepDelay time.Duration
	// Credentials are the access keys requests may be signed with; the
	// default pair test/test (account 000000000000) is always present.
	Credentials []sigv4.Credential
	// S3Endpoint, when set, keeps Transfer files in that S3-compatible
	// service instead of Slipway's own buckets; S3Region signs for it.
	S3Endpoint string
	S3Region   string
	// SFTPBind is the address SFTP endpoints listen on (default 127.0.0.1).
	SFTPBind string
	// LambdaEndpoint is where Lambda functions are invoked (identity
	// providers, CUSTOM steps); LambdaFunctions override it per function.
	LambdaEndpoint  string
	LambdaFunctions map[string]lambda.Target
	// SNSEndpoint receives WaitForAction and image notifications published
	// to SNS topics (--sns-endpoint).
	SNSEndpoint string
	// Outbound signs Slipway's own calls (Lambda, API Gateway); test/test
	// when unset.
	Outbound *aws.Credentials
	// AcceptAnyCredentials admits unknown access keys unverified
	// (--accept-any-credentials): a 12-digit key is its own account, any
	// other the default account. Known keys are still verified.
	AcceptAnyCredentials bool
	// UIOpen lets non-loopback clients use the dashboard, signed in with a
	// configured access key and secret (--ui-open).
	UIOpen bool
	// ClockControl lets POST /_slipway/clock move domain time forward
	// (--clock-control).
	ClockControl bool
	// CheckResponses checks every response against the model's output
	// shape and logs mismatches (--check-responses, for debugging).
	CheckResponses bool
	// PGPKeys are the keys Transfer DECRYPT steps use (the --config
	// file's pgpKeys section).
	PGPKeys *transfer.KeySource
	// Events are where EventBridge-shaped events go (the --config file's
	// events section): webhooks and an EventBridge-compatible endpoint.
	Events events.Targets
}

func (c *Config) sftpBind() string {
	if c.SFTPBind == "" {
		return "127.0.0.1"
	}
	return c.SFTPBind
}

// OutboundCredentials returns the keys Slipway signs outside calls with.
func (c *Config) OutboundCredentials() aws.Credentials {
	if c.Outbound != nil {
		return *c.Outbound
	}
	return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "slipway"}
}

// Defaults for a Slipway process.
const (
	DefaultAddr    = "127.0.0.1:4599"
	DefaultDataDir = "./slipway-data"
	DefaultAccount = "000000000000"
)

// DefaultCredential is the pair that works out of the box.
var DefaultCredential = sigv4.Credential{AccessKeyID: "test", Secret: "test", Account: DefaultAccount}

// fileConfig is the --config file format.
type fileConfig struct {
	Credentials []struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		AccountID       string `json:"accountId"`
	} `json:"credentials"`
	// Lambda: the default endpoint, the keys outside calls are signed
	// with, and per-function endpoints and names (keyed by function ARN).
	Lambda struct {
		Endpoint        string                   `json:"endpoint"`
		AccessKeyID     string                   `json:"accessKeyId"`
		SecretAccessKey string                   `json:"secretAccessKey"`
		Functions       map[string]lambda.Target `json:"functions"`
	} `json:"lambda"`
	// PGPKeys stands in for Secrets Manager: DECRYPT keys by secret name
	// (aws/transfer/<server-id>/<user> or .../@pgp-default), inline or
	// as files under a directory.
	PGPKeys *transfer.KeySource `json:"pgpKeys"`
	// Events: {"webhooks": ["http://..."], "eventBridgeEndpoint": "http://...", "eventBusName": "default"}.
	Events events.Targets `json:"events"`
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// LoadFile reads credentials from a --config file into c.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var fc fileConfig
	if err := json.Unmarshal(b, &fc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for i, cr := range fc.Credentials {
		if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
			return fmt.Errorf("config %s: credentials[%d] needs accessKeyId and secretAccessKey", path, i)
		}
		if !accountRE.MatchString(cr.AccountID) {
			return fmt.Errorf("config %s: credentials[%d].accountId must be 12 digits", path, i)
		}
		c.Credentials = append(c.Credentials, sigv4.Credential{AccessKeyID: cr.AccessKeyID, Secret: cr.SecretAccessKey, Account: cr.AccountID})
	}
	if l := fc.Lambda; l.Endpoint != "" && c.LambdaEndpoint == "" {
		c.LambdaEndpoint = l.Endpoint
	}
	if fc.Lambda.AccessKeyID != "" {
		c.Outbound = &aws.Credentials{AccessKeyID: fc.Lambda.AccessKeyID, SecretAccessKey: fc.Lambda.SecretAccessKey, Source: "slipway-config"}
	}
	c.LambdaFunctions = fc.Lambda.Functions
	c.Events = fc.Events
	if k := fc.PGPKeys; k != nil {
		if k.Dir != "" && !filepath.IsAbs(k.Dir) {
			// A relative directory is relative to the config file.
			k.Dir = filepath.Join(filepath.Dir(path), k.Dir)
		}
		c.PGPKeys = k
	}
	return nil
}
