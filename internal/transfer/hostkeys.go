package transfer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

const kindHostKey = "transfer.hostkey"

// MaxHostKeys is how many host keys a server may hold.
const MaxHostKeys = 10

// HostKey is a server host key. PrivateKey (PEM) is stored but never
// described.
type HostKey struct {
	Arn                string `json:"Arn"`
	HostKeyId          string `json:"HostKeyId"`
	HostKeyFingerprint string `json:"HostKeyFingerprint"`
	Description        string `json:"Description,omitempty"`
	Type               string `json:"Type"`
	DateImported       Epoch  `json:"DateImported"`
	PrivateKey         string `json:"PrivateKey"`
	Tags               []Tag  `json:"-"`
}

// Host key types a server may hold (the model's DescribedHostKey.Type).
var hostKeyTypes = map[string]bool{
	ssh.KeyAlgoRSA: true, ssh.KeyAlgoED25519: true, ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true,
}

// parseHostKey reads an unencrypted PEM private key (RSA, ECDSA, Ed25519).
func parseHostKey(body string) (*HostKey, error) {
	signer, err := ssh.ParsePrivateKey([]byte(body))
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fault.New(fault.Invalid, "The host key is protected by a passphrase; Transfer Family host keys must have none.")
	}
	if err != nil {
		return nil, fault.New(fault.Invalid, "The host key is not a valid private key: %v", err)
	}
	typ := signer.PublicKey().Type()
	if !hostKeyTypes[typ] {
		return nil, fault.New(fault.Invalid, "Unsupported host key type %s.", typ)
	}
	return &HostKey{Type: typ, HostKeyFingerprint: ssh.FingerprintSHA256(signer.PublicKey()), PrivateKey: body}, nil
}

// generateHostKey makes the key of a server created without one. Ed25519:
// AWS does not say what it generates, and this is instant even under -race.
func generateHostKey() (*HostKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	return parseHostKey(string(pem.EncodeToMemory(block)))
}

func notFoundHostKey(id string) error {
	return fault.Missing("HostKey", id, "Unknown host key %s", id)
}

func (s *Service) addHostKey(tx store.Tx, scope store.Scope, serverID string, k *HostKey, now time.Time) error {
	tx.Notify(TopicServers)
	existing, err := s.hostKeys(tx, scope, serverID)
	if err != nil {
		return err
	}
	if len(existing) >= MaxHostKeys {
		return fault.New(fault.QuotaExceeded, "Server %s already has %d host keys, the most a server may hold.", serverID, MaxHostKeys)
	}
	for _, e := range existing {
		if e.HostKeyFingerprint == k.HostKeyFingerprint {
			return fault.Exists("HostKey", e.HostKeyId, "The host key is already imported as %s.", e.HostKeyId)
		}
	}
	k.HostKeyId = newID("hostkey-")
	k.Arn = resourceARN(scope, "host-key/"+serverID+"/"+k.HostKeyId)
	k.DateImported = Epoch(now)
	seq, err := sequence(tx, scope, kindHostKey, now)
	if err != nil {
		return err
	}
	rec, err := newRecord(scope, kindHostKey, serverID+"/"+k.HostKeyId, serverID, seq, k, k.Tags, now)
	if err != nil {
		return err
	}
	return tx.Insert(rec)
}

// replaceHostKey is UpdateServer's HostKey: the new key replaces the keys of
// its type, so the server presents it at once.
func (s *Service) replaceHostKey(tx store.Tx, scope store.Scope, serverID string, k *HostKey, now time.Time) error {
	tx.Notify(TopicServers)
	existing, err := s.hostKeys(tx, scope, serverID)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if e.Type == k.Type {
			if err := tx.Delete(scope, kindHostKey, serverID+"/"+e.HostKeyId); err != nil {
				return err
			}
		}
	}
	return s.addHostKey(tx, scope, serverID, k, now)
}

// hostKeys returns a server's host keys, oldest first.
func (s *Service) hostKeys(tx store.Tx, scope store.Scope, serverID string) ([]*HostKey, error) {
	recs, err := tx.List(store.ListQuery{Scope: scope, Kind: kindHostKey, Parent: serverID, Limit: MaxHostKeys + 1})
	if err != nil {
		return nil, err
	}
	out := make([]*HostKey, 0, len(recs))
	for _, r := range recs {
		k, err := decodeHostKey(r)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func decodeHostKey(r *store.Record) (*HostKey, error) {
	var k HostKey
	if err := json.Unmarshal(r.Body, &k); err != nil {
		return nil, fmt.Errorf("transfer: corrupt host key %s: %w", r.ID, err)
	}
	k.Tags = tagList(r.Tags)
	return &k, nil
}

// ActiveHostKeys returns the signers a server presents: the oldest key of
// each type.
func (s *Service) ActiveHostKeys(ctx context.Context, scope store.Scope, serverID string) ([]ssh.Signer, error) {
	var out []ssh.Signer
	err := s.store.View(ctx, func(tx store.Tx) error {
		out = nil // the store may run this again
		keys, err := s.hostKeys(tx, scope, serverID)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k.Type] {
				continue
			}
			seen[k.Type] = true
			signer, err := ssh.ParsePrivateKey([]byte(k.PrivateKey))
			if err != nil {
				return err
			}
			out = append(out, signer)
		}
		return nil
	})
	return out, err
}

// ImportHostKey adds a host key to a server.
func (s *Service) ImportHostKey(ctx context.Context, scope store.Scope, serverID, body, description string, tags []Tag) (string, error) {
	k, err := parseHostKey(body)
	if err != nil {
		return "", err
	}
	if err := checkTags(tags); err != nil {
		return "", err
	}
	k.Description, k.Tags = description, tags
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := s.readServer(tx, scope, serverID); err != nil {
			return err
		}
		return s.addHostKey(tx, scope, serverID, k, s.now().UTC())
	})
	if err != nil {
		return "", err
	}
	s.changed(scope, serverID)
	return k.HostKeyId, nil
}

func (s *Service) readHostKey(tx store.Tx, scope store.Scope, serverID, id string) (*store.Record, *HostKey, error) {
	if _, _, err := s.readServer(tx, scope, serverID); err != nil {
		return nil, nil, err
	}
	var k HostKey
	rec, err := getRecord(tx, scope, kindHostKey, serverID+"/"+id, &k, func() error { return notFoundHostKey(id) })
	if err != nil {
		return nil, nil, err
	}
	k.Tags = tagList(rec.Tags)
	return rec, &k, nil
}

// DescribeHostKey returns one host key.
func (s *Service) DescribeHostKey(ctx context.Context, scope store.Scope, serverID, id string) (*HostKey, error) {
	var k *HostKey
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		_, k, err = s.readHostKey(tx, scope, serverID, id)
		return err
	})
	return k, err
}

// HostKeyPage is a page of host keys.
type HostKeyPage struct {
	HostKeys  []*HostKey
	NextToken string
}

// ListHostKeys lists a server's host keys, oldest first.
func (s *Service) ListHostKeys(ctx context.Context, scope store.Scope, serverID string, maxResults int, nextToken string) (*HostKeyPage, error) {
	page := &HostKeyPage{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		page.HostKeys = nil // the store may run this again
		if _, _, err := s.readServer(tx, scope, serverID); err != nil {
			return err
		}
		var err error
		page.NextToken, err = s.listPage(tx, scope, "ListHostKeys", serverID, kindHostKey, serverID, maxResults, nextToken, func(r *store.Record) error {
			k, err := decodeHostKey(r)
			page.HostKeys = append(page.HostKeys, k)
			return err
		})
		return err
	})
	return page, err
}

// UpdateHostKey changes a host key's description.
func (s *Service) UpdateHostKey(ctx context.Context, scope store.Scope, serverID, id, description string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, k, err := s.readHostKey(tx, scope, serverID, id)
		if err != nil {
			return err
		}
		k.Description = description
		return putBody(tx, rec, k, s.now().UTC())
	})
}

// DeleteHostKey deletes a host key; the next oldest of its type becomes
// active. The last key of a server cannot go: it would have none to present.
func (s *Service) DeleteHostKey(ctx context.Context, scope store.Scope, serverID, id string) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := s.readHostKey(tx, scope, serverID, id); err != nil {
			return err
		}
		n, err := tx.Count(scope, kindHostKey, serverID)
		if err != nil {
			return err
		}
		if n <= 1 {
			return fault.New(fault.Invalid, "%s is the only host key of server %s; import another before deleting it.", id, serverID)
		}
		tx.Notify(TopicServers)
		return tx.Delete(scope, kindHostKey, serverID+"/"+id)
	})
	if err != nil {
		return err
	}
	s.changed(scope, serverID)
	return nil
}
