// Package transfer is the AWS Transfer Family domain: servers, users and
// managed workflows. It never sees HTTP; tfhttp translates the wire to calls
// here.
package transfer

import (
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/lambda"
	"github.com/slipway-dev/slipway/internal/objstore"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
)

// DefaultMaxResults is the page size when a list call gives none.
const DefaultMaxResults = 100

// Service runs Transfer Family operations against a store.
type Service struct {
	store  store.Store
	tokens *pagetoken.Codec
	now    func() time.Time
	// WorkflowQuota is the number of workflows an account may have in a
	// region (AWS: 10).
	WorkflowQuota int
	// ExecutionBurst and ExecutionRate are the token bucket new executions
	// of one workflow pass (AWS: 100, refilled 1 per second). Benchmarks
	// raise them.
	ExecutionBurst, ExecutionRate float64
	// PortFree, when set, reports whether a port can be listened on; new
	// server IDs only name free ports.
	PortFree func(port int) bool
	// OnServerChange, when set, hears that a server was created, started,
	// stopped, updated or deleted (after the change committed).
	OnServerChange func(scope store.Scope, serverID string)
	// Lambda calls custom identity providers and CUSTOM steps.
	Lambda *lambda.Client
	// Objects holds the S3-domain files workflow steps work on; EFSDir is
	// where EFS file systems live (one directory each).
	Objects objstore.Store
	EFSDir  string
	// PGPKeys are the private keys DECRYPT steps use.
	PGPKeys *KeySource

	// Observe, when set, hears about finished executions
	// ("transfer_execution", COMPLETED or EXCEPTION) and throttled ones.
	Observe func(kind, status string)
}

// New returns the service. now may be nil.
func New(st store.Store, tokens *pagetoken.Codec, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, tokens: tokens, now: now, WorkflowQuota: 10, ExecutionBurst: 100, ExecutionRate: 1}
}

// newID returns prefix followed by 17 random lowercase hex digits, the form
// of server, workflow and key IDs.
func newID(prefix string) string { return prefix + ids.Hex(17) }

func resourceARN(scope store.Scope, resource string) string {
	return arn.ARN{Partition: arn.PartitionOf(scope.Region), Service: "transfer", Region: scope.Region, Account: scope.Account, Resource: resource}.String()
}

func tokenScope(scope store.Scope, op, extra string) string {
	return "transfer/" + op + "/" + scope.Account + "/" + scope.Region + "/" + extra
}
