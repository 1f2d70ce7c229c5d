// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the server SLIPWAY_TEST_DATABASE_URL names, dropped when the
// test ends. Without the variable a test is skipped, except in CI
// (SLIPWAY_CI set), where it fails: .ci/run starts PostgreSQL and sets it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the server tests use.
const EnvURL = "SLIPWAY_TEST_DATABASE_URL"

// BaseURL returns the server's URL, or skips (fails in CI) without one.
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("SLIPWAY_CI") != "" {
			t.Fatal(EnvURL + " is not set: .ci/run starts PostgreSQL and sets it (bash scripts/pg-start.sh prints a URL)")
		}
		t.Skip(EnvURL + " is not set; run `export " + EnvURL + "=$(bash scripts/pg-start.sh)` to include PostgreSQL")
	}
	return u
}

// URL returns a URL whose connections use a fresh, empty schema; every
// store opened on it shares that schema, as replicas share a database.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
