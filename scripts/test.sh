#!/usr/bin/env bash
# The project's test command: formatting, vet, the Go tests with the race
# detector (and the end-to-end suite again on PostgreSQL when
# SLIPWAY_TEST_DATABASE_URL names one), then the boto3 / aws CLI smoke run
# against the built binary.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 ./...
# With PostgreSQL at hand, the end-to-end suite runs once more on it (the
# crash tests have PostgreSQL variants of their own in the run above).
if [ -n "${SLIPWAY_TEST_DATABASE_URL:-}" ]; then
  SLIPWAY_TEST_STORE=postgres go test -race -count=1 -short ./internal/app/
fi
bash scripts/smoke.sh
