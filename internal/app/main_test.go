package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// TestMain doubles as a server process for the crash test: with
// SLIPWAY_TEST_CHILD set, this test binary serves Slipway on a loopback port
// (printed on stdout) until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SLIPWAY_TEST_CHILD"); dir != "" {
		TuneGC() // a server process, as slipway serve is
		delay, _ := time.ParseDuration(os.Getenv("SLIPWAY_TEST_STEP_DELAY"))
		lease, _ := time.ParseDuration(os.Getenv("SLIPWAY_TEST_ENGINE_LEASE"))
		cfg := Config{DataDir: dir, StepDelay: delay, LambdaEndpoint: os.Getenv("SLIPWAY_TEST_LAMBDA"),
			DatabaseURL: os.Getenv("SLIPWAY_TEST_CHILD_DATABASE"), SFTPBind: os.Getenv("SLIPWAY_TEST_SFTP_BIND"), EngineLease: lease}
		if hook := os.Getenv("SLIPWAY_TEST_WEBHOOK"); hook != "" {
			cfg.Events.Webhooks = []string{hook}
		}
		a, err := New(context.Background(), cfg, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("addr=%s\n", ln.Addr())
		_ = a.Serve(ln)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
