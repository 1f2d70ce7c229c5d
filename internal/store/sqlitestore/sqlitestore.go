// Package sqlitestore is the embedded store: SQLite (pure Go, no cgo) in WAL
// mode with one writer connection and BEGIN IMMEDIATE transactions, so writers
// never fail on lock upgrades and readers never block the writer.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file inside the data directory.
const FileName = "slipway.db"

// Store is the SQLite store.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	// Statements prepared once per pool, before any transaction: parsing
	// SQL dominated the cost of a request before they were.
	stmts map[*sql.DB]map[string]*sql.Stmt

	// Group commit: Update calls queue here, and one goroutine runs the
	// queued ones together in one transaction (each in a savepoint of its
	// own), so concurrent writers share one fsync.
	reqs      chan *writeReq
	quit      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	durable   *syncer // nil in memory

	// vers numbers write batches and remembers what each wrote, so Update
	// can run functions speculatively on a snapshot (speculate.go; not on
	// the in-memory store, whose one connection cannot read beside the
	// writer) and reads can trust the record cache (view.go).
	vers    *versions
	cache   *recordCache
	queries *queryCache
	stats   struct{ answered, applied, conflicts, mismatches, unspeculable atomic.Int64 }

	hub store.Hub
}

// SpeculationStats counts what became of speculative Updates.
type SpeculationStats struct {
	// Answered wrote nothing and returned from the snapshot; Applied had
	// their writes applied as speculated. Conflicts read something written
	// since their snapshot, Mismatches had a write turn out otherwise than
	// assumed, and Unspeculable could not run on a snapshot; the writer
	// ran the function of each of these.
	Answered, Applied, Conflicts, Mismatches, Unspeculable int64
}

// Speculation reports the counts since Open.
func (s *Store) Speculation() SpeculationStats {
	return SpeculationStats{Answered: s.stats.answered.Load(), Applied: s.stats.applied.Load(), Conflicts: s.stats.conflicts.Load(),
		Mismatches: s.stats.mismatches.Load(), Unspeculable: s.stats.unspeculable.Load()}
}

const (
	recordCols = store.RecordColumns
	qGet       = `SELECT ` + recordCols + ` FROM resources WHERE account = ? AND region = ? AND kind = ? AND id = ?`
	qExists    = `SELECT 1 FROM resources WHERE account = ? AND region = ? AND kind = ? AND id = ?`
	// The IDs arrive as one JSON array, so one prepared statement serves
	// any number of them.
	qGetMany = `SELECT ` + recordCols + ` FROM resources WHERE account = ? AND region = ? AND kind = ? AND id IN (SELECT value FROM json_each(?))`
	qInsert  = `INSERT INTO resources (` + recordCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	qUpdate  = `UPDATE resources SET parent = ?, sort_key = ?, updated_ms = ?, tags = ?, body = ? WHERE account = ? AND region = ? AND kind = ? AND id = ?`
	// qUpdateBody leaves the indexes alone, which a SET of their columns
	// rewrites even to the same values; most updates keep them.
	qUpdateBody = `UPDATE resources SET updated_ms = ?, tags = ?, body = ? WHERE account = ? AND region = ? AND kind = ? AND id = ? AND parent = ? AND sort_key = ?`
	qDelete     = `DELETE FROM resources WHERE account = ? AND region = ? AND kind = ? AND id = ?`
	// No LIMIT: SQLite 3.46+ re-prepares a statement whose LIMIT is a bound
	// parameter on every run (the value feeds the planner), which cost a
	// third of a list. The index gives the order, so List reads only the
	// rows it needs and stops.
	qList    = `SELECT ` + recordCols + ` FROM resources WHERE account = ? AND region = ? AND kind = ? AND parent = ? AND sort_key > ? ORDER BY sort_key`
	qCount   = `SELECT count(*) FROM resources WHERE account = ? AND region = ? AND kind = ? AND parent = ?`
	qIdemGet = `SELECT fingerprint, result, created_ms FROM idempotency WHERE account = ? AND region = ? AND operation = ? AND token = ?`
	qIdemPut = `INSERT INTO idempotency (account, region, operation, token, fingerprint, result, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qMetaGet = `SELECT value FROM meta WHERE key = ?`
	qMetaPut = `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
)

var queries = []string{qGet, qExists, qGetMany, qInsert, qUpdate, qUpdateBody, qDelete, qList, qCount, qIdemGet, qIdemPut, qMetaGet, qMetaPut}

// prepare prepares every query on each pool; run it after migrating and
// before serving.
func (s *Store) prepare(ctx context.Context) error {
	s.stmts = map[*sql.DB]map[string]*sql.Stmt{}
	for _, db := range []*sql.DB{s.writer, s.reader} {
		if s.stmts[db] != nil {
			continue
		}
		set := map[string]*sql.Stmt{}
		for _, q := range queries {
			st, err := db.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("sqlitestore: prepare: %w", err)
			}
			set[q] = st
		}
		s.stmts[db] = set
	}
	return nil
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database in dir and migrates it.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// A commit is on disk before the client hears OK, so a power cut loses
	// nothing acknowledged: the writer commits with synchronous(NORMAL) and
	// the syncer fsyncs the log before anyone is answered (durable.go).
	common := "_pragma=busy_timeout(10000)&_pragma=temp_store(2)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	// Readers serve API reads and the engine's speculative writes (its
	// handlers run 64 at a time; a handler holds a connection only while
	// it reads).
	r.SetMaxOpenConns(8)
	s := &Store{writer: w, reader: r, vers: newVersions(), cache: newRecordCache(), queries: newQueryCache()}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Migrations committed without the syncer: make them durable now. Nobody
	// reads yet, so the log can also be emptied: a migration that copied
	// the resources table grew it to the table's size, and SQLite reuses a
	// log file without ever shrinking it.
	if _, err := w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		s.Close()
		return nil, err
	}
	s.durable = newSyncer(dir, path)
	s.startWriter()
	return s, nil
}

// OpenMemory opens a throwaway in-memory database (one connection).
func OpenMemory(ctx context.Context) (*Store, error) {
	db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// Batches are numbered here too, for the record cache reads use; the
	// one connection cannot read beside the writer, so nothing speculates.
	s := &Store{writer: db, reader: db, vers: newVersions(), cache: newRecordCache(), queries: newQueryCache()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.startWriter()
	return s, nil
}

// Engine implements store.Store.
func (s *Store) Engine() string { return "sqlite" }

// Close implements store.Store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.quit != nil {
			close(s.quit)
			<-s.loopDone
		}
		if s.durable != nil {
			s.durable.close()
		}
	})
	for _, set := range s.stmts {
		for _, st := range set {
			st.Close()
		}
	}
	err := s.writer.Close()
	if s.reader != s.writer {
		err = errors.Join(err, s.reader.Close())
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("sqlitestore: bad migration name %q", e.Name())
		}
		body, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return err
		}
		err = s.direct(ctx, func(t store.Tx) error {
			tx := t.(*tx)
			var n int
			if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.q.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", e.Name(), err)
			}
			_, err := tx.q.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)`, v, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlitestore: %w", err)
		}
	}
	return nil
}

// Update implements store.Store. The transaction may be shared with other
// concurrent Updates (group commit); each fn runs in a savepoint, so one
// that fails changes nothing and the others still commit. On the file
// store fn first runs speculatively on a snapshot (speculate.go): a
// result that wrote nothing is returned once its reads are shown
// current, and otherwise the writer applies its writes, or runs fn itself
// when what it read has changed.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.reader == s.writer || s.reqs == nil {
		return s.direct(ctx, fn)
	}
	sp := s.speculate(ctx, fn)
	// A speculation that wrote nothing assumed nothing, so once its reads
	// are shown current its result stands. One that wrote assumed each
	// write would succeed (a free ID and sort key), which only the writer
	// can prove: applying them when fn succeeded, running fn when it
	// failed, since the failure may come from an assumption.
	if sp != nil && len(sp.ops) == 0 && s.vers.unchanged(sp.at, sp.reads) {
		s.stats.answered.Add(1)
		if sp.err == nil {
			s.publish(sp.topics)
		}
		return sp.err
	}
	if sp != nil && (sp.err != nil || len(sp.ops) == 0) {
		sp = nil
	}
	return s.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, spec: sp, done: make(chan error, 1)})
}

// direct runs fn in the writer, never speculatively: for functions that
// need the SQL transaction itself (migrations, Reset) or whose reads are
// written by nearly every transaction (claims from the engine's queue).
func (s *Store) direct(ctx context.Context, fn func(store.Tx) error) error {
	if s.reqs == nil {
		return s.run(ctx, s.writer, false, fn)
	}
	return s.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

func (s *Store) enqueue(ctx context.Context, r *writeReq) error {
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			return ctx.Err() // it will never run
		}
		return <-r.done // it is running: its outcome stands
	}
}

var errClosed = errors.New("sqlitestore: store closed")

// writeReq is one queued Update.
type writeReq struct {
	ctx   context.Context
	fn    func(store.Tx) error
	spec  *speculation // when set, tried before fn
	done  chan error
	state atomic.Int32
}

const (
	reqPending int32 = iota
	reqRunning
	reqAbandoned
)

// maxBatch bounds how many Updates share a transaction.
const maxBatch = 128

func (s *Store) startWriter() {
	s.reqs, s.quit, s.loopDone = make(chan *writeReq, maxBatch), make(chan struct{}), make(chan struct{})
	go s.writeLoop()
}

// writeLoop runs queued Updates: the first waits for one, and everything
// queued while the previous batch committed joins the next.
func (s *Store) writeLoop() {
	defer close(s.loopDone)
	for {
		var first *writeReq
		select {
		case first = <-s.reqs:
		case <-s.quit:
			return
		}
		batch := []*writeReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(reqPending, reqRunning) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	errs := make([]error, len(live))
	wrote := false // set when the batch committed
	finish := func() {
		if s.durable == nil {
			for i, r := range live {
				r.done <- errs[i]
			}
			return
		}
		// Unsynced callers (store.Unsynced) are not kept for the sync, but
		// it is still asked for, so their writes are durable soon. They are
		// answered after the syncer is woken: the goroutine woken last runs
		// next on this core, and it should be the caller, not a syncer
		// about to block in fsync with the caller queued behind it.
		s.durable.after(wrote, func(syncErr error) {
			for i, r := range live {
				if store.IsUnsynced(r.ctx) {
					continue
				}
				if errs[i] == nil && syncErr != nil {
					errs[i] = fmt.Errorf("sqlitestore: sync: %w", syncErr)
				}
				r.done <- errs[i]
			}
		})
		for i, r := range live {
			if store.IsUnsynced(r.ctx) {
				r.done <- errs[i]
			}
		}
	}
	var n uint64
	if s.vers != nil {
		// Callers hear the outcome only after the batch counts as
		// committed, so their next snapshot is known to include it.
		n = s.vers.begin()
		defer finish()
		defer s.vers.end(n)
	} else {
		defer finish()
	}
	// A replay whose writes turn out otherwise than its speculation
	// assumed (rare: a free ID or sort key taken meanwhile) undoes the
	// whole batch, which then runs again with that request's function:
	// cheaper than a savepoint around every replay.
	for {
		redo, err := s.attempt(ctx, live, errs, n)
		wrote = err == nil
		if !redo {
			if err != nil {
				for i := range errs {
					if errs[i] == nil {
						errs[i] = err
					}
				}
			}
			return
		}
	}
}

// errRedo ends an attempt at a batch whose replay did not apply.
var errRedo = errors.New("sqlitestore: replay did not apply")

// attempt runs the batch in one transaction and commits it. It reports
// redo when a replay did not apply (its request now holds no speculation)
// and err when the transaction itself failed.
func (s *Store) attempt(ctx context.Context, live []*writeReq, errs []error, n uint64) (redo bool, err error) {
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: begin: %w", err)
	}
	shared := len(live) > 1
	ok := 0
	var topics []string
	var cached []cachedWrite
	for i, r := range live {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		t := &tx{ctx: ctx, q: sqlTx, s: s, db: s.writer, vers: s.vers}
		errs[i] = s.runOne(sqlTx, t, r, shared)
		if errors.Is(errs[i], errRedo) {
			_ = sqlTx.Rollback()
			clear(errs)
			return true, nil
		}
		if errs[i] == nil {
			ok++
			topics = append(topics, t.topics...)
			cached = append(cached, t.cached...)
		}
	}
	if ok == 0 {
		_ = sqlTx.Rollback()
		return false, nil
	}
	if err := sqlTx.Commit(); err != nil {
		return false, fmt.Errorf("sqlitestore: commit: %w", err)
	}
	for _, w := range cached {
		s.cache.put(w.k, w.rec, n)
	}
	s.publish(topics)
	return false, nil
}

// runOne runs one queued Update in the batch's transaction: the writes of
// its speculation when what that read is still current, otherwise its
// function, in a savepoint when others share the transaction so a failure
// changes nothing. A replay that does not apply returns errRedo.
func (s *Store) runOne(q *sql.Tx, t *tx, r *writeReq, shared bool) error {
	ctx := t.ctx
	if sp := r.spec; sp != nil {
		if !s.vers.unchanged(sp.at, sp.reads) {
			s.stats.conflicts.Add(1)
			r.spec = nil
		} else if err := sp.replay(t); err != nil {
			s.stats.mismatches.Add(1)
			r.spec = nil
			return errRedo
		} else {
			s.stats.applied.Add(1)
			t.topics = append(t.topics, sp.topics...)
			return nil
		}
	}
	if !shared {
		return runFn(r.fn, t)
	}
	if _, err := q.ExecContext(ctx, "SAVEPOINT g"); err != nil {
		return err
	}
	err := runFn(r.fn, t)
	if err != nil {
		if _, rerr := q.ExecContext(ctx, "ROLLBACK TO g"); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if _, rerr := q.ExecContext(ctx, "RELEASE g"); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// runFn runs a transaction function, turning a panic into its error so one
// caller's bug cannot take the writer down.
func runFn(fn func(store.Tx) error, t store.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlitestore: transaction panicked: %v", p)
		}
	}()
	return fn(t)
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.vers != nil {
		return s.view(ctx, fn)
	}
	return s.run(ctx, s.reader, s.reader != s.writer, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, readOnly bool, fn func(store.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("sqlitestore: begin: %w", err)
	}
	t := &tx{ctx: ctx, q: sqlTx, s: s, db: db}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: commit: %w", err)
	}
	s.publish(t.topics)
	return nil
}

// publish tells this process's listeners (the only process on the file).
func (s *Store) publish(topics []string) {
	seen := map[string]bool{}
	for _, t := range topics {
		if !seen[t] {
			seen[t] = true
			s.hub.Publish(t)
		}
	}
}

// Listen implements store.Store.
func (s *Store) Listen(topic string, fn func()) func() { return s.hub.Listen(topic, fn) }

// ClaimDue implements store.Store. One writer runs at a time here, so a
// write transaction already holds every record it reads.
func (s *Store) ClaimDue(ctx context.Context, q store.ListQuery, upTo string, fn func(store.Tx, []*store.Record) error) error {
	return s.direct(ctx, func(t store.Tx) error {
		recs, err := t.List(q)
		if err != nil {
			return err
		}
		n := 0
		for n < len(recs) && recs[n].SortKey <= upTo {
			n++
		}
		return fn(t, recs[:n])
	})
}

// Reset implements store.Store.
func (s *Store) Reset(ctx context.Context) error {
	return s.direct(ctx, func(t store.Tx) error {
		if s.vers != nil {
			s.vers.forgetAll()
		}
		q := t.(*tx).q
		for _, table := range []string{"resources", "idempotency"} {
			if _, err := q.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		return nil
	})
}

type tx struct {
	ctx    context.Context
	q      *sql.Tx
	s      *Store
	db     *sql.DB
	vers   *versions // the writer's: records what it writes
	topics []string
	// cached are the records this transaction wrote, for the record
	// cache once it commits (writer only).
	cached []cachedWrite
}

// wrote records a write for validating speculations.
func (t *tx) wrote(k vkey) {
	if t.vers != nil {
		t.vers.wrote(k)
	}
}

// wroteRecord remembers a record written (nil: deleted) for the cache.
func (t *tx) wroteRecord(k vkey, r *store.Record) {
	if t.vers != nil {
		if r != nil {
			r = written(r)
		}
		t.cached = append(t.cached, cachedWrite{k, r})
	}
}

func (t *tx) Notify(topic string) { t.topics = append(t.topics, topic) }

// stmt returns the pool's prepared statement for query, bound to the
// transaction. Every query is prepared at open, so a miss is a bug.
func (t *tx) stmt(query string) *sql.Stmt {
	st, ok := t.s.stmts[t.db][query]
	if !ok {
		panic("sqlitestore: statement not prepared: " + query)
	}
	return t.q.StmtContext(t.ctx, st)
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	return t.stmt(query).ExecContext(t.ctx, args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.stmt(query).QueryContext(t.ctx, args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	return t.stmt(query).QueryRowContext(t.ctx, args...)
}

func (t *tx) Get(scope store.Scope, kind, id string) (*store.Record, error) {
	row := t.queryRow(qGet,
		scope.Account, scope.Region, kind, id)
	r, err := store.ScanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return r, err
}

func (t *tx) GetMany(scope store.Scope, kind string, ids []string) (map[string]*store.Record, error) {
	if len(ids) == 0 {
		return map[string]*store.Record{}, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(qGetMany, scope.Account, scope.Region, kind, string(list))
	if err != nil {
		return nil, err
	}
	recs, err := store.CollectRecords(sqlRows{rows}, 0)
	return store.ByID(recs), err
}

func (t *tx) Insert(r *store.Record) error {
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return err
	}
	t.wrote(recordKey(r.Scope, r.Kind, r.ID))
	res, err := t.exec(qInsert,
		r.Account, r.Region, r.Kind, r.ID, r.Parent, r.SortKey, r.Created.UnixMilli(), r.Updated.UnixMilli(), tags, r.Body)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(store.ErrExists, err)
	}
	t.wroteRecord(recordKey(r.Scope, r.Kind, r.ID), r)
	return nil
}

func (t *tx) Update(r *store.Record) error {
	tags, err := store.EncodeTags(r.Tags)
	if err != nil {
		return err
	}
	t.wrote(recordKey(r.Scope, r.Kind, r.ID))
	res, err := t.exec(qUpdateBody,
		r.Updated.UnixMilli(), tags, r.Body, r.Account, r.Region, r.Kind, r.ID, r.Parent, r.SortKey)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		// Moved (or missing): the indexed columns change too.
		if res, err = t.exec(qUpdate,
			r.Parent, r.SortKey, r.Updated.UnixMilli(), tags, r.Body, r.Account, r.Region, r.Kind, r.ID); err != nil {
			return err
		}
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(store.ErrNotFound, err)
	}
	t.wroteRecord(recordKey(r.Scope, r.Kind, r.ID), r)
	return nil
}

func (t *tx) Delete(scope store.Scope, kind, id string) error {
	t.wrote(recordKey(scope, kind, id))
	res, err := t.exec(qDelete,
		scope.Account, scope.Region, kind, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(store.ErrNotFound, err)
	}
	t.wroteRecord(recordKey(scope, kind, id), nil)
	return nil
}

func (t *tx) List(q store.ListQuery) ([]*store.Record, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := t.query(qList, q.Account, q.Region, q.Kind, q.Parent, q.After)
	if err != nil {
		return nil, err
	}
	return store.CollectRecords(sqlRows{rows}, limit)
}

// sqlRows adapts database/sql's result set to store.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func (t *tx) Count(scope store.Scope, kind, parent string) (int, error) {
	var n int
	err := t.queryRow(qCount,
		scope.Account, scope.Region, kind, parent).Scan(&n)
	return n, err
}

func (t *tx) Idempotency(k store.IdempotencyKey) (*store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{IdempotencyKey: k}
	var created int64
	err := t.queryRow(qIdemGet,
		k.Account, k.Region, k.Operation, k.Token).Scan(&r.Fingerprint, &r.Result, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	r.Created = time.UnixMilli(created).UTC()
	return &r, err
}

func (t *tx) PutIdempotency(r *store.IdempotencyRecord) error {
	t.wrote(idemKey(r.IdempotencyKey))
	_, err := t.exec(qIdemPut,
		r.Account, r.Region, r.Operation, r.Token, r.Fingerprint, r.Result, r.Created.UnixMilli())
	return err
}

func (t *tx) Meta(key string) ([]byte, error) {
	var v []byte
	err := t.queryRow(qMetaGet, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return v, err
}

func (t *tx) PutMeta(key string, value []byte) error {
	t.wrote(metaKey(key))
	_, err := t.exec(qMetaPut, key, value)
	return err
}
