// Package pgstore is the shared store: PostgreSQL through pgx, for several
// Slipway replicas on one database. Write transactions run at REPEATABLE
// READ (snapshot isolation) and run again when PostgreSQL reports a
// serialization failure: of two transactions that write the same record,
// the second to commit starts over and sees the first. SERIALIZABLE was
// measured and rejected (docs/replicas.md): its predicate locks are
// page-sized on one hot table, so unrelated builds kept failing each
// other. Migrations run at start under an advisory lock, so replicas may
// start together.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/slipway-dev/slipway/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key migrations run under.
const migrationLock = 0x51197a7

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool

	hub        store.Hub
	listenOnce sync.Once
	stopListen context.CancelFunc
	listenDone chan struct{}
}

// channel is the one NOTIFY channel; the payload is the topic.
const channel = "slipway"

var _ store.Store = (*Store)(nil)

// Open connects to url (postgres://...) and migrates the schema.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	// pgx's default (four connections on two cores) would queue the
	// engine's sixteen handlers and the API behind each other; a URL that
	// sets pool_max_conns keeps its own figure.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{pool: pool, listenDone: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("pgstore: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("pgstore: migration %s: bad name", e.Name())
		}
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, v).Scan(&done); err != nil {
			return err
		}
		if done {
			continue
		}
		sqlText, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sqlText)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)`, v, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", e.Name(), err)
		}
	}
	return nil
}

// Engine implements store.Store.
func (s *Store) Engine() string { return "postgres" }

// Close implements store.Store.
func (s *Store) Close() error {
	started := true
	s.listenOnce.Do(func() { started = false })
	if started {
		s.stopListen()
		<-s.listenDone
	}
	s.pool.Close()
	return nil
}

// Listen implements store.Store. The first call opens a connection of its
// own that LISTENs; every notification from any replica reaches this
// process's listeners through it.
func (s *Store) Listen(topic string, fn func()) func() {
	cancel := s.hub.Listen(topic, fn)
	s.listenOnce.Do(func() {
		ctx, stop := context.WithCancel(context.Background())
		s.stopListen = stop
		go s.listenLoop(ctx)
	})
	return cancel
}

// listenLoop holds the LISTEN connection, reconnecting when it drops.
// Notifications sent while it was down are lost, so after each (re)connect
// every topic is told once: listeners then look for themselves.
func (s *Store) listenLoop(ctx context.Context) {
	defer close(s.listenDone)
	delay := 50 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+channel); err == nil {
				delay = 50 * time.Millisecond
				for _, t := range s.hub.Topics() {
					s.hub.Publish(t)
				}
				for {
					n, werr := conn.WaitForNotification(ctx)
					if werr != nil {
						break
					}
					s.hub.Publish(n.Payload)
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
			delay = min(2*delay, 2*time.Second)
		}
	}
}

// maxAttempts bounds the retries of a transaction that keeps conflicting.
const maxAttempts = 50

// Update implements store.Store: a REPEATABLE READ transaction, run again
// from the start when it lost a race to write a record.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, fn)
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// ClaimDue implements store.Store with FOR UPDATE SKIP LOCKED, at READ
// COMMITTED: the claim changes only the rows it locked, and claimers on
// other replicas pass over them instead of waiting or conflicting.
func (s *Store) ClaimDue(ctx context.Context, q store.ListQuery, upTo string, fn func(store.Tx, []*store.Record) error) error {
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(st store.Tx) error {
		t := st.(*tx)
		rows, err := t.q.Query(t.ctx, `SELECT `+recordCols+` FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND parent = $4
			AND sort_key > $5 AND sort_key <= $6 ORDER BY sort_key LIMIT $7 FOR UPDATE SKIP LOCKED`,
			q.Account, q.Region, q.Kind, q.Parent, []byte(q.After), []byte(upTo), limit)
		if err != nil {
			return err
		}
		recs, err := store.CollectRecords(rows, 0)
		if err != nil {
			return err
		}
		return fn(t, recs)
	})
}

func (s *Store) run(ctx context.Context, opts pgx.TxOptions, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var t *tx
		err = pgx.BeginTxFunc(ctx, s.pool, opts, func(ptx pgx.Tx) error {
			t = &tx{ctx: ctx, q: &conn{Tx: ptx}}
			if err := fn(t); err != nil {
				return err
			}
			// Sent inside the transaction, NOTIFY is delivered at commit
			// and dropped on rollback.
			for _, topic := range t.topics {
				if _, err := ptx.Exec(ctx, "SELECT pg_notify($1, $2)", channel, topic); err != nil {
					return err
				}
			}
			return nil
		})
		// fn may have turned the store's error into one of its own (a
		// lookup that failed reads as "does not exist"); the connection
		// saw the conflict itself.
		if t != nil && t.q.fail != nil && err != nil {
			err = t.q.fail
		}
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+rand.IntN(attempt+1)) * time.Millisecond): // jittered, so the two sides do not meet again
		}
	}
	return err
}

// retryable reports a serialization failure or deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// Reset implements store.Store.
func (s *Store) Reset(ctx context.Context) error {
	return s.Update(ctx, func(t store.Tx) error {
		for _, table := range []string{"resources", "idempotency"} {
			if _, err := t.(*tx).q.Exec(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		return nil
	})
}

type tx struct {
	ctx    context.Context
	q      *conn
	topics []string
}

// conn is a transaction that remembers the first serialization failure
// or deadlock any of its statements met.
type conn struct {
	pgx.Tx
	fail error
}

func (c *conn) note(err error) error {
	if c.fail == nil && retryable(err) {
		c.fail = err
	}
	return err
}

func (c *conn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := c.Tx.Exec(ctx, sql, args...)
	return tag, c.note(err)
}

func (c *conn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := c.Tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, c.note(err)
	}
	return notedRows{Rows: rows, c: c}, nil
}

func (c *conn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return notedRow{row: c.Tx.QueryRow(ctx, sql, args...), c: c}
}

type notedRows struct {
	pgx.Rows
	c *conn
}

func (r notedRows) Err() error { return r.c.note(r.Rows.Err()) }

type notedRow struct {
	row pgx.Row
	c   *conn
}

func (r notedRow) Scan(dest ...any) error { return r.c.note(r.row.Scan(dest...)) }

func (t *tx) Notify(topic string) {
	if !slices.Contains(t.topics, topic) {
		t.topics = append(t.topics, topic)
	}
}

const recordCols = store.RecordColumns

func (t *tx) Get(scope store.Scope, kind, id string) (*store.Record, error) {
	r, err := store.ScanRecord(t.q.QueryRow(t.ctx, `SELECT `+recordCols+` FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND id = $4`,
		scope.Account, scope.Region, kind, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return r, err
}

func (t *tx) GetMany(scope store.Scope, kind string, ids []string) (map[string]*store.Record, error) {
	if len(ids) == 0 {
		return map[string]*store.Record{}, nil
	}
	rows, err := t.q.Query(t.ctx, `SELECT `+recordCols+` FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND id = ANY($4)`,
		scope.Account, scope.Region, kind, ids)
	if err != nil {
		return nil, err
	}
	recs, err := store.CollectRecords(rows, 0)
	return store.ByID(recs), err
}

func (t *tx) Insert(r *store.Record) error {
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(t.ctx, `INSERT INTO resources (`+recordCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		r.Account, r.Region, r.Kind, r.ID, r.Parent, []byte(r.SortKey), r.Created.UnixMilli(), r.Updated.UnixMilli(), tags, r.Body)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

func (t *tx) Update(r *store.Record) error {
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(t.ctx, `UPDATE resources SET parent = $1, sort_key = $2, updated_ms = $3, tags = $4, body = $5
		WHERE account = $6 AND region = $7 AND kind = $8 AND id = $9`,
		r.Parent, []byte(r.SortKey), r.Updated.UnixMilli(), tags, r.Body, r.Account, r.Region, r.Kind, r.ID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) Delete(scope store.Scope, kind, id string) error {
	tag, err := t.q.Exec(t.ctx, `DELETE FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND id = $4`, scope.Account, scope.Region, kind, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) List(q store.ListQuery) ([]*store.Record, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := t.q.Query(t.ctx, `SELECT `+recordCols+` FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND parent = $4 AND sort_key > $5
		ORDER BY sort_key LIMIT $6`, q.Account, q.Region, q.Kind, q.Parent, []byte(q.After), limit)
	if err != nil {
		return nil, err
	}
	return store.CollectRecords(rows, 0)
}

func (t *tx) Count(scope store.Scope, kind, parent string) (int, error) {
	var n int
	err := t.q.QueryRow(t.ctx, `SELECT count(*) FROM resources WHERE account = $1 AND region = $2 AND kind = $3 AND parent = $4`,
		scope.Account, scope.Region, kind, parent).Scan(&n)
	return n, err
}

func (t *tx) Idempotency(k store.IdempotencyKey) (*store.IdempotencyRecord, error) {
	r := &store.IdempotencyRecord{IdempotencyKey: k}
	var created int64
	err := t.q.QueryRow(t.ctx, `SELECT fingerprint, result, created_ms FROM idempotency WHERE account = $1 AND region = $2 AND operation = $3 AND token = $4`,
		k.Account, k.Region, k.Operation, k.Token).Scan(&r.Fingerprint, &r.Result, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	r.Created = time.UnixMilli(created).UTC()
	return r, nil
}

func (t *tx) PutIdempotency(r *store.IdempotencyRecord) error {
	// ON CONFLICT turns a concurrent use of the token on another replica
	// into a serialization failure: the transaction runs again and replays.
	tag, err := t.q.Exec(t.ctx, `INSERT INTO idempotency (account, region, operation, token, fingerprint, result, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`, r.Account, r.Region, r.Operation, r.Token, r.Fingerprint, r.Result, r.Created.UnixMilli())
	if err == nil && tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return err
}

func (t *tx) Meta(key string) ([]byte, error) {
	var v []byte
	err := t.q.QueryRow(t.ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return v, err
}

func (t *tx) PutMeta(key string, value []byte) error {
	_, err := t.q.Exec(t.ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}
