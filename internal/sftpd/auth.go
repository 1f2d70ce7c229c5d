package sftpd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/transfer"
)

// logins hands an authenticated user from the SSH handshake to the session,
// keyed by the connection's addresses (Permissions can only carry strings).
// The connection's handler removes its entry however the handshake ends, so
// a login whose handshake fails afterwards leaves nothing behind.
var logins sync.Map // connKey -> *session

// connKey names one TCP connection.
func connKey(remote, local net.Addr) string { return remote.String() + "|" + local.String() }

type session struct {
	user   *transfer.User
	server *transfer.Server
}

func refusedName(name string) bool { return len(name) < 3 || name == "root" }

// sshConfig builds the SSH server configuration of srv: its security
// policy's algorithms (those x/crypto/ssh implements), its active host keys,
// its banner and its identity provider.
func (s *Supervisor) sshConfig(ctx context.Context, scope store.Scope, srv *transfer.Server) (*ssh.ServerConfig, error) {
	policy, ok := transfer.SecurityPolicyByName(srv.SecurityPolicyName)
	if !ok {
		return nil, fmt.Errorf("unknown security policy %s", srv.SecurityPolicyName)
	}
	cfg := &ssh.ServerConfig{
		Config:        ssh.Config{Ciphers: policy.SshCiphers, KeyExchanges: policy.SshKexs, MACs: policy.SshMacs},
		MaxAuthTries:  6,
		ServerVersion: "SSH-2.0-AWS_SFTP_1.1",
	}
	if banner := srv.PreAuthenticationLoginBanner; banner != "" {
		cfg.BannerCallback = func(ssh.ConnMetadata) string { return banner + "\n" }
	}
	signers, err := s.tf.ActiveHostKeys(ctx, scope, srv.ServerID)
	if err != nil {
		return nil, err
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("server %s has no host key", srv.ServerID)
	}
	for _, k := range signers {
		cfg.AddHostKey(k)
	}
	a := &authenticator{sup: s, scope: scope, serverID: srv.ServerID}
	switch srv.IdentityProviderType {
	case transfer.IdentityServiceManaged:
		// Service-managed users log in with SSH keys only.
		cfg.PublicKeyCallback = a.managedKey
	case transfer.IdentityLambda, transfer.IdentityAPIGateway:
		method := "PUBLIC_KEY_OR_PASSWORD"
		if d := srv.IdentityProviderDetails; d != nil && d.SftpAuthenticationMethods != "" {
			method = d.SftpAuthenticationMethods
		}
		switch method {
		case "PASSWORD":
			cfg.PasswordCallback = a.customPassword
		case "PUBLIC_KEY":
			cfg.PublicKeyCallback = a.customKey
		case "PUBLIC_KEY_OR_PASSWORD":
			cfg.PasswordCallback = a.customPassword
			cfg.PublicKeyCallback = a.customKey
		case "PUBLIC_KEY_AND_PASSWORD":
			cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
				if _, err := a.customKey(c, key); err != nil {
					return nil, err
				}
				return nil, &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{PasswordCallback: a.customPassword}}
			}
		}
	default:
		// AWS_DIRECTORY_SERVICE needs a directory Slipway does not have:
		// every login is refused.
		cfg.PasswordCallback = func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
			return nil, fmt.Errorf("directory service logins are not supported")
		}
	}
	return cfg, nil
}

// authenticator checks logins to one server. Each login reads the server's
// settings once, so an UpdateServer applies to the next login even before
// the endpoint's configuration is rebuilt.
type authenticator struct {
	sup      *Supervisor
	scope    store.Scope
	serverID string
}

func (a *authenticator) server() (*transfer.Server, error) {
	return a.sup.tf.LoginServer(context.Background(), a.scope, a.serverID)
}

// permit records a successful login for the session that follows.
func (a *authenticator) permit(c ssh.ConnMetadata, srv *transfer.Server, u *transfer.User) (*ssh.Permissions, error) {
	logins.Store(connKey(c.RemoteAddr(), c.LocalAddr()), &session{user: u, server: srv})
	return &ssh.Permissions{}, nil
}

func (a *authenticator) managedKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if refusedName(c.User()) {
		return nil, fmt.Errorf("user name %q is not allowed", c.User())
	}
	srv, err := a.server()
	if err != nil {
		return nil, err
	}
	u, err := a.sup.tf.LoginUser(context.Background(), a.scope, a.serverID, c.User())
	if err != nil {
		return nil, fmt.Errorf("unknown user")
	}
	want := key.Marshal()
	for _, k := range u.SshPublicKeys {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.SshPublicKeyBody))
		if err == nil && bytes.Equal(pk.Marshal(), want) {
			return a.permit(c, srv, u)
		}
	}
	return nil, fmt.Errorf("key not authorized")
}

func sourceIP(c ssh.ConnMetadata) string {
	if t, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return t.IP.String()
	}
	return ""
}

func (a *authenticator) customKey(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if refusedName(c.User()) {
		return nil, fmt.Errorf("user name %q is not allowed", c.User())
	}
	srv, err := a.server()
	if err != nil {
		return nil, err
	}
	u, err := a.sup.tf.CustomLogin(context.Background(), a.scope, srv, transfer.Login{UserName: c.User(), SourceIP: sourceIP(c)})
	if err != nil {
		return nil, err
	}
	want := key.Marshal()
	for _, body := range u.Identity.PublicKeys {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body))
		if err == nil && bytes.Equal(pk.Marshal(), want) {
			return a.permit(c, srv, u)
		}
	}
	return nil, fmt.Errorf("key not listed by the identity provider")
}

func (a *authenticator) customPassword(c ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	if refusedName(c.User()) {
		return nil, fmt.Errorf("user name %q is not allowed", c.User())
	}
	srv, err := a.server()
	if err != nil {
		return nil, err
	}
	u, err := a.sup.tf.CustomLogin(context.Background(), a.scope, srv, transfer.Login{UserName: c.User(),
		Password: string(password), HasPassword: true, SourceIP: sourceIP(c)})
	if err != nil {
		return nil, err
	}
	return a.permit(c, srv, u)
}
