// Command slipway serves AWS-compatible EC2 Image Builder and Transfer Family
// control planes. Run "slipway serve"; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	_ "time/tzdata" // schedules name IANA zones; don't depend on the host's

	"github.com/slipway-dev/slipway/internal/app"
)

const usage = `Usage: slipway <command> [flags]

Commands:
  serve     run the Image Builder and Transfer Family APIs
  load      measure the request path (see docs/benchmarks.md)
  version   print the version

Run "slipway <command> -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "version", "--version", "-version":
		fmt.Println(app.VersionString())
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "slipway: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "slipway:", err)
		os.Exit(1)
	}
}

// env returns the SLIPWAY_* twin of a flag, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("SLIPWAY_" + name); ok {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv("SLIPWAY_" + name); ok {
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv("SLIPWAY_" + name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", env("ADDR", app.DefaultAddr), "listen address (SLIPWAY_ADDR)")
	dataDir := fs.String("data-dir", env("DATA_DIR", app.DefaultDataDir), "directory for the SQLite database (SLIPWAY_DATA_DIR)")
	databaseURL := fs.String("database-url", env("DATABASE_URL", ""), "keep state in this PostgreSQL database (postgres://...), shared by every replica; files stay under --data-dir (SLIPWAY_DATABASE_URL)")
	engineLease := fs.Duration("engine-lease", envDuration("ENGINE_LEASE", 30*time.Second), "how long a replica holds a work item before another may take it over; bounds how long a dead replica's work waits (SLIPWAY_ENGINE_LEASE)")
	inMemory := fs.Bool("in-memory", envBool("IN_MEMORY", false), "keep state in memory only (SLIPWAY_IN_MEMORY)")
	configFile := fs.String("config", env("CONFIG", ""), "JSON file with extra credentials (SLIPWAY_CONFIG)")
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (SLIPWAY_LOG_LEVEL)")
	logFormat := fs.String("log-format", env("LOG_FORMAT", "text"), "text or json (SLIPWAY_LOG_FORMAT)")
	stepDelay := fs.Duration("step-delay", envDuration("STEP_DELAY", 0), "how long each simulated Image Builder step takes (SLIPWAY_STEP_DELAY)")
	sftpBind := fs.String("sftp-bind", env("SFTP_BIND", "127.0.0.1"), "address Transfer SFTP endpoints listen on (SLIPWAY_SFTP_BIND)")
	lambdaEndpoint := fs.String("lambda-endpoint", env("LAMBDA_ENDPOINT", ""), "Lambda Invoke API for identity providers and CUSTOM steps (SLIPWAY_LAMBDA_ENDPOINT)")
	snsEndpoint := fs.String("sns-endpoint", env("SNS_ENDPOINT", ""), "SNS-compatible endpoint for WaitForAction and image notifications (SLIPWAY_SNS_ENDPOINT)")
	s3Endpoint := fs.String("s3-endpoint", env("S3_ENDPOINT", ""), "keep Transfer files in this S3-compatible service (SLIPWAY_S3_ENDPOINT)")
	s3Region := fs.String("s3-region", env("S3_REGION", "us-east-1"), "region to sign --s3-endpoint requests for (SLIPWAY_S3_REGION)")
	acceptAny := fs.Bool("accept-any-credentials", envBool("ACCEPT_ANY_CREDENTIALS", false), "admit unknown access keys without verifying their signatures, as LocalStack and moto do; a 12-digit key is its own account (SLIPWAY_ACCEPT_ANY_CREDENTIALS)")
	uiOpen := fs.Bool("ui-open", envBool("UI_OPEN", false), "let non-loopback clients use the dashboard, signed in with a configured access key and secret (SLIPWAY_UI_OPEN)")
	clockControl := fs.Bool("clock-control", envBool("CLOCK_CONTROL", false), "let POST /_slipway/clock move time forward, for tests (SLIPWAY_CLOCK_CONTROL)")
	checkResponses := fs.Bool("check-responses", envBool("CHECK_RESPONSES", false), "log responses that break the API model's output shape (SLIPWAY_CHECK_RESPONSES)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(os.Stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg := app.Config{Addr: *addr, DataDir: *dataDir, DatabaseURL: *databaseURL, EngineLease: *engineLease, InMemory: *inMemory, ConfigFile: *configFile, StepDelay: *stepDelay,
		SFTPBind: *sftpBind, LambdaEndpoint: *lambdaEndpoint, S3Endpoint: *s3Endpoint, S3Region: *s3Region, CheckResponses: *checkResponses, ClockControl: *clockControl, AcceptAnyCredentials: *acceptAny, SNSEndpoint: *snsEndpoint, UIOpen: *uiOpen}
	if cfg.ConfigFile != "" {
		if err := cfg.LoadFile(cfg.ConfigFile); err != nil {
			return err
		}
	}
	app.TuneGC()
	start := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = a.Shutdown(context.Background())
		return err
	}
	log.Info("slipway listening", "addr", ln.Addr().String(), "detail", a.Describe(), "startup", time.Since(start).Round(time.Microsecond))
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ln) }()
	select {
	case err := <-errc:
		_ = a.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("slipway stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info("slipway stopped")
	return nil
}
