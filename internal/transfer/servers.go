package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/store"
)

const (
	kindServer      = "transfer.server"
	kindPort        = "transfer.port"         // a port taken by a server, in the endpoint scope
	kindWorkflowUse = "transfer.workflow-use" // a server using a workflow, parent = workflow ID
)

// Server states (the model's State enum).
const (
	StateOffline     = "OFFLINE"
	StateOnline      = "ONLINE"
	StateStarting    = "STARTING"
	StateStopping    = "STOPPING"
	StateStartFailed = "START_FAILED"
	StateStopFailed  = "STOP_FAILED"
)

// Identity provider types.
const (
	IdentityServiceManaged = "SERVICE_MANAGED"
	IdentityAPIGateway     = "API_GATEWAY"
	IdentityDirectory      = "AWS_DIRECTORY_SERVICE"
	IdentityLambda         = "AWS_LAMBDA"
)

// Storage domains.
const (
	DomainS3  = "S3"
	DomainEFS = "EFS"
)

// DefaultSecurityPolicy is what AWS attaches to a server created through
// the API without one (the current user guide; the 2023 guide said 2018-11).
const DefaultSecurityPolicy = "TransferSecurityPolicy-2024-01"

// Server is a Transfer Family server. Its JSON form is the API's
// DescribedServer (less what is derived on read), which is how it is stored.
type Server struct {
	Arn                           string                   `json:"Arn"`
	ServerID                      string                   `json:"ServerId"`
	Certificate                   string                   `json:"Certificate,omitempty"`
	ProtocolDetails               *ProtocolDetails         `json:"ProtocolDetails,omitempty"`
	Domain                        string                   `json:"Domain"`
	EndpointDetails               *EndpointDetails         `json:"EndpointDetails,omitempty"`
	EndpointType                  string                   `json:"EndpointType"`
	HostKeyFingerprint            string                   `json:"HostKeyFingerprint,omitempty"`
	IdentityProviderDetails       *IdentityProviderDetails `json:"IdentityProviderDetails,omitempty"`
	IdentityProviderType          string                   `json:"IdentityProviderType"`
	LoggingRole                   string                   `json:"LoggingRole,omitempty"`
	PostAuthenticationLoginBanner string                   `json:"PostAuthenticationLoginBanner,omitempty"`
	PreAuthenticationLoginBanner  string                   `json:"PreAuthenticationLoginBanner,omitempty"`
	Protocols                     []string                 `json:"Protocols"`
	SecurityPolicyName            string                   `json:"SecurityPolicyName"`
	State                         string                   `json:"State"`
	UserCount                     int                      `json:"UserCount"`
	WorkflowDetails               *WorkflowDetails         `json:"WorkflowDetails,omitempty"`
	StructuredLogDestinations     []string                 `json:"StructuredLogDestinations"`
	S3StorageOptions              *S3StorageOptions        `json:"S3StorageOptions,omitempty"`
	IpAddressType                 string                   `json:"IpAddressType"`
	Tags                          []Tag                    `json:"Tags,omitempty"`
}

// ProtocolDetails are protocol settings.
type ProtocolDetails struct {
	PassiveIp                string   `json:"PassiveIp,omitempty"`
	TlsSessionResumptionMode string   `json:"TlsSessionResumptionMode,omitempty"`
	SetStatOption            string   `json:"SetStatOption,omitempty"`
	As2Transports            []string `json:"As2Transports,omitempty"`
}

// EndpointDetails are the VPC settings of a VPC endpoint.
type EndpointDetails struct {
	AddressAllocationIds []string `json:"AddressAllocationIds,omitempty"`
	SubnetIds            []string `json:"SubnetIds,omitempty"`
	VpcEndpointId        string   `json:"VpcEndpointId,omitempty"`
	VpcId                string   `json:"VpcId,omitempty"`
	SecurityGroupIds     []string `json:"SecurityGroupIds,omitempty"`
}

// IdentityProviderDetails configure a custom identity provider.
type IdentityProviderDetails struct {
	Url                       string `json:"Url,omitempty"`
	InvocationRole            string `json:"InvocationRole,omitempty"`
	DirectoryId               string `json:"DirectoryId,omitempty"`
	Function                  string `json:"Function,omitempty"`
	SftpAuthenticationMethods string `json:"SftpAuthenticationMethods,omitempty"`
}

// WorkflowDetails name the workflows uploads start. A nil list means "not
// given" on update; an empty one detaches.
type WorkflowDetails struct {
	OnUpload        *[]WorkflowDetail `json:"OnUpload,omitempty"`
	OnPartialUpload *[]WorkflowDetail `json:"OnPartialUpload,omitempty"`
}

// WorkflowDetail is one attached workflow and the role it runs as.
type WorkflowDetail struct {
	WorkflowId    string `json:"WorkflowId"`
	ExecutionRole string `json:"ExecutionRole"`
}

// S3StorageOptions are S3 listing settings.
type S3StorageOptions struct {
	DirectoryListingOptimization string `json:"DirectoryListingOptimization,omitempty"`
}

// ServerInput is CreateServer's and UpdateServer's request: on update a nil
// member is left as it was.
type ServerInput struct {
	ServerID                      string
	Certificate                   *string
	Domain                        string
	EndpointDetails               *EndpointDetails
	EndpointType                  *string
	HostKey                       *string
	IdentityProviderDetails       *IdentityProviderDetails
	IdentityProviderType          *string
	LoggingRole                   *string
	PostAuthenticationLoginBanner *string
	PreAuthenticationLoginBanner  *string
	Protocols                     []string
	ProtocolDetails               *ProtocolDetails
	SecurityPolicyName            *string
	Tags                          []Tag
	WorkflowDetails               *WorkflowDetails
	StructuredLogDestinations     *[]string
	S3StorageOptions              *S3StorageOptions
	IpAddressType                 *string
}

// Port returns the loopback port of a server: the trailing decimal digits of
// its ID (LocalStack's convention).
func Port(serverID string) int {
	i := len(serverID)
	for i > 0 && serverID[i-1] >= '0' && serverID[i-1] <= '9' {
		i--
	}
	p, _ := strconv.Atoi(serverID[i:])
	return p
}

// PortScope is where ports are reserved: one table for the whole process,
// since every server of every account listens on the same address.
var PortScope = store.Scope{Account: "-", Region: "-"}

// Port range for new servers.
const (
	minPort = 20000
	maxPort = 60999
)

// newServerID returns an ID whose trailing five digits are a port no other
// server holds (checked in tx) and that the PortFree hook says is free.
func (s *Service) newServerID(tx store.Tx) (string, error) {
	for range 200 {
		port := minPort + rand.IntN(maxPort-minPort+1)
		if _, err := tx.Get(PortScope, kindPort, strconv.Itoa(port)); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		if s.PortFree != nil && !s.PortFree(port) {
			continue
		}
		// A letter before the port keeps "trailing digits" exactly the port.
		return "s-" + ids.Hex(11) + string("abcdef"[rand.IntN(6)]) + strconv.Itoa(port), nil
	}
	return "", fault.New(fault.Internal, "no free port for a new server")
}

func notFoundServer(id string) error {
	return fault.Missing("Server", id, "Unknown server")
}

func applyServerInput(srv *Server, in *ServerInput) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&srv.Certificate, in.Certificate)
	set(&srv.EndpointType, in.EndpointType)
	set(&srv.IdentityProviderType, in.IdentityProviderType)
	set(&srv.LoggingRole, in.LoggingRole)
	set(&srv.PostAuthenticationLoginBanner, in.PostAuthenticationLoginBanner)
	set(&srv.PreAuthenticationLoginBanner, in.PreAuthenticationLoginBanner)
	set(&srv.SecurityPolicyName, in.SecurityPolicyName)
	set(&srv.IpAddressType, in.IpAddressType)
	if in.EndpointDetails != nil {
		srv.EndpointDetails = in.EndpointDetails
	}
	if in.IdentityProviderDetails != nil {
		srv.IdentityProviderDetails = in.IdentityProviderDetails
	}
	if in.Protocols != nil {
		srv.Protocols = in.Protocols
	}
	if p := in.ProtocolDetails; p != nil {
		d := srv.ProtocolDetails
		for _, f := range [][2]*string{{&d.PassiveIp, &p.PassiveIp}, {&d.TlsSessionResumptionMode, &p.TlsSessionResumptionMode}, {&d.SetStatOption, &p.SetStatOption}} {
			if *f[1] != "" {
				*f[0] = *f[1]
			}
		}
		if p.As2Transports != nil {
			d.As2Transports = p.As2Transports
		}
	}
	if in.StructuredLogDestinations != nil {
		srv.StructuredLogDestinations = *in.StructuredLogDestinations
	}
	if o := in.S3StorageOptions; o != nil && o.DirectoryListingOptimization != "" {
		srv.S3StorageOptions.DirectoryListingOptimization = o.DirectoryListingOptimization
	}
	if w := in.WorkflowDetails; w != nil {
		if srv.WorkflowDetails == nil {
			srv.WorkflowDetails = &WorkflowDetails{}
		}
		if w.OnUpload != nil {
			srv.WorkflowDetails.OnUpload = w.OnUpload
		}
		if w.OnPartialUpload != nil {
			srv.WorkflowDetails.OnPartialUpload = w.OnPartialUpload
		}
	}
	if srv.IdentityProviderType == IdentityServiceManaged || srv.IdentityProviderType == IdentityDirectory {
		// Not part of a described server of these types.
		if in.IdentityProviderDetails == nil {
			srv.IdentityProviderDetails = nil
		}
	}
}

// validateServer checks the cross-field rules of a whole server.
func validateServer(srv *Server, in *ServerInput) error {
	has := func(p string) bool { return slices.Contains(srv.Protocols, p) }
	seen := map[string]bool{}
	for _, p := range srv.Protocols {
		if seen[p] {
			return fault.New(fault.Invalid, "Protocols must not list %s twice.", p)
		}
		seen[p] = true
	}
	managed := srv.IdentityProviderType == IdentityServiceManaged
	if in.IdentityProviderDetails != nil && managed {
		return fault.New(fault.Invalid, "IdentityProviderDetails cannot be set for a SERVICE_MANAGED identity provider.")
	}
	if (has("FTP") || has("FTPS")) && (srv.EndpointType != "VPC" || managed) {
		return fault.New(fault.Invalid, "FTP and FTPS need EndpointType VPC and an identity provider other than SERVICE_MANAGED.")
	}
	if has("FTPS") && srv.Certificate == "" {
		return fault.New(fault.Invalid, "A Certificate is required when Protocols includes FTPS.")
	}
	if has("AS2") && (srv.EndpointType != "VPC" || srv.Domain != DomainS3) {
		return fault.New(fault.Invalid, "AS2 needs EndpointType VPC and the S3 domain.")
	}
	if srv.EndpointType == "PUBLIC" && srv.EndpointDetails != nil && in.EndpointDetails != nil {
		return fault.New(fault.Invalid, "EndpointDetails cannot be set for a PUBLIC endpoint.")
	}
	if srv.EndpointType == "VPC" && (srv.EndpointDetails == nil || srv.EndpointDetails.VpcId == "") {
		return fault.New(fault.Invalid, "A VPC endpoint needs EndpointDetails with a VpcId.")
	}
	if srv.EndpointType == "VPC_ENDPOINT" && (srv.EndpointDetails == nil || srv.EndpointDetails.VpcEndpointId == "") {
		return fault.New(fault.Invalid, "A VPC_ENDPOINT endpoint needs EndpointDetails with a VpcEndpointId.")
	}
	d := srv.IdentityProviderDetails
	switch srv.IdentityProviderType {
	case IdentityAPIGateway:
		if d == nil || d.Url == "" || d.InvocationRole == "" {
			return fault.New(fault.Invalid, "An API_GATEWAY identity provider needs IdentityProviderDetails with Url and InvocationRole.")
		}
	case IdentityLambda:
		if d == nil || d.Function == "" {
			return fault.New(fault.Invalid, "An AWS_LAMBDA identity provider needs IdentityProviderDetails with Function.")
		}
	case IdentityDirectory:
		if d == nil || d.DirectoryId == "" {
			return fault.New(fault.Invalid, "An AWS_DIRECTORY_SERVICE identity provider needs IdentityProviderDetails with DirectoryId.")
		}
	}
	if d != nil && d.SftpAuthenticationMethods == "" && !managed && srv.IdentityProviderType != IdentityDirectory {
		d.SftpAuthenticationMethods = "PUBLIC_KEY_OR_PASSWORD"
	}
	if _, ok := SecurityPolicyByName(srv.SecurityPolicyName); !ok {
		return fault.New(fault.Invalid, "Invalid SecurityPolicyName: %s is not a Transfer Family server security policy.", srv.SecurityPolicyName)
	}
	return nil
}

// workflowIDs lists the workflows details attach.
func workflowIDs(d *WorkflowDetails) []string {
	var out []string
	if d == nil {
		return nil
	}
	for _, list := range []*[]WorkflowDetail{d.OnUpload, d.OnPartialUpload} {
		if list != nil {
			for _, wd := range *list {
				out = append(out, wd.WorkflowId)
			}
		}
	}
	return out
}

// useWorkflows checks that the workflows next attaches exist and moves the
// server's use rows (which DeleteWorkflow consults) from prev's workflows
// to next's, in tx.
func useWorkflows(tx store.Tx, scope store.Scope, serverID string, prev, next *WorkflowDetails, now time.Time) error {
	for _, id := range workflowIDs(prev) {
		if err := tx.Delete(scope, kindWorkflowUse, id+"/"+serverID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if next != nil {
		for _, list := range []*[]WorkflowDetail{next.OnUpload, next.OnPartialUpload} {
			if list != nil && len(*list) > 1 {
				return fault.New(fault.Invalid, "WorkflowDetails: each trigger takes at most one workflow.")
			}
		}
	}
	for _, id := range workflowIDs(next) {
		if _, err := tx.Get(scope, kindWorkflow, id); errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(id)
		} else if err != nil {
			return err
		}
		use := &store.Record{Scope: scope, Kind: kindWorkflowUse, ID: id + "/" + serverID, Parent: id, SortKey: serverID, Created: now, Updated: now, Body: []byte("{}")}
		if err := tx.Insert(use); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return nil
}

// hostKeyInput parses the HostKey member; with none, generate makes one.
func hostKeyInput(body *string, generate bool) (*HostKey, error) {
	if body != nil && *body != "" {
		return parseHostKey(*body)
	}
	if generate {
		return generateHostKey()
	}
	return nil, nil
}

// CreateServer creates a server in STARTING; its endpoint brings it ONLINE.
func (s *Service) CreateServer(ctx context.Context, scope store.Scope, in ServerInput) (*Server, error) {
	now := s.now().UTC()
	srv := &Server{
		Domain: DomainS3, EndpointType: "PUBLIC", IdentityProviderType: IdentityServiceManaged, Protocols: []string{"SFTP"},
		SecurityPolicyName: DefaultSecurityPolicy, State: StateStarting, IpAddressType: "IPV4", StructuredLogDestinations: []string{},
		ProtocolDetails:  &ProtocolDetails{PassiveIp: "AUTO", TlsSessionResumptionMode: "ENFORCED", SetStatOption: "DEFAULT", As2Transports: []string{"HTTP"}},
		S3StorageOptions: &S3StorageOptions{DirectoryListingOptimization: "DISABLED"},
	}
	if in.Domain != "" {
		srv.Domain = in.Domain
	}
	applyServerInput(srv, &in)
	if err := validateServer(srv, &in); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	hostKey, err := hostKeyInput(in.HostKey, true)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		id, err := s.newServerID(tx)
		if err != nil {
			return err
		}
		srv.ServerID = id
		srv.Arn = resourceARN(scope, "server/"+id)
		if err := useWorkflows(tx, scope, id, nil, srv.WorkflowDetails, now); err != nil {
			return err
		}
		port := &store.Record{Scope: PortScope, Kind: kindPort, ID: strconv.Itoa(Port(id)), SortKey: strconv.Itoa(Port(id)), Created: now, Updated: now,
			Body: []byte(fmt.Sprintf(`{"Account":%q,"Region":%q,"ServerId":%q}`, scope.Account, scope.Region, id))}
		if err := tx.Insert(port); err != nil {
			return err
		}
		if err := s.addHostKey(tx, scope, id, hostKey, now); err != nil {
			return err
		}
		seq, err := sequence(tx, scope, kindServer, now)
		if err != nil {
			return err
		}
		rec, err := newRecord(scope, kindServer, id, "", seq, srv, in.Tags, now)
		if err != nil {
			return err
		}
		return tx.Insert(rec)
	})
	if err != nil {
		return nil, err
	}
	s.changed(scope, srv.ServerID)
	return srv, nil
}

// TopicServers is the store notification of a change to a server's
// endpoint (state, protocols, host keys): every replica's SFTP supervisor
// hears it and brings its listeners in step.
const TopicServers = "transfer.servers"

// changed tells this process's endpoint supervisor at once; other
// replicas hear TopicServers.
func (s *Service) changed(scope store.Scope, id string) {
	if s.OnServerChange != nil {
		s.OnServerChange(scope, id)
	}
}

// readServer reads a server as stored: without its tags (they live on the
// record) or what describing it derives (see complete).
func (s *Service) readServer(tx store.Tx, scope store.Scope, id string) (*store.Record, *Server, error) {
	var srv Server
	rec, err := getRecord(tx, scope, kindServer, id, &srv, func() error { return notFoundServer(id) })
	if err != nil {
		return nil, nil, err
	}
	return rec, &srv, nil
}

// serverBodies remembers decoded servers for descriptions and listings,
// which only read them (shared values: copy before changing nested parts).
var serverBodies = memo.New(1<<20, func(b []byte) (Server, error) {
	var srv Server
	return srv, json.Unmarshal(b, &srv)
})

// sharedServer decodes a server for a description or listing: a copy whose
// nested settings are shared with other readers.
func sharedServer(rec *store.Record) (*Server, error) {
	srv, err := serverBodies.Decode(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("transfer: corrupt server %s: %w", rec.ID, err)
	}
	return &srv, nil
}

// countUsers fills in the server's user count, all a listing derives.
func countUsers(tx store.Tx, rec *store.Record, srv *Server) error {
	n, err := tx.Count(rec.Scope, kindUser, srv.ServerID)
	srv.UserCount = n
	return err
}

// complete fills in what a server's description derives from other rows:
// tags, user count and the oldest host key's fingerprint.
func complete(tx store.Tx, rec *store.Record, srv *Server) error {
	srv.Tags = tagList(rec.Tags)
	if err := countUsers(tx, rec, srv); err != nil {
		return err
	}
	oldest, err := tx.List(store.ListQuery{Scope: rec.Scope, Kind: kindHostKey, Parent: srv.ServerID, Limit: 1})
	if err != nil || len(oldest) == 0 {
		return err
	}
	// Only the fingerprint: decoding the private key's text cost a third
	// of a DescribeServer.
	var k struct{ HostKeyFingerprint string }
	if err := json.Unmarshal(oldest[0].Body, &k); err != nil {
		return fmt.Errorf("transfer: corrupt host key %s: %w", oldest[0].ID, err)
	}
	srv.HostKeyFingerprint = k.HostKeyFingerprint
	return nil
}

// DescribeServer returns a server.
func (s *Service) DescribeServer(ctx context.Context, scope store.Scope, id string) (*Server, error) {
	var srv *Server
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(scope, kindServer, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundServer(id)
		} else if err != nil {
			return err
		}
		if srv, err = sharedServer(rec); err != nil {
			return err
		}
		return complete(tx, rec, srv)
	})
	return srv, err
}

// LoginServer reads a server as a login needs it: its settings, without what
// a description derives (user count, fingerprint, tags).
func (s *Service) LoginServer(ctx context.Context, scope store.Scope, id string) (*Server, error) {
	var srv *Server
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		_, srv, err = s.readServer(tx, scope, id)
		return err
	})
	return srv, err
}

// ServerPage is a page of servers.
type ServerPage struct {
	Servers   []*Server
	NextToken string
}

// ListServers lists servers in creation order.
func (s *Service) ListServers(ctx context.Context, scope store.Scope, maxResults int, nextToken string) (*ServerPage, error) {
	page := &ServerPage{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		page.Servers = nil // the store may run this again
		var err error
		page.NextToken, err = s.listPage(tx, scope, "ListServers", "", kindServer, "", maxResults, nextToken, func(r *store.Record) error {
			srv, err := sharedServer(r)
			if err != nil {
				return err
			}
			page.Servers = append(page.Servers, srv)
			// A listed server has no host key fingerprint or tags.
			return countUsers(tx, r, srv)
		})
		return err
	})
	return page, err
}

// UpdateServer changes a server's settings.
func (s *Service) UpdateServer(ctx context.Context, scope store.Scope, in ServerInput) (*Server, error) {
	hostKey, err := hostKeyInput(in.HostKey, false)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var srv *Server
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, cur, err := s.readServer(tx, scope, in.ServerID)
		if err != nil {
			return err
		}
		srv = cur
		var prev *WorkflowDetails // applyServerInput replaces the lists, so a shallow copy keeps the old ones
		if d := srv.WorkflowDetails; d != nil {
			c := *d
			prev = &c
		}
		if in.IdentityProviderType != nil && *in.IdentityProviderType != srv.IdentityProviderType && in.IdentityProviderDetails == nil {
			srv.IdentityProviderDetails = nil
		}
		applyServerInput(srv, &in)
		if err := validateServer(srv, &in); err != nil {
			return err
		}
		if err := useWorkflows(tx, scope, srv.ServerID, prev, srv.WorkflowDetails, now); err != nil {
			return err
		}
		if hostKey != nil {
			if err := s.replaceHostKey(tx, scope, srv.ServerID, hostKey, now); err != nil {
				return err
			}
		}
		tx.Notify(TopicServers)
		return putBody(tx, rec, srv, now)
	})
	if err != nil {
		return nil, err
	}
	s.changed(scope, srv.ServerID)
	return srv, nil
}

// transition moves a server to state to when it is in one of from, in one
// transaction. A server already in to, or in one of settled, is left alone
// (changed is false); any other state is an InvalidRequest.
func (s *Service) transition(ctx context.Context, scope store.Scope, id, to string, settled, from []string) (changed bool, err error) {
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, srv, err := s.readServer(tx, scope, id)
		if err != nil {
			return err
		}
		if srv.State == to || slices.Contains(settled, srv.State) {
			return nil
		}
		if !slices.Contains(from, srv.State) {
			return fault.New(fault.Invalid, "Server %s is %s; it cannot go to %s now.", id, srv.State, to)
		}
		srv.State, changed = to, true
		tx.Notify(TopicServers)
		return putBody(tx, rec, srv, s.now().UTC())
	})
	return changed, err
}

// StartServer takes an OFFLINE (or failed) server to STARTING; its endpoint
// brings it ONLINE. Starting an ONLINE server changes nothing.
func (s *Service) StartServer(ctx context.Context, scope store.Scope, id string) error {
	changed, err := s.transition(ctx, scope, id, StateStarting, []string{StateOnline}, []string{StateOffline, StateStartFailed, StateStopFailed})
	if changed {
		s.changed(scope, id)
	}
	return err
}

// StopServer takes an ONLINE server to STOPPING; its endpoint closes and
// brings it OFFLINE.
func (s *Service) StopServer(ctx context.Context, scope store.Scope, id string) error {
	changed, err := s.transition(ctx, scope, id, StateStopping, []string{StateOffline},
		[]string{StateOnline, StateStarting, StateStartFailed, StateStopFailed})
	if changed {
		s.changed(scope, id)
	}
	return err
}

// EndpointReport records what the endpoint made of a transition: ONLINE or
// START_FAILED after STARTING, OFFLINE or STOP_FAILED after STOPPING. A
// report that no longer applies (the server moved on) changes nothing.
func (s *Service) EndpointReport(ctx context.Context, scope store.Scope, id, state string) error {
	from := StateStarting
	if state == StateOffline || state == StateStopFailed {
		from = StateStopping
	}
	_, err := s.transition(ctx, scope, id, state, nil, []string{from})
	if fault.Is(err, fault.Invalid) {
		return nil
	}
	return err
}

// DeleteServer deletes a server, its users and host keys; its endpoint
// closes.
func (s *Service) DeleteServer(ctx context.Context, scope store.Scope, id string) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		_, srv, err := s.readServer(tx, scope, id)
		if err != nil {
			return err
		}
		if err := useWorkflows(tx, scope, id, srv.WorkflowDetails, nil, s.now()); err != nil {
			return err
		}
		for _, kind := range []string{kindUser, kindHostKey} {
			for {
				recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kind, Parent: id, Limit: 500})
				if err != nil {
					return err
				}
				for _, r := range recs {
					if err := tx.Delete(scope, kind, r.ID); err != nil {
						return err
					}
				}
				if len(recs) < 500 {
					break
				}
			}
		}
		if err := tx.Delete(PortScope, kindPort, strconv.Itoa(Port(id))); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		tx.Notify(TopicServers)
		return tx.Delete(scope, kindServer, id)
	})
	if err != nil {
		return err
	}
	s.changed(scope, id)
	return nil
}

// EndpointServer names a server that holds a port, for the supervisor.
type EndpointServer struct {
	Scope    store.Scope
	ServerID string
}

// Servers lists every server of every account and region (for the endpoint
// supervisor at start).
func (s *Service) Servers(ctx context.Context) ([]EndpointServer, error) {
	var out []EndpointServer
	err := s.store.View(ctx, func(tx store.Tx) error {
		out = nil // the store may run this again
		after := ""
		for {
			recs, err := tx.List(store.ListQuery{Scope: PortScope, Kind: kindPort, After: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, r := range recs {
				var p struct{ Account, Region, ServerId string }
				if err := json.Unmarshal(r.Body, &p); err != nil {
					return err
				}
				out = append(out, EndpointServer{Scope: store.Scope{Account: p.Account, Region: p.Region}, ServerID: p.ServerId})
				after = r.SortKey
			}
			if len(recs) < 500 {
				return nil
			}
		}
	})
	return out, err
}
