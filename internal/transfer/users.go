package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/store"
)

const kindUser = "transfer.user"

// Limits on a user's SSH keys: AWS's quota per user, and how many a
// described user shows (the model's maximum).
const (
	MaxSSHKeys       = 50
	DescribedSSHKeys = 5
)

// Home directory types.
const (
	HomePath    = "PATH"
	HomeLogical = "LOGICAL"
)

// User is a service-managed user. Its JSON form is the API's DescribedUser,
// which is how it is stored.
type User struct {
	Arn                   string           `json:"Arn"`
	HomeDirectory         string           `json:"HomeDirectory,omitempty"`
	HomeDirectoryMappings []HomeMapping    `json:"HomeDirectoryMappings,omitempty"`
	HomeDirectoryType     string           `json:"HomeDirectoryType"`
	Policy                string           `json:"Policy,omitempty"`
	PosixProfile          *PosixProfile    `json:"PosixProfile,omitempty"`
	Role                  string           `json:"Role"`
	SshPublicKeys         []SshPublicKey   `json:"SshPublicKeys"`
	UserName              string           `json:"UserName"`
	Tags                  []Tag            `json:"Tags,omitempty"`
	ServerID              string           `json:"-"`
	Domain                string           `json:"-"`
	Identity              *IdentityDetails `json:"-"`
}

// HomeMapping is one logical directory: what the user sees (Entry) and where
// it lives (Target, /bucket/prefix or /fs-id/path).
type HomeMapping struct {
	Entry  string `json:"Entry"`
	Target string `json:"Target"`
	Type   string `json:"Type,omitempty"`
}

// PosixProfile is the POSIX identity of an EFS user.
type PosixProfile struct {
	Uid           int64   `json:"Uid"`
	Gid           int64   `json:"Gid"`
	SecondaryGids []int64 `json:"SecondaryGids,omitempty"`
}

// SshPublicKey is one of a user's keys.
type SshPublicKey struct {
	DateImported     Epoch  `json:"DateImported"`
	SshPublicKeyBody string `json:"SshPublicKeyBody"`
	SshPublicKeyId   string `json:"SshPublicKeyId"`
}

// IdentityDetails is what a custom identity provider said about a login
// (nil for service-managed users).
type IdentityDetails struct {
	PublicKeys []string
}

// UserInput is CreateUser's and UpdateUser's request; on update a nil
// member is left as it was.
type UserInput struct {
	ServerID              string
	UserName              string
	HomeDirectory         *string
	HomeDirectoryType     *string
	HomeDirectoryMappings []HomeMapping
	Policy                *string
	PosixProfile          *PosixProfile
	Role                  *string
	SshPublicKeyBody      string
	Tags                  []Tag
}

func notFoundUser(serverID, name string) error {
	return fault.Missing("User", name, "Unknown user %s on server %s", name, serverID)
}

// parseUserKey checks an SSH public key body and returns it normalised.
func parseUserKey(body string) (string, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body))
	if err != nil {
		return "", fault.New(fault.Invalid, "Unsupported or invalid SSH public key format: %v", err)
	}
	if !hostKeyTypes[pk.Type()] {
		return "", fault.New(fault.Invalid, "Unsupported SSH public key type %s.", pk.Type())
	}
	return strings.TrimSpace(body), nil
}

// CheckHome validates a home directory configuration (for service-managed
// users and for what custom identity providers answer).
func CheckHome(u *User) error {
	switch u.HomeDirectoryType {
	case HomePath:
		if len(u.HomeDirectoryMappings) > 0 {
			return fault.New(fault.Invalid, "HomeDirectoryMappings need HomeDirectoryType LOGICAL.")
		}
	case HomeLogical:
		if len(u.HomeDirectoryMappings) == 0 {
			return fault.New(fault.Invalid, "A LOGICAL home directory needs HomeDirectoryMappings.")
		}
		entries := map[string]bool{}
		for _, m := range u.HomeDirectoryMappings {
			if !strings.HasPrefix(m.Entry, "/") || !strings.HasPrefix(m.Target, "/") {
				return fault.New(fault.Invalid, "HomeDirectoryMappings: Entry and Target must start with '/' (%s -> %s).", m.Entry, m.Target)
			}
			if m.Target != "/" && strings.HasSuffix(m.Target, "/") {
				return fault.New(fault.Invalid, "HomeDirectoryMappings: Target %s must not end with '/'.", m.Target)
			}
			if strings.Trim(m.Target, "/") == "" {
				return fault.New(fault.Invalid, "HomeDirectoryMappings: Target %s must name a bucket or file system.", m.Target)
			}
			if m.Type != "" && m.Type != "FILE" && m.Type != "DIRECTORY" {
				return fault.New(fault.Invalid, "HomeDirectoryMappings: Type must be FILE or DIRECTORY.")
			}
			e := path.Clean(m.Entry)
			if entries[e] {
				return fault.New(fault.Invalid, "HomeDirectoryMappings: Entry %s appears more than once.", e)
			}
			entries[e] = true
		}
		if entries["/"] && len(entries) > 1 {
			return fault.New(fault.Invalid, "HomeDirectoryMappings: an Entry of '/' must be the only mapping.")
		}
		if u.HomeDirectory != "" {
			inside := false
			for e := range entries {
				if e == "/" || u.HomeDirectory == e || strings.HasPrefix(u.HomeDirectory, e+"/") {
					inside = true
				}
			}
			if !inside {
				return fault.New(fault.Invalid, "HomeDirectory %s must lie inside one of the HomeDirectoryMappings entries.", u.HomeDirectory)
			}
		}
	default:
		return fault.New(fault.Invalid, "HomeDirectoryType must be PATH or LOGICAL.")
	}
	return nil
}

func applyUserInput(u *User, in *UserInput) {
	if in.HomeDirectory != nil {
		u.HomeDirectory = *in.HomeDirectory
	}
	if in.HomeDirectoryType != nil {
		u.HomeDirectoryType = *in.HomeDirectoryType
	}
	if in.HomeDirectoryMappings != nil {
		u.HomeDirectoryMappings = in.HomeDirectoryMappings
	}
	if u.HomeDirectoryType == HomePath && in.HomeDirectoryType != nil {
		u.HomeDirectoryMappings = nil
	}
	if in.Policy != nil {
		u.Policy = *in.Policy
	}
	if in.PosixProfile != nil {
		u.PosixProfile = in.PosixProfile
	}
	if in.Role != nil {
		u.Role = *in.Role
	}
}

func checkUser(srv *Server, u *User) error {
	if err := CheckHome(u); err != nil {
		return err
	}
	if srv.Domain == DomainEFS && u.PosixProfile == nil {
		return fault.New(fault.Invalid, "Users of an EFS server need a PosixProfile.")
	}
	if srv.Domain == DomainEFS && u.Policy != "" {
		return fault.New(fault.Invalid, "Session policies apply to S3 servers only.")
	}
	return nil
}

// CreateUser adds a service-managed user to a server.
func (s *Service) CreateUser(ctx context.Context, scope store.Scope, in UserInput) error {
	u := &User{UserName: in.UserName, HomeDirectoryType: HomePath, SshPublicKeys: []SshPublicKey{}}
	applyUserInput(u, &in)
	if err := checkTags(in.Tags); err != nil {
		return err
	}
	now := s.now().UTC()
	if in.SshPublicKeyBody != "" {
		body, err := parseUserKey(in.SshPublicKeyBody)
		if err != nil {
			return err
		}
		u.SshPublicKeys = append(u.SshPublicKeys, SshPublicKey{DateImported: Epoch(now), SshPublicKeyBody: body, SshPublicKeyId: newID("key-")})
	}
	u.Arn = resourceARN(scope, "user/"+in.ServerID+"/"+in.UserName)
	return s.store.Update(ctx, func(tx store.Tx) error {
		_, srv, err := s.readServer(tx, scope, in.ServerID)
		if err != nil {
			return err
		}
		if srv.IdentityProviderType != IdentityServiceManaged {
			return fault.New(fault.Invalid, "Users can only be created on servers whose identity provider is SERVICE_MANAGED; %s uses %s.", srv.ServerID, srv.IdentityProviderType)
		}
		if err := checkUser(srv, u); err != nil {
			return err
		}
		if _, err := tx.Get(scope, kindUser, in.ServerID+"/"+in.UserName); err == nil {
			return fault.Exists("User", in.UserName, "User already exists")
		}
		rec, err := newRecord(scope, kindUser, in.ServerID+"/"+in.UserName, in.ServerID, in.UserName, u, in.Tags, now)
		if err != nil {
			return err
		}
		return tx.Insert(rec)
	})
}

func (s *Service) readUser(tx store.Tx, scope store.Scope, serverID, name string) (*store.Record, *User, *Server, error) {
	_, srv, err := s.readServer(tx, scope, serverID)
	if err != nil {
		return nil, nil, nil, err
	}
	var u User
	rec, err := getRecord(tx, scope, kindUser, serverID+"/"+name, &u, func() error { return notFoundUser(serverID, name) })
	if err != nil {
		return nil, nil, nil, err
	}
	u.ServerID, u.Domain = serverID, srv.Domain
	return rec, &u, srv, nil
}

// DescribeUser returns a user (with at most DescribedSSHKeys keys).
func (s *Service) DescribeUser(ctx context.Context, scope store.Scope, serverID, name string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, cur, _, err := s.readUser(tx, scope, serverID, name)
		if err != nil {
			return err
		}
		u = cur
		u.Tags = tagList(rec.Tags)
		return nil
	})
	if err == nil && len(u.SshPublicKeys) > DescribedSSHKeys {
		u.SshPublicKeys = u.SshPublicKeys[:DescribedSSHKeys]
	}
	return u, err
}

// LoginUser returns a user with all their keys, for authentication. The
// caller has the server already.
func (s *Service) LoginUser(ctx context.Context, scope store.Scope, serverID, name string) (*User, error) {
	var u User
	err := s.store.View(ctx, func(tx store.Tx) error {
		_, err := getRecord(tx, scope, kindUser, serverID+"/"+name, &u, func() error { return notFoundUser(serverID, name) })
		return err
	})
	u.ServerID = serverID
	return &u, err
}

// UserPage is a page of users.
type UserPage struct {
	Users     []*User
	NextToken string
}

// ListUsers lists a server's users by name.
func (s *Service) ListUsers(ctx context.Context, scope store.Scope, serverID string, maxResults int, nextToken string) (*UserPage, error) {
	page := &UserPage{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		page.Users = nil // the store may run this again
		if _, _, err := s.readServer(tx, scope, serverID); err != nil {
			return err
		}
		var err error
		page.NextToken, err = s.listPage(tx, scope, "ListUsers", serverID, kindUser, serverID, maxResults, nextToken, func(r *store.Record) error {
			var u User
			if err := json.Unmarshal(r.Body, &u); err != nil {
				return fmt.Errorf("transfer: corrupt user %s: %w", r.ID, err)
			}
			page.Users = append(page.Users, &u)
			return nil
		})
		return err
	})
	return page, err
}

// UpdateUser changes a user's settings.
func (s *Service) UpdateUser(ctx context.Context, scope store.Scope, in UserInput) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, u, srv, err := s.readUser(tx, scope, in.ServerID, in.UserName)
		if err != nil {
			return err
		}
		applyUserInput(u, &in)
		if err := checkUser(srv, u); err != nil {
			return err
		}
		return putBody(tx, rec, u, s.now().UTC())
	})
}

// DeleteUser deletes a user.
func (s *Service) DeleteUser(ctx context.Context, scope store.Scope, serverID, name string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, _, err := s.readUser(tx, scope, serverID, name); err != nil {
			return err
		}
		return tx.Delete(scope, kindUser, serverID+"/"+name)
	})
}

// ImportSSHPublicKey adds a key to a user and returns its ID.
func (s *Service) ImportSSHPublicKey(ctx context.Context, scope store.Scope, serverID, name, body string) (string, error) {
	body, err := parseUserKey(body)
	if err != nil {
		return "", err
	}
	id := newID("key-")
	now := s.now().UTC()
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, u, _, err := s.readUser(tx, scope, serverID, name)
		if err != nil {
			return err
		}
		for _, k := range u.SshPublicKeys {
			if sameKey(k.SshPublicKeyBody, body) {
				return fault.Exists("SshPublicKey", k.SshPublicKeyId, "The SSH public key is already imported as %s.", k.SshPublicKeyId)
			}
		}
		if len(u.SshPublicKeys) >= MaxSSHKeys {
			return fault.New(fault.QuotaExceeded, "User %s already has %d SSH public keys, the most a user may hold.", name, MaxSSHKeys)
		}
		u.SshPublicKeys = append(u.SshPublicKeys, SshPublicKey{DateImported: Epoch(now), SshPublicKeyBody: body, SshPublicKeyId: id})
		return putBody(tx, rec, u, now)
	})
	return id, err
}

// sameKey compares two authorized-key lines by key type and data.
func sameKey(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	return len(fa) >= 2 && len(fb) >= 2 && fa[0] == fb[0] && fa[1] == fb[1]
}

// DeleteSSHPublicKey removes a key from a user.
func (s *Service) DeleteSSHPublicKey(ctx context.Context, scope store.Scope, serverID, name, keyID string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, u, _, err := s.readUser(tx, scope, serverID, name)
		if err != nil {
			return err
		}
		for i, k := range u.SshPublicKeys {
			if k.SshPublicKeyId == keyID {
				u.SshPublicKeys = append(u.SshPublicKeys[:i], u.SshPublicKeys[i+1:]...)
				return putBody(tx, rec, u, time.Now().UTC())
			}
		}
		return fault.Missing("SshPublicKey", keyID, "Unknown SSH public key %s", keyID)
	})
}
