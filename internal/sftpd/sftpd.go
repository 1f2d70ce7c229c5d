// Package sftpd runs the SFTP endpoints of Transfer Family servers: one
// loopback listener per ONLINE server (port = the trailing digits of its ID),
// SSH with the server's host keys and security policy, and SFTP sessions over
// the user's home directory (S3 buckets through objstore, EFS directories
// confined with os.Root).
package sftpd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/objstore"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// Supervisor keeps each server's listener in step with its state.
type Supervisor struct {
	tf      *transfer.Service
	objects objstore.Store
	efsDir  string
	bind    string
	log     *slog.Logger
	// Hooks hears about finished and partial uploads.
	Hooks Hooks
	// Metrics, when set, counts sessions and bytes.
	Metrics Metrics

	mu        sync.Mutex
	endpoints map[string]*endpoint // by server ID
	locks     map[string]*idLock   // per server, while someone holds or waits
	wg        sync.WaitGroup
	stopped   bool
	watch     chan struct{} // closed by Stop: ends Watch
	kick      chan struct{}
}

// Metrics counts SFTP sessions and the bytes they move.
type Metrics interface {
	SFTPSession(delta int)
	SFTPBytes(direction string, n int64)
}

func (s *Supervisor) countBytes(direction string, n int) {
	if s.Metrics != nil && n > 0 {
		s.Metrics.SFTPBytes(direction, int64(n))
	}
}

// Hooks are told about uploads (the Transfer workflow trigger), before the
// client's CLOSE is acknowledged.
type Hooks interface {
	Uploaded(ctx context.Context, u transfer.Upload) error
}

// New returns a supervisor binding to bind (an IP address).
func New(tf *transfer.Service, objects objstore.Store, efsDir, bind string, log *slog.Logger) *Supervisor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{tf: tf, objects: objects, efsDir: efsDir, bind: bind, log: log,
		endpoints: map[string]*endpoint{}, locks: map[string]*idLock{}, watch: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// PortFree reports whether the supervisor could listen on port now.
func (s *Supervisor) PortFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.bind, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// Start brings every server back to its stored state (after a restart).
func (s *Supervisor) Start(ctx context.Context) error {
	servers, err := s.tf.Servers(ctx)
	if err != nil {
		return err
	}
	for _, srv := range servers {
		s.reconcile(srv.Scope, srv.ServerID)
	}
	return nil
}

// Watch keeps the listeners in step with changes made through other
// replicas sharing st: a transfer.TopicServers notification starts a pass
// over every server at once, and a pass runs every interval as the
// backstop for a notification lost with a connection. It ends with Stop.
func (s *Supervisor) Watch(st store.Store, every time.Duration) {
	unlisten := st.Listen(transfer.TopicServers, func() {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer unlisten()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.watch:
				return
			case <-s.kick:
			case <-t.C:
			}
			if err := s.resync(context.Background()); err != nil {
				s.log.Warn("sftp endpoints: resync failed", "error", err)
			}
		}
	}()
}

// resync reconciles every server that holds a port, and closes the
// listeners of servers that are gone.
func (s *Supervisor) resync(ctx context.Context) error {
	servers, err := s.tf.Servers(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, srv := range servers {
		known[srv.ServerID] = true
		s.reconcile(srv.Scope, srv.ServerID)
	}
	s.mu.Lock()
	var gone []*endpoint
	for id, ep := range s.endpoints {
		if !known[id] {
			gone = append(gone, ep)
		}
	}
	s.mu.Unlock()
	for _, ep := range gone {
		s.reconcile(ep.scope, ep.serverID)
	}
	return nil
}

// Changed reconciles one server in the background.
func (s *Supervisor) Changed(scope store.Scope, id string) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.reconcile(scope, id)
	}()
}

// Stop closes every listener and session.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	if !s.stopped {
		close(s.watch)
	}
	s.stopped = true
	eps := make([]*endpoint, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		eps = append(eps, ep)
	}
	s.endpoints = map[string]*endpoint{}
	s.mu.Unlock()
	s.wg.Wait()
	for _, ep := range eps {
		ep.close()
	}
}

// CloseAll closes every listener and session (state reset); servers that
// still exist listen again at their next change.
func (s *Supervisor) CloseAll() {
	s.mu.Lock()
	eps := s.endpoints
	s.endpoints = map[string]*endpoint{}
	s.mu.Unlock()
	for _, ep := range eps {
		ep.close()
	}
}

// Endpoint describes a listening server (for /_slipway/health).
type Endpoint struct {
	ServerID string `json:"serverId"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	Address  string `json:"address"`
}

// Endpoints lists the listening servers.
func (s *Supervisor) Endpoints() []Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Endpoint, 0, len(s.endpoints))
	for id, ep := range s.endpoints {
		out = append(out, Endpoint{ServerID: id, Account: ep.scope.Account, Region: ep.scope.Region, Address: ep.ln.Addr().String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ServerID < out[j].ServerID })
	return out
}

// idLock serializes the reconciles of one server; users counts holders and
// waiters so the entry goes once nobody needs it.
type idLock struct {
	sync.Mutex
	users int
}

func (s *Supervisor) lock(id string) func() {
	s.mu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &idLock{}
		s.locks[id] = l
	}
	l.users++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.locks, id)
		}
		s.mu.Unlock()
	}
}

// reconcile makes the listener match the server's state and reports the
// outcome of a transition.
func (s *Supervisor) reconcile(scope store.Scope, id string) {
	defer s.lock(id)()
	ctx := context.Background()
	srv, err := s.tf.DescribeServer(ctx, scope, id)
	s.mu.Lock()
	ep := s.endpoints[id]
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return
	}
	if err != nil {
		// Deleted: close whatever was open.
		if ep != nil {
			s.drop(id, ep)
		}
		return
	}
	switch srv.State {
	case transfer.StateStarting, transfer.StateOnline:
		if !slices.Contains(srv.Protocols, "SFTP") {
			if ep != nil {
				s.drop(id, ep)
			}
			s.report(scope, id, transfer.StateOnline)
			return
		}
		cfg, err := s.sshConfig(ctx, scope, srv)
		if err != nil {
			s.log.Error("sftp endpoint config", "server", id, "error", err)
			s.report(scope, id, transfer.StateStartFailed)
			return
		}
		if ep != nil {
			ep.cfg.Store(cfg)
			s.report(scope, id, transfer.StateOnline)
			return
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(s.bind, strconv.Itoa(transfer.Port(id))))
		if err != nil {
			s.log.Error("sftp endpoint listen", "server", id, "error", err)
			s.report(scope, id, transfer.StateStartFailed)
			return
		}
		ep = &endpoint{sup: s, scope: scope, serverID: id, ln: ln, conns: map[net.Conn]struct{}{}}
		ep.cfg.Store(cfg)
		s.mu.Lock()
		s.endpoints[id] = ep
		s.mu.Unlock()
		go ep.serve()
		s.log.Info("sftp endpoint listening", "server", id, "addr", ln.Addr().String())
		s.report(scope, id, transfer.StateOnline)
	case transfer.StateStopping, transfer.StateOffline:
		if ep != nil {
			s.drop(id, ep)
		}
		s.report(scope, id, transfer.StateOffline)
	}
}

func (s *Supervisor) drop(id string, ep *endpoint) {
	s.mu.Lock()
	if s.endpoints[id] == ep {
		delete(s.endpoints, id)
	}
	s.mu.Unlock()
	ep.close()
	s.log.Info("sftp endpoint closed", "server", id)
}

func (s *Supervisor) report(scope store.Scope, id, state string) {
	if err := s.tf.EndpointReport(context.Background(), scope, id, state); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Debug("sftp endpoint report", "server", id, "state", state, "error", err)
	}
}

// endpoint is one server's listener and its live connections.
type endpoint struct {
	sup      *Supervisor
	scope    store.Scope
	serverID string
	ln       net.Listener
	cfg      atomic.Pointer[ssh.ServerConfig]

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (ep *endpoint) serve() {
	for {
		c, err := ep.ln.Accept()
		if err != nil {
			return
		}
		ep.mu.Lock()
		if ep.closed {
			ep.mu.Unlock()
			_ = c.Close()
			return
		}
		ep.conns[c] = struct{}{}
		ep.wg.Add(1)
		ep.mu.Unlock()
		go func() {
			defer ep.wg.Done()
			ep.handle(c)
			ep.mu.Lock()
			delete(ep.conns, c)
			ep.mu.Unlock()
		}()
	}
}

// close stops accepting and ends every live session.
func (ep *endpoint) close() {
	ep.mu.Lock()
	ep.closed = true
	_ = ep.ln.Close()
	for c := range ep.conns {
		_ = c.Close()
	}
	ep.mu.Unlock()
	ep.wg.Wait()
}
