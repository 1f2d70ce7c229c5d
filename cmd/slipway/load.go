package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/slipway-dev/slipway/internal/loadgen"
)

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	duration := fs.Duration("duration", 5*time.Second, "how long to load each target with each request (at most 60s)")
	conns := fs.Int("connections", 16, "concurrent connections (at most 256)")
	max := fs.Int("max-requests", 1_000_000, "cap on requests per target and request")
	dbURL := fs.String("database-url", "", "serve from this PostgreSQL database instead of memory; it is reset first")
	fileStore := fs.Bool("file-store", false, "serve from a SQLite file in a temporary data directory instead of memory")
	baseline := fs.String("serve-baseline", "", "internal: serve the fixed-body baseline on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *baseline != "" {
		// The parent stops the baseline with SIGINT; exit promptly.
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		go func() { <-c; os.Exit(0) }()
		return loadgen.ServeBaseline(*baseline)
	}
	if *duration <= 0 || *duration > time.Minute || *conns < 1 || *conns > 256 || *max < 1 {
		return fmt.Errorf("load: --duration must be in (0, 60s], --connections in [1, 256], --max-requests positive")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	_, err = loadgen.Run(loadgen.Config{Binary: self, Duration: *duration, Connections: *conns, MaxRequests: *max, Out: os.Stdout, DatabaseURL: *dbURL, FileStore: *fileStore})
	return err
}
