package imagebuilder

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
)

// The simulated EC2 side of an image: one AMI per distribution region (or
// container images), with the attributes lifecycle rules read and change.
// An AMI's record is made from the image the first time lifecycle code
// reads it: public and shared accounts from the distribution's
// launchPermission, tags from its amiTags; lastLaunched is never until a
// test sets it (PUT /_slipway/imagebuilder/amis/{id}).

const kindAMI = "imagebuilder.ami"

// AMI states.
const (
	amiAvailable    = "available"
	amiDisabled     = "disabled"
	amiDeregistered = "deregistered"
)

// AMI is a simulated AMI and its snapshot.
type AMI struct {
	ImageID         string            `json:"imageId"`
	Region          string            `json:"region"`
	AccountID       string            `json:"accountId"`
	Image           string            `json:"image"` // the Image Builder image build ARN
	State           string            `json:"state"`
	Public          bool              `json:"public"`
	SharedAccounts  []string          `json:"sharedAccounts,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
	LastLaunched    *time.Time        `json:"lastLaunched,omitempty"`
	DeprecationTime *time.Time        `json:"deprecationTime,omitempty"`
	SnapshotID      string            `json:"snapshotId"`
	SnapshotDeleted bool              `json:"snapshotDeleted,omitempty"`
}

// imageAMIs returns the AMIs of an image, creating their records on first
// use.
func imageAMIs(tx store.Tx, scope store.Scope, img Doc, now time.Time) ([]*AMI, error) {
	var out []*AMI
	for _, raw := range list(obj(img, "outputResources"), "amis") {
		a, _ := raw.(map[string]any)
		id := str(a, "image")
		var ami AMI
		_, err := getJSON(tx, scope, kindAMI, id, &ami)
		if errors.Is(err, store.ErrNotFound) {
			ami = newAMI(img, a)
			if err := insertJSON(tx, &store.Record{Scope: scope, Kind: kindAMI, ID: id, SortKey: str(img, "arn") + "|" + id, Created: now, Updated: now}, ami); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		out = append(out, &ami)
	}
	return out, nil
}

// newAMI describes an output AMI as its distribution made it.
func newAMI(img, a Doc) AMI {
	ami := AMI{ImageID: str(a, "image"), Region: str(a, "region"), AccountID: str(a, "accountId"), Image: str(img, "arn"), State: amiAvailable,
		SnapshotID: "snap-" + str(a, "image")[4:]}
	for _, raw := range list(obj(img, "distributionConfiguration"), "distributions") {
		d, _ := raw.(map[string]any)
		if str(d, "region") != ami.Region {
			continue
		}
		cfg := obj(d, "amiDistributionConfiguration")
		if tags := obj(cfg, "amiTags"); len(tags) > 0 {
			ami.Tags = map[string]string{}
			for k, v := range tags {
				ami.Tags[k], _ = v.(string)
			}
		}
		perm := obj(cfg, "launchPermission")
		for _, g := range list(perm, "userGroups") {
			if g == "all" {
				ami.Public = true
			}
		}
		for _, u := range list(perm, "userIds") {
			if s, ok := u.(string); ok {
				ami.SharedAccounts = append(ami.SharedAccounts, s)
			}
		}
	}
	return ami
}

func putAMI(tx store.Tx, scope store.Scope, ami *AMI, now time.Time) error {
	rec, err := tx.Get(scope, kindAMI, ami.ImageID)
	if err != nil {
		return err
	}
	return putJSON(tx, rec, ami, now)
}

// AMIAttributes are what a test may set on a simulated AMI.
type AMIAttributes struct {
	Public         *bool             `json:"public"`
	SharedAccounts *[]string         `json:"sharedAccounts"`
	Tags           map[string]string `json:"tags"`
	LastLaunched   *time.Time        `json:"lastLaunched"`
}

// SetAMIAttributes changes a simulated AMI (the admin endpoint's way to make
// the AMIs exclusion rules look at public, shared, tagged or launched).
func (s *Service) SetAMIAttributes(ctx context.Context, scope store.Scope, amiID string, in AMIAttributes) (*AMI, error) {
	var out *AMI
	err := s.store.Update(ctx, func(tx store.Tx) error {
		ami, err := s.findAMI(tx, scope, amiID)
		if err != nil {
			return err
		}
		if in.Public != nil {
			ami.Public = *in.Public
		}
		if in.SharedAccounts != nil {
			ami.SharedAccounts = slices.Clone(*in.SharedAccounts)
		}
		if in.Tags != nil {
			ami.Tags = in.Tags
		}
		if in.LastLaunched != nil {
			t := in.LastLaunched.UTC()
			ami.LastLaunched = &t
		}
		out = ami
		return putAMI(tx, scope, ami, s.nowMillis())
	})
	return out, err
}

// AMIs lists the simulated AMIs of a scope.
func (s *Service) AMIs(ctx context.Context, scope store.Scope) ([]*AMI, error) {
	var out []*AMI
	err := s.store.Update(ctx, func(tx store.Tx) error {
		out = out[:0] // the store may run this again
		// Make the records of every image's AMIs first.
		err := eachImage(tx, scope, func(d Doc) (bool, error) {
			_, err := imageAMIs(tx, scope, d, s.nowMillis())
			return false, err
		})
		if err != nil {
			return err
		}
		recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindAMI, Limit: 100000})
		if err != nil {
			return err
		}
		for _, r := range recs {
			var a AMI
			if err := decodeInto(r, &a); err != nil {
				return err
			}
			out = append(out, &a)
		}
		return nil
	})
	return out, err
}

// ErrNoAMI reports an unknown AMI ID.
var ErrNoAMI = errors.New("no such AMI")

// findAMI finds an AMI by ID among the images' outputs.
func (s *Service) findAMI(tx store.Tx, scope store.Scope, amiID string) (*AMI, error) {
	var ami AMI
	if _, err := getJSON(tx, scope, kindAMI, amiID, &ami); err == nil {
		return &ami, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var found *AMI
	err := eachImage(tx, scope, func(d Doc) (bool, error) {
		for _, raw := range list(obj(d, "outputResources"), "amis") {
			if a, _ := raw.(map[string]any); str(a, "image") != amiID {
				continue
			}
			amis, err := imageAMIs(tx, scope, d, s.nowMillis())
			if err != nil {
				return true, err
			}
			for _, x := range amis {
				if x.ImageID == amiID {
					found = x
				}
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil || found != nil {
		return found, err
	}
	return nil, ErrNoAMI
}

// eachImage calls fn with every image build of the scope until it returns
// true or an error.
func eachImage(tx store.Tx, scope store.Scope, fn func(Doc) (bool, error)) error {
	return eachImageRecord(tx, scope, func(d Doc, _ *store.Record) (bool, error) { return fn(d) })
}
