#!/usr/bin/env bash
# The project's test command: formatting, vet, the Go tests with the race
# detector, then the boto3 / aws CLI smoke run against the built binary.
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
bash scripts/smoke.sh
