package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/storetest"
)

func TestFileStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenMemory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	scope := store.Scope{Account: "1", Region: "r"}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(&store.Record{Scope: scope, Kind: "k", ID: "a", SortKey: "a", Body: []byte("{}")})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dir) // migrations are not re-applied
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Get(scope, "k", "a"); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestSpeculationIsSerializable drives Updates whose writes depend on what
// they read, concurrently, on the file store where they run speculatively:
// the outcome must be that of running them one at a time, and the writer
// must have applied speculations (and had to re-run conflicting ones), so
// the test covers both paths.
func TestSpeculationIsSerializable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openFile(t)
	// The writers usually overlap, so some speculations conflict; on a
	// fast machine they may all run in turn, so the round is repeated
	// (each in a scope of its own) until both paths were taken.
	for round := 0; round < 50; round++ {
		serializableRound(t, ctx, s, store.Scope{Account: fmt.Sprint(round), Region: "r"})
		if st := s.Speculation(); st.Applied > 0 && st.Conflicts > 0 {
			return
		}
	}
	t.Fatalf("speculation paths not both taken: %+v", s.Speculation())
}

func serializableRound(t *testing.T, ctx context.Context, s *Store, scope store.Scope) {
	rec := func(kind, id string, body string) *store.Record {
		return &store.Record{Scope: scope, Kind: kind, ID: id, SortKey: id, Body: []byte(body)}
	}
	// Each writer takes a slot only while fewer than limit are taken (a
	// Count, so a phantom would overfill it), and bumps a counter it read.
	const writers, limit = 40, 7
	var wg sync.WaitGroup
	took := make([]bool, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				took[i] = false
				if _, err := store.Next(tx, scope, "counter", "c", time.Now()); err != nil {
					return err
				}
				n, err := tx.Count(scope, "slot", "")
				if err != nil || n >= limit {
					return err
				}
				took[i] = true
				return tx.Insert(rec("slot", fmt.Sprintf("s%02d", i), "{}"))
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	taken := 0
	for _, ok := range took {
		if ok {
			taken++
		}
	}
	err := s.View(ctx, func(tx store.Tx) error {
		n, err := tx.Count(scope, "slot", "")
		if err != nil {
			return err
		}
		c, err := tx.Get(scope, "counter", "c")
		if err != nil {
			return err
		}
		if n != limit || taken != limit || string(c.Body) != fmt.Sprint(writers) {
			return fmt.Errorf("%d slots stored, %d writers think they took one, counter %s; want %d, %d, %d", n, taken, c.Body, limit, limit, writers)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSpeculatedInsertThatFails: a speculation assumes an Insert of an
// unknown ID succeeds; when the replay finds the sort key taken, the
// writer runs the function, which sees ErrExists and takes another path.
func TestSpeculatedInsertThatFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openFile(t)
	scope := store.Scope{Account: "1", Region: "r"}
	put := func(id, sortKey string) *store.Record {
		return &store.Record{Scope: scope, Kind: "k", ID: id, SortKey: sortKey, Body: []byte("{}")}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(put("a", "1")) }); err != nil {
		t.Fatal(err)
	}
	var fellBack bool
	err := s.Update(ctx, func(tx store.Tx) error {
		fellBack = false
		if err := tx.Insert(put("b", "1")); errors.Is(err, store.ErrExists) {
			fellBack = true
			return tx.Insert(put("c", "2"))
		} else {
			return err
		}
	})
	if err != nil || !fellBack {
		t.Fatalf("update: %v, saw ErrExists: %v", err, fellBack)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(scope, "k", "b"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("b: %v", err)
		}
		_, err := tx.Get(scope, "k", "c")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Speculation(); st.Mismatches != 1 {
		t.Fatalf("want one mismatch: %+v", st)
	}
}

// TestVersionsForgetOldSnapshots: once the generations have turned over,
// a snapshot older than what is remembered conflicts, and a recent one
// does not.
func TestVersionsForgetOldSnapshots(t *testing.T) {
	t.Parallel()
	v := newVersions()
	k := recordKey(store.Scope{Account: "1", Region: "r"}, "k", "a")
	reads := map[vkey]struct{}{k: {}}
	old := v.committed.Load()
	for i := 0; i < 2*generation+1; i++ {
		n := v.begin()
		v.wrote(recordKey(store.Scope{Account: "1", Region: "r"}, "other", fmt.Sprint(i)))
		v.end(n)
	}
	if v.unchanged(old, reads) {
		t.Fatal("a snapshot from before two generations counts as current")
	}
	if !v.unchanged(v.committed.Load(), reads) {
		t.Fatal("a current snapshot conflicts")
	}
	n := v.begin()
	v.wrote(k)
	if v.unchanged(n-1, reads) {
		t.Fatal("a write in the running batch is not seen")
	}
	v.forgetAll()
	v.end(n)
	if v.unchanged(n-1, map[vkey]struct{}{}) {
		t.Fatal("a snapshot from before a reset counts as current")
	}
}

// TestViewsStayConsistentWithTheCache: writers keep two records equal to
// the number of records of a third kind, readers read all three ways (the
// record and query caches serve what they can, SQL the rest) and must
// never see them differ.
func TestViewsStayConsistentWithTheCache(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func() (*Store, error){
		"file":   func() (*Store, error) { return Open(context.Background(), t.TempDir()) },
		"memory": func() (*Store, error) { return OpenMemory(context.Background()) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			scope := store.Scope{Account: "1", Region: "r"}
			put := func(tx store.Tx, id string, n int, insert bool) error {
				r := &store.Record{Scope: scope, Kind: "k", ID: id, SortKey: id, Body: []byte(fmt.Sprint(n))}
				if insert {
					return tx.Insert(r)
				}
				return tx.Update(r)
			}
			if err := s.Update(ctx, func(tx store.Tx) error {
				return errors.Join(put(tx, "a", 0, true), put(tx, "b", 0, true))
			}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for w := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 1; i <= 60; i++ {
						err := s.Update(ctx, func(tx store.Tx) error {
							if w%2 == 0 { // some read first, so the cache has entries of both kinds
								if _, err := tx.Get(scope, "k", "a"); err != nil {
									return err
								}
							}
							id := fmt.Sprintf("n%d-%03d", w, i)
							if err := tx.Insert(&store.Record{Scope: scope, Kind: "n", ID: id, SortKey: id, Body: []byte("{}")}); err != nil {
								return err
							}
							n, err := tx.Count(scope, "n", "")
							if err != nil {
								return err
							}
							return errors.Join(put(tx, "a", n, false), put(tx, "b", n, false))
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			var bad atomic.Int64
			var readers sync.WaitGroup
			for range 3 {
				readers.Add(1)
				go func() {
					defer readers.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						var same bool // the result: set by the run View keeps
						err := s.View(ctx, func(tx store.Tx) error {
							a, err := tx.Get(scope, "k", "a")
							if err != nil {
								return err
							}
							got, err := tx.GetMany(scope, "k", []string{"b"})
							if err != nil {
								return err
							}
							n, err := tx.Count(scope, "n", "")
							if err != nil {
								return err
							}
							l, err := tx.List(store.ListQuery{Scope: scope, Kind: "n", Limit: 1000})
							if err != nil {
								return err
							}
							same = string(a.Body) == string(got["b"].Body) && string(a.Body) == fmt.Sprint(n) && len(l) == n
							return nil
						})
						if err != nil {
							t.Error(err)
							return
						}
						if !same {
							bad.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			readers.Wait()
			if bad.Load() > 0 {
				t.Fatalf("%d reads saw the two records differ", bad.Load())
			}
		})
	}
}

// TestCachesStayWithinTheirBudget: however much is put, a cache holds at
// most its byte budget, and an entry alone over an eighth of it is not
// kept.
func TestCachesStayWithinTheirBudget(t *testing.T) {
	t.Parallel()
	c := newRecordCache()
	scope := store.Scope{Account: "1", Region: "r"}
	body := make([]byte, 4000)
	for i := range 10000 {
		c.put(recordKey(scope, "k", fmt.Sprint(i)), &store.Record{Scope: scope, Kind: "k", ID: fmt.Sprint(i), Body: body}, 1)
		if c.b.bytes > cacheBytes {
			t.Fatalf("%d bytes held after %d puts", c.b.bytes, i+1)
		}
	}
	big := &store.Record{Scope: scope, Kind: "k", ID: "big", Body: make([]byte, cacheBytes/4)}
	c.put(recordKey(scope, "k", "big"), big, 2)
	if _, ok := c.b.get(recordKey(scope, "k", "big")); ok {
		t.Fatal("an entry of a quarter of the budget was kept")
	}
}

// openFile opens a file store in a temporary directory for one test.
func openFile(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestUpdatesAnswerAfterTheLogIsSynced holds the syncer's fsync and checks
// that no Update returns meanwhile (the writer commits without waiting for
// the disk) and that a failed fsync fails the Updates it covered.
func TestUpdatesAnswerAfterTheLogIsSynced(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := make(chan error)
	entered := make(chan struct{}, 16)
	var syncs atomic.Int32
	s.durable.syncFn = func() error {
		syncs.Add(1)
		entered <- struct{}{}
		return <-release
	}
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	put := func(id string) error {
		return s.Update(context.Background(), func(tx store.Tx) error {
			return tx.Insert(&store.Record{Scope: scope, Kind: "thing", ID: id, SortKey: id, Body: []byte(`{}`)})
		})
	}
	done := make(chan error, 8)
	go func() { done <- put("a") }()
	<-entered // a's batch committed and waits for its sync
	// Batches committed while a sync runs wait for the next one, together.
	for _, id := range []string{"b", "c", "d"} {
		go func() { done <- put(id) }()
	}
	waitFor(t, func() bool {
		var n int
		_ = s.View(context.Background(), func(tx store.Tx) error {
			var err error
			n, err = tx.Count(scope, "thing", "")
			return err
		})
		return n == 4 // committed and visible, not yet answered
	})
	select {
	case err := <-done:
		t.Fatalf("an Update returned before its sync: %v", err)
	default:
	}
	release <- nil // a's sync
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// b, c and d committed while a's sync ran: the next sync answers them
	// (a batch that called after() late may need one more).
	go func() {
		for range entered {
			release <- errors.New("disk gone")
		}
	}()
	for range 3 {
		if err := <-done; err == nil || !strings.Contains(err.Error(), "disk gone") {
			t.Fatalf("after a failed sync: %v", err)
		}
	}
	if n := syncs.Load(); n < 2 || n > 4 {
		t.Fatalf("%d syncs for 4 updates", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUnsyncedUpdatesDoNotWaitForTheSync holds every fsync: an Update made
// with store.Unsynced returns once committed, while an ordinary one in the
// same moment still waits, and the sync is asked for either way.
func TestUnsyncedUpdatesDoNotWaitForTheSync(t *testing.T) {
	t.Parallel()
	s := openFile(t)
	release := make(chan struct{})
	var syncs atomic.Int32
	s.durable.syncFn = func() error {
		syncs.Add(1)
		<-release
		return nil
	}
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	put := func(ctx context.Context, id string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.Insert(&store.Record{Scope: scope, Kind: "thing", ID: id, SortKey: id, Body: []byte(`{}`)})
		})
	}
	acked := make(chan error, 1)
	go func() { acked <- put(context.Background(), "acked") }()
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	unsynced := make(chan error, 1)
	go func() { unsynced <- put(store.Unsynced(context.Background()), "unsynced") }()
	select {
	case err := <-unsynced:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an unsynced Update waited for the sync")
	}
	err := s.View(context.Background(), func(tx store.Tx) error {
		_, err := tx.Get(scope, "thing", "unsynced")
		return err
	})
	if err != nil {
		t.Fatalf("an unsynced Update returned before its commit was visible: %v", err)
	}
	waitFor(t, func() bool { return syncs.Load() > 0 })
	select {
	case err := <-acked:
		t.Fatalf("an ordinary Update returned before its sync: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	free()
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
}

// TestQueriesUseIndexes checks every prepared query's plan on the
// migrated schema: none may scan the resources table.
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	s := openFile(t)
	for _, q := range queries {
		if !strings.Contains(q, "resources") {
			continue
		}
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = "x"
		}
		rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN resources") {
				t.Errorf("%s\nscans: %v", q, plan)
			}
		}
		t.Logf("%.60s: %v", q, plan)
	}
}

// TestRowidMigrationKeepsRecords builds a database at the first schema,
// with records small and large (spilled to overflow pages there), and
// checks that opening it migrates every record intact, lists included.
func TestRowidMigrationKeepsRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrations.ReadFile("migrations/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	scope := store.Scope{Account: "000000000000", Region: "us-east-1"}
	want := map[string]*store.Record{}
	stmts := []string{string(first),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for i, size := range []int{10, 1000, 3000, 9000} {
		id := fmt.Sprintf("r%d", i)
		r := &store.Record{Scope: scope, Kind: "thing", ID: id, Parent: "p", SortKey: fmt.Sprintf("%03d", i),
			Created: time.UnixMilli(int64(1000 + i)).UTC(), Updated: time.UnixMilli(int64(2000 + i)).UTC(),
			Tags: map[string]string{"n": id}, Body: []byte(`"` + strings.Repeat("b", size) + `"`)}
		want[id] = r
		_, err := db.Exec(`INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?,?)`, r.Account, r.Region, r.Kind, r.ID, r.Parent, r.SortKey,
			r.Created.UnixMilli(), r.Updated.UnixMilli(), `{"n":"`+id+`"}`, r.Body)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(store.ListQuery{Scope: scope, Kind: "thing", Parent: "p"})
		if err != nil {
			return err
		}
		if len(recs) != len(want) {
			return fmt.Errorf("listed %d of %d records", len(recs), len(want))
		}
		for i, got := range recs {
			w := want[got.ID]
			if w == nil || got.SortKey != fmt.Sprintf("%03d", i) || string(got.Body) != string(w.Body) || got.Tags["n"] != got.ID ||
				!got.Created.Equal(w.Created) || !got.Updated.Equal(w.Updated) {
				return fmt.Errorf("record %d came back as %s %s (%d bytes)", i, got.ID, got.SortKey, len(got.Body))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
