// Package app wires a Slipway process together: store, services, protocol
// server and admin endpoints. cmd/slipway and the tests both start it here.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/clock"
	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/events"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
	"github.com/slipway-dev/slipway/internal/imagebuilder/ibhttp"
	"github.com/slipway-dev/slipway/internal/lambda"
	"github.com/slipway-dev/slipway/internal/metrics"
	"github.com/slipway-dev/slipway/internal/objstore"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/s3api"
	"github.com/slipway-dev/slipway/internal/sftpd"
	"github.com/slipway-dev/slipway/internal/sigv4"
	"github.com/slipway-dev/slipway/internal/sns"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/store/pgstore"
	"github.com/slipway-dev/slipway/internal/store/sqlitestore"
	"github.com/slipway-dev/slipway/internal/transfer"
	"github.com/slipway-dev/slipway/internal/transfer/tfhttp"
	"github.com/slipway-dev/slipway/internal/ui"
)

// Version is the Slipway version, set at link time (-X) or from build info.
var Version = ""

// VersionString reports the build's version.
func VersionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// App is a running Slipway.
type App struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	raw     store.Store // the store without the metrics wrapper
	engine  *engine.Engine
	sftp    *sftpd.Supervisor
	tf      *transfer.Service
	ib      *imagebuilder.Service
	api     *awsproto.Server
	clock   *clock.Clock
	objects *objstore.Local
	efsDir  string
	tmpDir  string // --in-memory: the files behind buckets, removed at shutdown
	// stopGC ends the start-up removal of leftover files; gcDone closes
	// when it has ended.
	stopGC func()
	gcDone chan struct{}
	// events feeds the live event streams; closed before the store.
	events *events.Dispatcher
	// unlistenClock stops following clock moves made through other replicas.
	unlistenClock func()
	base          string // where Transfer files live
	services      []*awsproto.Service
	handler       http.Handler
	server        *http.Server
}

const tokenKeyMeta = "pagetoken-key"

// New opens the store and builds the services.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st store.Store
	var err error
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	switch {
	case cfg.DatabaseURL != "" && cfg.InMemory:
		return nil, errors.New("--database-url and --in-memory exclude each other")
	case cfg.DatabaseURL != "":
		st, err = pgstore.Open(ctx, cfg.DatabaseURL)
	case cfg.InMemory:
		st, err = sqlitestore.OpenMemory(ctx)
	default:
		st, err = sqlitestore.Open(ctx, cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	var tf *transfer.Service        // read by a gauge once it exists
	var ibRef *imagebuilder.Service // likewise
	base := st
	m := metrics.New(map[string]func() float64{
		"slipway_engine_queue_depth": func() float64 { n, _ := engine.QueueDepth(context.Background(), base); return float64(n) },
		"slipway_workflow_gates_waiting": func() float64 {
			if ibRef == nil {
				return 0
			}
			n, _ := ibRef.WaitingGates(context.Background())
			return float64(n)
		},
		"slipway_custom_steps_waiting": func() float64 {
			if tf == nil {
				return 0
			}
			n, _ := tf.WaitingCount(context.Background())
			return float64(n)
		},
	})
	if sq, ok := st.(*sqlitestore.Store); ok {
		m.Speculation(func() map[string]int64 {
			x := sq.Speculation()
			return map[string]int64{"answered": x.Answered, "applied": x.Applied, "conflict": x.Conflicts, "mismatch": x.Mismatches, "unspeculable": x.Unspeculable}
		})
	}
	st = m.Store(st)
	key, err := tokenKey(ctx, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	tokens := pagetoken.New(key)

	creds := append([]sigv4.Credential{DefaultCredential}, cfg.Credentials...)
	verifier := sigv4.NewVerifier(creds, nil)
	if cfg.AcceptAnyCredentials {
		verifier.AcceptAnyKeys(DefaultAccount)
		log.Warn("--accept-any-credentials: requests signed with unknown access keys are admitted without checking their signatures")
	}

	clk, err := openClock(ctx, st, cfg.ClockControl)
	if err != nil {
		st.Close()
		return nil, err
	}
	ib := imagebuilder.New(st, tokens, clk.Now)
	ibRef = ib
	ib.StepDelay = cfg.StepDelay
	// The embedded store has one process: leases left by a previous run are
	// stale, and claims need not be written.
	eng := engine.New(st, log, engine.Options{Exclusive: st.Engine() == "sqlite", Lease: cfg.EngineLease, Now: clk.Now, Observe: m.EngineItem, Reclaimed: m.Reclaimed})
	ib.RegisterEngine(eng)
	dispatcher := &events.Dispatcher{Targets: cfg.Events, Credentials: cfg.OutboundCredentials()}
	dispatcher.Register(eng)
	ibSvc := awsproto.NewService("imagebuilder")
	ibhttp.Register(ibSvc, ib)
	a := &App{cfg: cfg, log: log, store: st, raw: base, engine: eng, clock: clk, ib: ib}
	clk.OnAdvance = func(off time.Duration) {
		a.saveClock(off)
		eng.Wake() // work may be due now
	}
	if cfg.ClockControl {
		// Listener callbacks must not block: read the offset elsewhere.
		unlisten := st.Listen(topicClock, func() { go a.followClock() })
		a.unlistenClock = unlisten
	}

	if err := a.openFiles(ctx); err != nil {
		st.Close()
		return nil, err
	}
	tf = transfer.New(st, tokens, clk.Now)
	tf.Observe, ib.Observe = m.Outcome, m.Outcome
	tf.Lambda = &lambda.Client{Endpoint: cfg.LambdaEndpoint, Functions: cfg.LambdaFunctions, Credentials: cfg.OutboundCredentials()}
	var files objstore.Store = a.objects
	if cfg.S3Endpoint != "" {
		region := cfg.S3Region
		if region == "" {
			region = "us-east-1"
		}
		remote, err := objstore.NewRemote(cfg.S3Endpoint, region, cfg.OutboundCredentials(), filepath.Join(a.base, "spool"))
		if err != nil {
			a.closeFiles()
			st.Close()
			return nil, err
		}
		files = remote
	}
	tf.Objects, tf.EFSDir, tf.PGPKeys = files, a.efsDir, cfg.PGPKeys
	ib.Notifier = notifier{sns: &sns.Client{Endpoint: cfg.SNSEndpoint, Credentials: cfg.OutboundCredentials()}, lambda: tf.Lambda}
	ib.ReadS3 = readS3(files)
	a.tf = tf
	tf.RegisterEngine(eng)
	a.sftp = sftpd.New(tf, files, a.efsDir, cfg.sftpBind(), log)
	a.sftp.Hooks = tf
	a.sftp.Metrics = m
	tf.PortFree = a.sftp.PortFree
	tf.OnServerChange = a.sftp.Changed
	tfSvc := awsproto.NewService("transfer")
	tfhttp.Register(tfSvc, tf)
	a.services = []*awsproto.Service{ibSvc, tfSvc}
	if err := eng.Start(context.WithoutCancel(ctx)); err != nil {
		a.closeFiles()
		st.Close()
		return nil, err
	}
	if err := a.sftp.Start(ctx); err != nil {
		eng.Stop()
		a.closeFiles()
		st.Close()
		return nil, err
	}
	if a.shared() {
		a.sftp.Watch(st, 2*time.Second)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_slipway/health", a.health)
	mux.HandleFunc("GET /_slipway/version", a.versionHandler)
	mux.HandleFunc("POST /_slipway/reset", a.reset)
	mux.Handle("GET /_slipway/metrics", m.Handler())
	mux.Handle("GET /_slipway/events", dispatcher)
	dash := &ui.Server{IB: ib, TF: tf, Open: cfg.UIOpen, Credentials: creds, DefaultAccount: DefaultAccount}
	if err := dash.Init(); err != nil {
		a.sftp.Stop()
		eng.Stop()
		a.closeFiles()
		st.Close()
		return nil, err
	}
	mux.Handle("/_slipway/ui/", dash)
	mux.HandleFunc("GET /_slipway/clock", a.getClock)
	mux.HandleFunc("GET /_slipway/imagebuilder/amis", a.amis)
	mux.HandleFunc("PUT /_slipway/imagebuilder/amis/{id}", a.setAMI)
	mux.HandleFunc("GET /_slipway/imagebuilder/notifications", a.notifications)
	mux.HandleFunc("POST /_slipway/imagebuilder/lifecycle-policies/run", a.runPolicy)
	mux.HandleFunc("PUT /_slipway/imagebuilder/scan-findings", a.setScanFindings)
	mux.HandleFunc("POST /_slipway/clock", a.moveClock)
	mux.HandleFunc("GET /_slipway/transfer/invocations", a.invocations)
	mux.HandleFunc("GET /_slipway/transfer/logs", a.transferLogs)
	api := awsproto.NewServer(verifier, log, ibSvc, tfSvc)
	api.Observe = m.Request
	a.api = api
	if cfg.CheckResponses {
		api.CheckResponses = func(service, op string, problems []string) {
			log.Error("response does not match the model", "service", service, "operation", op, "problems", problems)
		}
	}
	var s3 http.Handler = s3api.New(a.objects, verifier, log)
	if cfg.S3Endpoint != "" {
		s3 = s3api.Elsewhere(cfg.S3Endpoint)
	}
	a.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/_slipway/"):
			mux.ServeHTTP(w, r)
		case s3api.Signed(r):
			s3.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
	a.server = &http.Server{Handler: a.handler, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	a.server.RegisterOnShutdown(dispatcher.Close) // event streams never end on their own
	// Last, so that no error path above leaves the reader running.
	if err := dispatcher.Watch(st, 2*time.Second, log); err != nil {
		a.sftp.Stop()
		eng.Stop()
		a.closeFiles()
		st.Close()
		return nil, err
	}
	a.events = dispatcher
	return a, nil
}

// tokenKey loads (or creates, once) the key pagination tokens are signed
// with. It lives in the store so tokens survive restarts and replicas agree.
func tokenKey(ctx context.Context, st store.Store) ([]byte, error) {
	var key []byte
	err := st.Update(ctx, func(tx store.Tx) error {
		k, err := tx.Meta(tokenKeyMeta)
		if err == nil {
			key = k
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return tx.PutMeta(tokenKeyMeta, key)
	})
	return key, err
}

// CheckResponses makes every successful AWS API response be checked
// against the model's output shape, reporting mismatches to fn (tests use
// it; --check-responses logs them). Call it before serving.
func (a *App) CheckResponses(fn func(service, operation string, problems []string)) {
	a.api.CheckResponses = fn
}

// Handler returns the HTTP handler serving the AWS APIs and /_slipway/.
func (a *App) Handler() http.Handler { return a.handler }

// Serve serves on ln until Shutdown.
func (a *App) Serve(ln net.Listener) error {
	err := a.server.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, lets in-flight ones finish, and closes
// the store. Every acknowledged write is already committed.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.server.Shutdown(ctx)
	if a.unlistenClock != nil {
		a.unlistenClock()
	}
	a.events.Close()
	a.sftp.Stop()
	a.engine.Stop()
	a.closeFiles()
	return errors.Join(err, a.store.Close())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func (a *App) health(w http.ResponseWriter, r *http.Request) {
	services := map[string]any{}
	for _, s := range a.services {
		ops := s.Implemented()
		sort.Strings(ops)
		services[s.Model.Name] = map[string]any{"apiVersion": s.Model.APIVersion, "operations": ops}
	}
	st := map[string]any{"engine": a.store.Engine(), "inMemory": a.cfg.InMemory}
	if !a.cfg.InMemory {
		st["dataDir"] = a.cfg.DataDir
	}
	status, code := "ok", http.StatusOK
	if err := a.store.View(r.Context(), func(tx store.Tx) error { _, err := tx.Meta(tokenKeyMeta); return err }); err != nil {
		status, code = "unavailable", http.StatusServiceUnavailable
		st["error"] = err.Error()
	}
	writeJSON(w, code, map[string]any{"status": status, "version": VersionString(), "services": services, "store": st,
		"sftpEndpoints": a.sftp.Endpoints()})
}

func (a *App) versionHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": VersionString()})
}

func (a *App) reset(w http.ResponseWriter, r *http.Request) {
	a.sftp.CloseAll()
	err := a.store.Reset(r.Context())
	if err == nil {
		// Other replicas close their endpoints too.
		err = a.store.Update(r.Context(), func(tx store.Tx) error { tx.Notify(transfer.TopicServers); return nil })
	}
	if err == nil {
		err = a.objects.GC(r.Context(), a.gcHorizon())
	}
	if err == nil {
		err = a.resetEFS()
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	a.log.Info("state reset", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"reset": true})
}

// shared reports a store other replicas may use at the same time.
func (a *App) shared() bool { return a.cfg.DatabaseURL != "" }

// Describe returns a one-line summary for the start-up log.
func (a *App) Describe() string {
	switch {
	case a.cfg.InMemory:
		return "store=memory"
	case a.cfg.DatabaseURL != "":
		return fmt.Sprintf("store=postgres data-dir=%s", a.cfg.DataDir)
	}
	return fmt.Sprintf("store=sqlite data-dir=%s", a.cfg.DataDir)
}

// serverGCPercent is the collector's target for a serving process: heap
// growth of twice the live heap between collections instead of Go's once.
// A serving Slipway keeps tens of MiB live (its caches) and allocates tens
// of KiB per request: under load the collector's marking fell from 12% of
// the CPU to 6%, for a larger heap (docs/decisions.md).
const serverGCPercent = 200

// TuneGC sets the collector for a serving process, unless the operator
// chose with GOGC.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}
