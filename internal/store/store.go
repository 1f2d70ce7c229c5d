// Package store defines where Slipway keeps state: every AWS resource is a
// Record (a few indexed columns plus the canonical JSON body), written in
// transactions. Engines live in sub-packages and must pass storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors every engine returns.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Scope partitions all state: an account in a region.
type Scope struct {
	Account string
	Region  string
}

// Record is one stored resource.
type Record struct {
	Scope
	// Kind names the resource type, e.g. "imagebuilder.workflow".
	Kind string
	// ID is unique within Scope and Kind (usually the ARN).
	ID string
	// Parent groups records for listing (e.g. the builds of one version).
	Parent string
	// SortKey orders records within Scope, Kind and Parent; it is unique there.
	SortKey string
	Created time.Time
	Updated time.Time
	Tags    map[string]string
	Body    []byte
}

// ListQuery selects a page of records of one kind and parent, in SortKey
// order, strictly after After.
type ListQuery struct {
	Scope
	Kind   string
	Parent string
	After  string
	Limit  int
}

// IdempotencyKey identifies a clientToken use.
type IdempotencyKey struct {
	Scope
	Operation string
	Token     string
}

// IdempotencyRecord is the outcome remembered for a clientToken.
type IdempotencyRecord struct {
	IdempotencyKey
	Fingerprint string
	Result      []byte
	Created     time.Time
}

// Tx is a transaction. It is only valid inside the function it is passed to.
type Tx interface {
	Get(scope Scope, kind, id string) (*Record, error)
	// GetMany reads the records of kind among ids in one statement and
	// returns those that exist, by ID (a page of 25 is one round trip).
	// The records are read-only: a store may share them with its cache.
	GetMany(scope Scope, kind string, ids []string) (map[string]*Record, error)
	// Insert fails with ErrExists if the ID or the SortKey is taken.
	Insert(r *Record) error
	// Update replaces an existing record; ErrNotFound if there is none.
	Update(r *Record) error
	Delete(scope Scope, kind, id string) error
	List(q ListQuery) ([]*Record, error)
	Count(scope Scope, kind, parent string) (int, error)

	Idempotency(k IdempotencyKey) (*IdempotencyRecord, error)
	PutIdempotency(r *IdempotencyRecord) error

	Meta(key string) ([]byte, error)
	PutMeta(key string, value []byte) error

	// Notify tells every listener on topic, in every process sharing the
	// store, once this transaction commits (nothing if it rolls back).
	Notify(topic string)
}

// Store is a transactional state store.
type Store interface {
	// Update runs fn in a read-write transaction, committed if fn returns
	// nil. A record fn writes is safe from concurrent writers: SQLite runs
	// write transactions one at a time, PostgreSQL at snapshot isolation,
	// where a limit checked by counting records is not (docs/replicas.md).
	// A store may run fn more than once: again when its transaction
	// conflicted with another (PostgreSQL), or first on a snapshot and
	// then in the writer (SQLite, docs/decisions.md), so fn must have no
	// effect outside the transaction but setting its results.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction. A store may run fn again
	// (SQLite, when a record it answered from memory changed meanwhile),
	// so fn must have no effect but setting its results.
	View(ctx context.Context, fn func(Tx) error) error
	// ClaimDue runs fn in a transaction of its own over at most q.Limit
	// records of q's kind and parent whose SortKey is after q.After and at
	// most upTo, in SortKey order, each locked for this transaction.
	// Records another transaction holds are skipped, not waited for, so
	// several processes claim from one queue without blocking or
	// conflicting (PostgreSQL's FOR UPDATE SKIP LOCKED). fn may change
	// only the records it is given.
	ClaimDue(ctx context.Context, q ListQuery, upTo string, fn func(tx Tx, recs []*Record) error) error
	// Listen calls fn after each commit that notified topic, from any
	// process sharing the store, until the returned function is called.
	// fn runs on the store's goroutine and must not block. Notifications
	// may be merged or, across a lost connection, missed: listeners poll
	// as well.
	Listen(topic string, fn func()) (cancel func())
	// Reset deletes all state except the server's own metadata.
	Reset(ctx context.Context) error
	// Engine names the engine, e.g. "sqlite".
	Engine() string
	Close() error
}

type unsyncedKey struct{}

// Unsynced marks the Updates run with the returned context as acknowledged
// to no client: a store may return from them once their transaction is
// committed and seen by every later one, before it is durable. It becomes
// durable with the next sync, which every other Update still waits for,
// and a log is durable as a prefix, so nothing a client was told of can
// depend on a write lost to a crash. The engine completes its items so: a
// crash before the sync brings the item back, as a crash while its
// handler ran would.
func Unsynced(ctx context.Context) context.Context {
	return context.WithValue(ctx, unsyncedKey{}, true)
}

// IsUnsynced reports whether ctx was made by Unsynced.
func IsUnsynced(ctx context.Context) bool {
	v, _ := ctx.Value(unsyncedKey{}).(bool)
	return v
}

// Idempotent runs fn at most once per clientToken: inside one transaction it
// replays the remembered result when key was used with the same fingerprint,
// returns mismatch when it was used with another, and otherwise runs fn and
// remembers its result. An empty token disables the mechanism.
func Idempotent[T any](ctx context.Context, s Store, key IdempotencyKey, fingerprint string, mismatch error, fn func(Tx) (T, error)) (T, error) {
	var out T
	err := s.Update(ctx, func(tx Tx) error {
		if key.Token != "" {
			prev, err := tx.Idempotency(key)
			switch {
			case err == nil:
				if prev.Fingerprint != fingerprint {
					return mismatch
				}
				return json.Unmarshal(prev.Result, &out)
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		res, err := fn(tx)
		if err != nil {
			return err
		}
		out = res
		if key.Token == "" {
			return nil
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		return tx.PutIdempotency(&IdempotencyRecord{IdempotencyKey: key, Fingerprint: fingerprint, Result: b, Created: time.Now()})
	})
	return out, err
}
