// Package imagebuilder is the EC2 Image Builder domain: its resources, their
// validation and versioning, and (in later parts) builds. It never sees HTTP;
// the ibhttp package translates the wire to calls here.
package imagebuilder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/slipway-dev/slipway/internal/arn"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/pagetoken"
	"github.com/slipway-dev/slipway/internal/store"
)

// Record kinds this package stores.
const (
	kindWorkflow        = "imagebuilder.workflow"         // one build version
	kindWorkflowVersion = "imagebuilder.workflow-version" // index of semantic versions
	kindBuildCounter    = "imagebuilder.build-counter"    // next build number, never reused
)

// ManagedOwner is the ARN account of AWS-managed resources; ManagedOwnerName
// is how their owner member reads.
const (
	ManagedOwner     = "aws"
	ManagedOwnerName = "Amazon"
)

// DefaultMaxResults is the page size when a list call gives none.
const DefaultMaxResults = 25

// Service runs Image Builder operations against a store.
type Service struct {
	store  store.Store
	tokens *pagetoken.Codec
	now    func() time.Time
	// StepDelay is how long each simulated step action takes (0: at once).
	StepDelay time.Duration
	// Observe, when set, hears about finished work: an image build
	// ("image", its status) or a lifecycle execution ("lifecycle_execution").
	Observe func(kind, status string)
	// Notifier sends WaitForAction and image notifications (SNS, Lambda).
	Notifier Notifier
	// ReadS3 reads the documents requests name by S3 URI (at most max
	// bytes): Slipway's own buckets, or the --s3-endpoint service.
	ReadS3 func(ctx context.Context, bucket, key string, max int64) ([]byte, error)
}

// New returns the service. now may be nil.
func New(st store.Store, tokens *pagetoken.Codec, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, tokens: tokens, now: now}
}

// FormatTime renders a time the way Image Builder's DateTime strings are:
// ISO 8601 UTC with milliseconds.
func FormatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, min, sec := t.Clock()
	// By hand: every listed item formats its dates, and time.Format's
	// layout interpretation was a tenth of a ListWorkflows page.
	var b [24]byte
	digits := func(at, n, v int) {
		for i := at + n - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(0, 4, year)
	b[4] = '-'
	digits(5, 2, int(month))
	b[7] = '-'
	digits(8, 2, day)
	b[10] = 'T'
	digits(11, 2, hour)
	b[13] = ':'
	digits(14, 2, min)
	b[16] = ':'
	digits(17, 2, sec)
	b[19] = '.'
	digits(20, 3, t.Nanosecond()/1e6)
	b[23] = 'Z'
	return string(b[:])
}

const timeLayout = "2006-01-02T15:04:05.000Z"

// fingerprint identifies a request's parameters for idempotency checks.
func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func mismatch() error {
	return fault.New(fault.IdempotencyMismatch, "The client token has already been used for a request with different parameters.")
}

// resourceARN formats an Image Builder ARN in the caller's scope.
func resourceARN(scope store.Scope, account, resource string) string {
	return arn.ARN{Partition: arn.PartitionOf(scope.Region), Service: "imagebuilder", Region: scope.Region, Account: account, Resource: resource}.String()
}

// nextBuild allocates the next build number for a versioned resource. The
// counter outlives the builds, so numbers are never reused.
func nextBuild(tx store.Tx, scope store.Scope, versionARN string, now time.Time) (int, error) {
	n, err := store.Next(tx, scope, kindBuildCounter, versionARN, now)
	return int(n), err
}

// pager walks records of one kind in order, keeping those accept passes,
// and reports whether more remain after a full page.
type pager struct {
	q      store.ListQuery
	max    int
	accept func(*store.Record) bool
	// stop ends the scan at a record (e.g. past a prefix).
	stop func(*store.Record) bool
	// batch is how many records each read takes (default 100): a page
	// that usually ends after n records reads n+1 and no more.
	batch int
	// prefetch, when set, sees each batch before accept does (to read
	// what accept needs for all of them at once).
	prefetch func([]*store.Record) error
}

func (p pager) run(tx store.Tx) (out []*store.Record, more bool, err error) {
	q := p.q
	q.Limit = 100
	if p.batch > 0 {
		q.Limit = p.batch
	}
	for {
		batch, err := tx.List(q)
		if err != nil {
			return nil, false, err
		}
		if p.prefetch != nil {
			if err := p.prefetch(batch); err != nil {
				return nil, false, err
			}
		}
		for _, r := range batch {
			if p.stop != nil && p.stop(r) {
				return out, false, nil
			}
			if p.accept != nil && !p.accept(r) {
				continue
			}
			if len(out) == p.max {
				return out, true, nil
			}
			out = append(out, r)
		}
		if len(batch) < q.Limit {
			return out, false, nil
		}
		q.After = batch[len(batch)-1].SortKey
	}
}

func tokenScope(scope store.Scope, op string, params any) string {
	return "imagebuilder/" + op + "/" + scope.Account + "/" + scope.Region + "/" + fingerprint(params)
}

func (s *Service) observe(kind, status string) {
	if s.Observe != nil {
		s.Observe(kind, status)
	}
}
