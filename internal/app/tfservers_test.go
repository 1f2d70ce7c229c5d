package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/transfer"
)

// userKey is an SSH key pair for a test user.
type userKey struct {
	signer     ssh.Signer
	authorized string // the public key line
	pemPrivate []byte // OpenSSH private key file
}

func newUserKey(t testing.TB) userKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return userKey{signer: signer, authorized: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), pemPrivate: pem.EncodeToMemory(block)}
}

func ecdsaHostKeyPEM(t testing.TB) (string, ssh.PublicKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(block)), pub
}

// waitOnline runs the SDK's ServerOnline waiter with a short poll.
func waitState(t testing.TB, c *tf.Client, id string, online bool) {
	t.Helper()
	ctx := context.Background()
	in := &tf.DescribeServerInput{ServerId: aws.String(id)}
	var err error
	if online {
		err = tf.NewServerOnlineWaiter(c, func(o *tf.ServerOnlineWaiterOptions) {
			o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
		}).Wait(ctx, in, 10*time.Second)
	} else {
		err = tf.NewServerOfflineWaiter(c, func(o *tf.ServerOfflineWaiterOptions) {
			o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
		}).Wait(ctx, in, 10*time.Second)
	}
	if err != nil {
		t.Fatalf("waiting for %s (online=%v): %v", id, online, err)
	}
}

func createServer(t testing.TB, c *tf.Client, in *tf.CreateServerInput) string {
	t.Helper()
	if in == nil {
		in = &tf.CreateServerInput{}
	}
	out, err := c.CreateServer(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.ServerId)
	t.Cleanup(func() { _, _ = c.DeleteServer(context.Background(), &tf.DeleteServerInput{ServerId: aws.String(id)}) })
	return id
}

func TestTransferServerLifecycle(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	id := createServer(t, c, &tf.CreateServerInput{Tags: []tftypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if len(id) != 19 || !strings.HasPrefix(id, "s-") || transfer.Port(id) < 20000 {
		t.Fatalf("server id %q port %d", id, transfer.Port(id))
	}
	waitState(t, c, id, true)
	d, err := c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	srv := d.Server
	if aws.ToString(srv.Arn) != "arn:aws:transfer:us-east-1:000000000000:server/"+id || srv.Domain != tftypes.DomainS3 || srv.EndpointType != tftypes.EndpointTypePublic ||
		srv.IdentityProviderType != tftypes.IdentityProviderTypeServiceManaged || len(srv.Protocols) != 1 || srv.Protocols[0] != tftypes.ProtocolSftp ||
		aws.ToString(srv.SecurityPolicyName) != transfer.DefaultSecurityPolicy || srv.State != tftypes.StateOnline || aws.ToInt32(srv.UserCount) != 0 ||
		!strings.HasPrefix(aws.ToString(srv.HostKeyFingerprint), "SHA256:") || srv.IdentityProviderDetails != nil || len(srv.Tags) != 1 ||
		srv.ProtocolDetails == nil || srv.ProtocolDetails.SetStatOption != tftypes.SetStatOptionDefault {
		t.Fatalf("described %+v", srv)
	}
	list, err := c.ListServers(ctx, &tf.ListServersInput{})
	if err != nil || len(list.Servers) != 1 || aws.ToString(list.Servers[0].ServerId) != id || list.Servers[0].State != tftypes.StateOnline {
		t.Fatalf("list %v %+v", err, list)
	}

	// Stop and start drive the waiters.
	if _, err := c.StopServer(ctx, &tf.StopServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, false)
	if _, err := c.StartServer(ctx, &tf.StartServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, true)

	// Workflows: attached ones must exist, an attached one cannot be deleted, [] detaches.
	steps, _ := allStepTypes()
	wf, err := c.CreateWorkflow(ctx, &tf.CreateWorkflowInput{Steps: steps[:1]})
	if err != nil {
		t.Fatal(err)
	}
	role := aws.String("arn:aws:iam::000000000000:role/transfer-workflow")
	_, err = c.UpdateServer(ctx, &tf.UpdateServerInput{ServerId: aws.String(id), WorkflowDetails: &tftypes.WorkflowDetails{
		OnUpload: []tftypes.WorkflowDetail{{WorkflowId: aws.String("w-00000000000000000"), ExecutionRole: role}}}})
	var nf *tftypes.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.ResourceType) != "Workflow" {
		t.Fatalf("unknown workflow: %v", err)
	}
	if _, err := c.UpdateServer(ctx, &tf.UpdateServerInput{ServerId: aws.String(id), WorkflowDetails: &tftypes.WorkflowDetails{
		OnUpload: []tftypes.WorkflowDetail{{WorkflowId: wf.WorkflowId, ExecutionRole: role}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteWorkflow(ctx, &tf.DeleteWorkflowInput{WorkflowId: wf.WorkflowId})
	if ae := apiError(t, err, "InvalidRequestException"); !strings.Contains(ae.ErrorMessage(), id) {
		t.Fatalf("in-use message %q", ae.ErrorMessage())
	}
	d, _ = c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	if d.Server.WorkflowDetails == nil || len(d.Server.WorkflowDetails.OnUpload) != 1 || aws.ToString(d.Server.WorkflowDetails.OnUpload[0].WorkflowId) != aws.ToString(wf.WorkflowId) {
		t.Fatalf("workflow details %+v", d.Server.WorkflowDetails)
	}
	if _, err := c.UpdateServer(ctx, &tf.UpdateServerInput{ServerId: aws.String(id), WorkflowDetails: &tftypes.WorkflowDetails{OnUpload: []tftypes.WorkflowDetail{}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteWorkflow(ctx, &tf.DeleteWorkflowInput{WorkflowId: wf.WorkflowId}); err != nil {
		t.Fatalf("delete detached workflow: %v", err)
	}

	// Cross-field rules refuse and change nothing.
	for name, in := range map[string]*tf.CreateServerInput{
		"ftp on public":     {Protocols: []tftypes.Protocol{tftypes.ProtocolFtp}},
		"details, managed":  {IdentityProviderDetails: &tftypes.IdentityProviderDetails{Url: aws.String("https://x")}},
		"ftps without cert": {Protocols: []tftypes.Protocol{tftypes.ProtocolFtps}, EndpointType: tftypes.EndpointTypeVpc, EndpointDetails: &tftypes.EndpointDetails{VpcId: aws.String("vpc-1")}, IdentityProviderType: tftypes.IdentityProviderTypeAwsLambda, IdentityProviderDetails: &tftypes.IdentityProviderDetails{Function: aws.String("arn:aws:lambda:us-east-1:000000000000:function:f")}},
		"lambda, no func":   {IdentityProviderType: tftypes.IdentityProviderTypeAwsLambda},
		"bad policy":        {SecurityPolicyName: aws.String("TransferSecurityPolicy-1999-01")},
		"bad host key":      {HostKey: aws.String("not a key")},
	} {
		_, err := c.CreateServer(ctx, in)
		var ir *tftypes.InvalidRequestException
		if !errors.As(err, &ir) {
			t.Errorf("%s: %v", name, err)
		}
	}
	list, _ = c.ListServers(ctx, &tf.ListServersInput{})
	if len(list.Servers) != 1 {
		t.Fatalf("refused creates left servers: %d", len(list.Servers))
	}

	// Security policies.
	pols, err := c.ListSecurityPolicies(ctx, &tf.ListSecurityPoliciesInput{MaxResults: aws.Int32(4)})
	if err != nil || len(pols.SecurityPolicyNames) != 4 || pols.NextToken == nil {
		t.Fatalf("policies %v %+v", err, pols)
	}
	p, err := c.DescribeSecurityPolicy(ctx, &tf.DescribeSecurityPolicyInput{SecurityPolicyName: aws.String("TransferSecurityPolicy-2018-11")})
	if err != nil || len(p.SecurityPolicy.SshKexs) != 10 || p.SecurityPolicy.Fips == nil || *p.SecurityPolicy.Fips {
		t.Fatalf("policy %v %+v", err, p)
	}
	_, err = c.DescribeSecurityPolicy(ctx, &tf.DescribeSecurityPolicyInput{SecurityPolicyName: aws.String("TransferSecurityPolicy-1999-01")})
	apiError(t, err, "ResourceNotFoundException")

	// Tags on the server.
	if _, err := c.TagResource(ctx, &tf.TagResourceInput{Arn: srv.Arn, Tags: []tftypes.Tag{{Key: aws.String("env"), Value: aws.String("ci")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, &tf.ListTagsForResourceInput{Arn: srv.Arn})
	if err != nil || len(tags.Tags) != 2 {
		t.Fatalf("tags %v %+v", err, tags)
	}

	// Delete: gone, and its port is closed.
	if _, err := c.DeleteServer(ctx, &tf.DeleteServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	if !errors.As(err, &nf) || aws.ToString(nf.Resource) != id || aws.ToString(nf.ResourceType) != "Server" {
		t.Fatalf("describe deleted: %v", err)
	}
}

func TestTransferHostKeys(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	id := createServer(t, c, nil)
	keys, err := c.ListHostKeys(ctx, &tf.ListHostKeysInput{ServerId: aws.String(id)})
	if err != nil || len(keys.HostKeys) != 1 || aws.ToString(keys.HostKeys[0].Type) != "ssh-ed25519" {
		t.Fatalf("generated key %v %+v", err, keys)
	}
	generated := keys.HostKeys[0]
	body, pub := ecdsaHostKeyPEM(t)
	imp, err := c.ImportHostKey(ctx, &tf.ImportHostKeyInput{ServerId: aws.String(id), HostKeyBody: aws.String(body), Description: aws.String("rotation"),
		Tags: []tftypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	hk, err := c.DescribeHostKey(ctx, &tf.DescribeHostKeyInput{ServerId: aws.String(id), HostKeyId: imp.HostKeyId})
	if err != nil {
		t.Fatal(err)
	}
	k := hk.HostKey
	if aws.ToString(k.Type) != "ecdsa-sha2-nistp256" || aws.ToString(k.HostKeyFingerprint) != ssh.FingerprintSHA256(pub) || aws.ToString(k.Description) != "rotation" ||
		k.DateImported == nil || time.Since(*k.DateImported) > time.Minute || len(k.Tags) != 1 ||
		aws.ToString(k.Arn) != "arn:aws:transfer:us-east-1:000000000000:host-key/"+id+"/"+aws.ToString(imp.HostKeyId) {
		t.Fatalf("described %+v", k)
	}
	_, err = c.ImportHostKey(ctx, &tf.ImportHostKeyInput{ServerId: aws.String(id), HostKeyBody: aws.String(body)})
	apiError(t, err, "ResourceExistsException")
	if _, err := c.UpdateHostKey(ctx, &tf.UpdateHostKeyInput{ServerId: aws.String(id), HostKeyId: imp.HostKeyId, Description: aws.String("renamed")}); err != nil {
		t.Fatal(err)
	}
	// The server fingerprint stays the oldest key's.
	d, _ := c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	if aws.ToString(d.Server.HostKeyFingerprint) != aws.ToString(generated.Fingerprint) {
		t.Fatalf("fingerprint %s, want %s", aws.ToString(d.Server.HostKeyFingerprint), aws.ToString(generated.Fingerprint))
	}
	// At most ten keys.
	for i := 0; i < 8; i++ {
		b, _ := ecdsaHostKeyPEM(t)
		if _, err := c.ImportHostKey(ctx, &tf.ImportHostKeyInput{ServerId: aws.String(id), HostKeyBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := ecdsaHostKeyPEM(t)
	_, err = c.ImportHostKey(ctx, &tf.ImportHostKeyInput{ServerId: aws.String(id), HostKeyBody: aws.String(b)})
	apiError(t, err, "InvalidRequestException")
	page, err := c.ListHostKeys(ctx, &tf.ListHostKeysInput{ServerId: aws.String(id), MaxResults: aws.Int32(6)})
	if err != nil || len(page.HostKeys) != 6 || page.NextToken == nil {
		t.Fatalf("page %v %+v", err, page)
	}
	_, err = c.ListHostKeys(ctx, &tf.ListHostKeysInput{ServerId: aws.String(id), NextToken: aws.String("forged")})
	apiError(t, err, "InvalidNextTokenException")
	// Host keys take tags through the shared tagging operations.
	if _, err := c.TagResource(ctx, &tf.TagResourceInput{Arn: k.Arn, Tags: []tftypes.Tag{{Key: aws.String("rotated"), Value: aws.String("yes")}}}); err != nil {
		t.Fatal(err)
	}
	if tags, err := c.ListTagsForResource(ctx, &tf.ListTagsForResourceInput{Arn: k.Arn}); err != nil || len(tags.Tags) != 2 {
		t.Fatalf("host key tags %v %+v", err, tags)
	}
	if _, err := c.DeleteHostKey(ctx, &tf.DeleteHostKeyInput{ServerId: aws.String(id), HostKeyId: imp.HostKeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeHostKey(ctx, &tf.DescribeHostKeyInput{ServerId: aws.String(id), HostKeyId: imp.HostKeyId})
	apiError(t, err, "ResourceNotFoundException")
	// A passphrase-protected key is refused.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	enc, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	_, err = c.ImportHostKey(ctx, &tf.ImportHostKeyInput{ServerId: aws.String(id), HostKeyBody: aws.String(string(pem.EncodeToMemory(enc)))})
	if ae := apiError(t, err, "InvalidRequestException"); !strings.Contains(ae.ErrorMessage(), "passphrase") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	// UpdateServer's HostKey replaces the keys of its type: the server now
	// presents (and describes) the new key.
	_, newPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(newPriv, "")
	if _, err := c.UpdateServer(ctx, &tf.UpdateServerInput{ServerId: aws.String(id), HostKey: aws.String(string(pem.EncodeToMemory(block)))}); err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(newPriv)
	d, _ = c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	keys, _ = c.ListHostKeys(ctx, &tf.ListHostKeysInput{ServerId: aws.String(id)})
	var ed []string
	for _, hk := range keys.HostKeys {
		if aws.ToString(hk.Type) == "ssh-ed25519" {
			ed = append(ed, aws.ToString(hk.Fingerprint))
		}
	}
	if want := ssh.FingerprintSHA256(signer.PublicKey()); len(ed) != 1 || ed[0] != want {
		t.Fatalf("ed25519 keys after UpdateServer %v, want only %s", ed, want)
	}
}

func TestTransferUsers(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	id := createServer(t, c, nil)
	role := aws.String("arn:aws:iam::000000000000:role/transfer-user")
	key := newUserKey(t)
	_, err := c.CreateUser(ctx, &tf.CreateUserInput{ServerId: aws.String(id), UserName: aws.String("alice"), Role: role,
		HomeDirectory: aws.String("/bucket/home/alice"), SshPublicKeyBody: aws.String(key.authorized), Tags: []tftypes.Tag{{Key: aws.String("t"), Value: aws.String("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateUser(ctx, &tf.CreateUserInput{ServerId: aws.String(id), UserName: aws.String("alice"), Role: role})
	apiError(t, err, "ResourceExistsException")
	d, err := c.DescribeUser(ctx, &tf.DescribeUserInput{ServerId: aws.String(id), UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	u := d.User
	if aws.ToString(u.Arn) != "arn:aws:transfer:us-east-1:000000000000:user/"+id+"/alice" || u.HomeDirectoryType != tftypes.HomeDirectoryTypePath ||
		len(u.SshPublicKeys) != 1 || !strings.HasPrefix(aws.ToString(u.SshPublicKeys[0].SshPublicKeyId), "key-") || len(u.Tags) != 1 {
		t.Fatalf("described %+v", u)
	}
	// Logical mappings and their rules.
	mappings := []tftypes.HomeDirectoryMapEntry{{Entry: aws.String("/"), Target: aws.String("/bucket/alice")}, {Entry: aws.String("/x"), Target: aws.String("/bucket/x")}}
	_, err = c.UpdateUser(ctx, &tf.UpdateUserInput{ServerId: aws.String(id), UserName: aws.String("alice"), HomeDirectoryType: tftypes.HomeDirectoryTypeLogical, HomeDirectoryMappings: mappings})
	apiError(t, err, "InvalidRequestException")
	if _, err := c.UpdateUser(ctx, &tf.UpdateUserInput{ServerId: aws.String(id), UserName: aws.String("alice"), HomeDirectory: aws.String(""),
		HomeDirectoryType: tftypes.HomeDirectoryTypeLogical, HomeDirectoryMappings: mappings[:1]}); err != nil {
		t.Fatal(err)
	}
	// Keys: duplicates refused, five shown, all counted.
	_, err = c.ImportSshPublicKey(ctx, &tf.ImportSshPublicKeyInput{ServerId: aws.String(id), UserName: aws.String("alice"), SshPublicKeyBody: aws.String(key.authorized)})
	apiError(t, err, "ResourceExistsException")
	var last string
	for i := 0; i < 6; i++ {
		k := newUserKey(t)
		out, err := c.ImportSshPublicKey(ctx, &tf.ImportSshPublicKeyInput{ServerId: aws.String(id), UserName: aws.String("alice"), SshPublicKeyBody: aws.String(k.authorized)})
		if err != nil {
			t.Fatal(err)
		}
		last = aws.ToString(out.SshPublicKeyId)
	}
	d, _ = c.DescribeUser(ctx, &tf.DescribeUserInput{ServerId: aws.String(id), UserName: aws.String("alice")})
	if len(d.User.SshPublicKeys) != 5 {
		t.Fatalf("described keys %d", len(d.User.SshPublicKeys))
	}
	users, err := c.ListUsers(ctx, &tf.ListUsersInput{ServerId: aws.String(id)})
	if err != nil || len(users.Users) != 1 || aws.ToInt32(users.Users[0].SshPublicKeyCount) != 7 || users.Users[0].HomeDirectoryType != tftypes.HomeDirectoryTypeLogical {
		t.Fatalf("list %v %+v", err, users)
	}
	if _, err := c.DeleteSshPublicKey(ctx, &tf.DeleteSshPublicKeyInput{ServerId: aws.String(id), UserName: aws.String("alice"), SshPublicKeyId: aws.String(last)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteSshPublicKey(ctx, &tf.DeleteSshPublicKeyInput{ServerId: aws.String(id), UserName: aws.String("alice"), SshPublicKeyId: aws.String(last)})
	apiError(t, err, "ResourceNotFoundException")
	_, err = c.ImportSshPublicKey(ctx, &tf.ImportSshPublicKeyInput{ServerId: aws.String(id), UserName: aws.String("alice"), SshPublicKeyBody: aws.String("ssh-rsa AAAAnotakey")})
	apiError(t, err, "InvalidRequestException")
	srv, _ := c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	if aws.ToInt32(srv.Server.UserCount) != 1 {
		t.Fatalf("user count %d", aws.ToInt32(srv.Server.UserCount))
	}
	// Tags on a user.
	if _, err := c.UntagResource(ctx, &tf.UntagResourceInput{Arn: u.Arn, TagKeys: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteUser(ctx, &tf.DeleteUserInput{ServerId: aws.String(id), UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeUser(ctx, &tf.DescribeUserInput{ServerId: aws.String(id), UserName: aws.String("alice")})
	apiError(t, err, "ResourceNotFoundException")

	// EFS users need a POSIX profile; custom-IdP servers have no users.
	efs := createServer(t, c, &tf.CreateServerInput{Domain: tftypes.DomainEfs})
	_, err = c.CreateUser(ctx, &tf.CreateUserInput{ServerId: aws.String(efs), UserName: aws.String("bob"), Role: role})
	apiError(t, err, "InvalidRequestException")
	if _, err := c.CreateUser(ctx, &tf.CreateUserInput{ServerId: aws.String(efs), UserName: aws.String("bob"), Role: role,
		PosixProfile: &tftypes.PosixProfile{Uid: aws.Int64(1000), Gid: aws.Int64(1000)}}); err != nil {
		t.Fatal(err)
	}
	lam := createServer(t, c, &tf.CreateServerInput{IdentityProviderType: tftypes.IdentityProviderTypeAwsLambda,
		IdentityProviderDetails: &tftypes.IdentityProviderDetails{Function: aws.String("arn:aws:lambda:us-east-1:000000000000:function:idp")}})
	_, err = c.CreateUser(ctx, &tf.CreateUserInput{ServerId: aws.String(lam), UserName: aws.String("carol"), Role: role})
	apiError(t, err, "InvalidRequestException")
	_, err = c.CreateUser(ctx, &tf.CreateUserInput{ServerId: aws.String("s-00000000000000000"), UserName: aws.String("carol"), Role: role})
	apiError(t, err, "ResourceNotFoundException")
}
