package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"golang.org/x/crypto/ssh"
)

// invokeAPI is a small Lambda Invoke API for tests: it records each event
// and answers with what answer returns.
type invokeAPI struct {
	URL    string
	mu     sync.Mutex
	events []map[string]string
	paths  []string
	auth   []string
}

func startInvokeAPI(t testing.TB, answer func(event map[string]string) (int, any)) *invokeAPI {
	t.Helper()
	api := &invokeAPI{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]string
		_ = json.Unmarshal(b, &ev)
		api.mu.Lock()
		api.events = append(api.events, ev)
		api.paths = append(api.paths, r.Method+" "+r.URL.Path)
		api.auth = append(api.auth, r.Header.Get("Authorization"))
		api.mu.Unlock()
		status, out := answer(ev)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return api
}

func TestLambdaIdentityProvider(t *testing.T) {
	t.Parallel()
	key := newUserKey(t)
	home := map[string]any{"Role": "arn:aws:iam::000000000000:role/idp-user", "HomeDirectoryType": "LOGICAL",
		"HomeDirectoryDetails": `[{"Entry":"/","Target":"/idp-bucket/carol"}]`}
	api := startInvokeAPI(t, func(ev map[string]string) (int, any) {
		if ev["username"] != "carol" {
			return 200, map[string]any{}
		}
		if pw, ok := ev["password"]; ok {
			if pw != "s3cret" {
				return 200, map[string]any{}
			}
			return 200, home
		}
		withKeys := map[string]any{"PublicKeys": []string{key.authorized}}
		for k, v := range home {
			withKeys[k] = v
		}
		return 200, withKeys
	})
	s := startApp(t, mustNew(t, Config{InMemory: true, LambdaEndpoint: api.URL}))
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s.s3(opts("us-east-1")), "idp-bucket")
	fn := "arn:aws:lambda:us-east-1:000000000000:function:sftp-idp"
	id := createServer(t, c, &tf.CreateServerInput{IdentityProviderType: tftypes.IdentityProviderTypeAwsLambda,
		IdentityProviderDetails: &tftypes.IdentityProviderDetails{Function: aws.String(fn)}})
	waitState(t, c, id, true)
	d, _ := c.DescribeServer(ctx, &tf.DescribeServerInput{ServerId: aws.String(id)})
	if d.Server.IdentityProviderDetails == nil || d.Server.IdentityProviderDetails.SftpAuthenticationMethods != tftypes.SftpAuthenticationMethodsPublicKeyOrPassword {
		t.Fatalf("identity provider details %+v", d.Server.IdentityProviderDetails)
	}

	// Password login lands in the logical home the function returned.
	cl, err := dialSFTP(t, id, "carol", ssh.Password("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := cl.Create("/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("via lambda"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := getObject(t, s.s3(opts("us-east-1")), "idp-bucket", "carol/hello.txt"); b != "via lambda" {
		t.Fatalf("object %q", b)
	}
	// Key login: the function lists the key.
	if _, err := dialSFTP(t, id, "carol", ssh.PublicKeys(key.signer)); err != nil {
		t.Fatalf("key login: %v", err)
	}
	// Refused: wrong password, unknown user, unlisted key.
	if _, err := dialSFTP(t, id, "carol", ssh.Password("wrong")); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if _, err := dialSFTP(t, id, "mallory", ssh.Password("s3cret")); err == nil {
		t.Fatal("an unknown user logged in")
	}
	if _, err := dialSFTP(t, id, "carol", ssh.PublicKeys(newUserKey(t).signer)); err == nil {
		t.Fatal("an unlisted key logged in")
	}
	api.mu.Lock()
	if api.paths[0] != "POST /2015-03-31/functions/sftp-idp/invocations" || !strings.Contains(api.auth[0], "/us-east-1/lambda/aws4_request") ||
		api.events[0]["serverId"] != id || api.events[0]["protocol"] != "SFTP" || api.events[0]["sourceIp"] != "127.0.0.1" {
		t.Fatalf("invocation %v %v %v", api.paths[0], api.auth[0], api.events[0])
	}
	api.mu.Unlock()

	// TestIdentityProvider runs the same code.
	res, err := c.TestIdentityProvider(ctx, &tf.TestIdentityProviderInput{ServerId: aws.String(id), UserName: aws.String("carol"), UserPassword: aws.String("s3cret")})
	if err != nil || res.StatusCode != 200 || !strings.Contains(aws.ToString(res.Response), "idp-user") || aws.ToString(res.Message) != "" ||
		!strings.HasSuffix(aws.ToString(res.Url), "/2015-03-31/functions/sftp-idp/invocations") {
		t.Fatalf("test identity provider %v %+v", err, res)
	}
	res, err = c.TestIdentityProvider(ctx, &tf.TestIdentityProviderInput{ServerId: aws.String(id), UserName: aws.String("carol"), UserPassword: aws.String("nope")})
	if err != nil || aws.ToString(res.Message) == "" {
		t.Fatalf("refused test %v %+v", err, res)
	}
	managed := createServer(t, c, nil)
	_, err = c.TestIdentityProvider(ctx, &tf.TestIdentityProviderInput{ServerId: aws.String(managed), UserName: aws.String("carol")})
	if ae := apiError(t, err, "InvalidRequestException"); !strings.Contains(ae.ErrorMessage(), "not configured for external auth") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}

func TestSFTPEFSUser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	c := s.tf(opts("us-east-1"))
	id, key := sftpUser(t, c, &tf.CreateServerInput{Domain: tftypes.DomainEfs},
		&tf.CreateUserInput{UserName: aws.String("bob"), HomeDirectory: aws.String("/fs-0123456789abcdef0/home/bob"),
			PosixProfile: &tftypes.PosixProfile{Uid: aws.Int64(4242), Gid: aws.Int64(4343)}})
	cl, err := dialSFTP(t, id, "bob", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MkdirAll("/fs-0123456789abcdef0/home/bob"); err != nil {
		t.Fatal(err)
	}
	f, err := cl.Create("/fs-0123456789abcdef0/home/bob/data.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("on efs"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	backing := filepath.Join(dir, "efs", "fs-0123456789abcdef0")
	b, err := os.ReadFile(filepath.Join(backing, "home", "bob", "data.txt"))
	if err != nil || string(b) != "on efs" {
		t.Fatalf("backing file %v %q", err, b)
	}
	if os.Geteuid() == 0 {
		fi, _ := os.Stat(filepath.Join(backing, "home", "bob", "data.txt"))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
			t.Fatalf("owner %d:%d", st.Uid, st.Gid)
		}
	}
	// POSIX works: chmod, rename.
	if err := cl.Chmod("/fs-0123456789abcdef0/home/bob/data.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cl.Rename("/fs-0123456789abcdef0/home/bob/data.txt", "/fs-0123456789abcdef0/home/bob/renamed.txt"); err != nil {
		t.Fatal(err)
	}
	// A symlink planted in the backing directory cannot lead out of it.
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("outside"), 0o600)
	if err := os.Symlink(secret, filepath.Join(backing, "home", "bob", "escape")); err != nil {
		t.Fatal(err)
	}
	if r, err := cl.Open("/fs-0123456789abcdef0/home/bob/escape"); err == nil {
		b, _ := io.ReadAll(r)
		r.Close()
		if len(b) > 0 {
			t.Fatalf("read %q through a symlink out of the file system", b)
		}
	}
	if err := os.Symlink("../../../../..", filepath.Join(backing, "up")); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ReadDir("/fs-0123456789abcdef0/up/etc"); err == nil {
		t.Fatal("listed a directory through a symlink out of the file system")
	}
	if _, err := cl.Open("/fs-0123456789abcdef0/../../etc/passwd"); err == nil {
		t.Fatal("opened a file above the root")
	}

	// A LOGICAL EFS user is confined to the mapping target itself.
	if _, err := c.CreateUser(context.Background(), &tf.CreateUserInput{ServerId: aws.String(id), UserName: aws.String("eve"),
		Role: aws.String("arn:aws:iam::000000000000:role/u"), SshPublicKeyBody: aws.String(key.authorized),
		HomeDirectoryType: tftypes.HomeDirectoryTypeLogical, PosixProfile: &tftypes.PosixProfile{Uid: aws.Int64(1), Gid: aws.Int64(1)},
		HomeDirectoryMappings: []tftypes.HomeDirectoryMapEntry{{Entry: aws.String("/"), Target: aws.String("/fs-0123456789abcdef0/home/bob")}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(backing, "home", "bob", "parent")); err != nil {
		t.Fatal(err)
	}
	eve, err := dialSFTP(t, id, "eve", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eve.Stat("/renamed.txt"); err != nil {
		t.Fatalf("eve sees bob's home: %v", err)
	}
	if _, err := eve.ReadDir("/parent"); err == nil {
		t.Fatal("a symlink led out of the mapping target")
	}
	if err := eve.Symlink("/renamed.txt", "/link"); err == nil {
		t.Fatal("a LOGICAL EFS user made a symlink")
	}
}

func TestAPIGatewayIdentityProvider(t *testing.T) {
	t.Parallel()
	type call struct{ path, query, password, auth string }
	var mu sync.Mutex
	var calls []call
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, call{r.URL.Path, r.URL.RawQuery, r.Header.Get("Password"), r.Header.Get("Authorization")})
		mu.Unlock()
		// API Gateway always answers 200; an empty object refuses the login.
		if r.Header.Get("Password") != "gw-pass" {
			w.Write([]byte("{}"))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Role": "arn:aws:iam::000000000000:role/gw", "HomeDirectory": "/gw-bucket/dave"})
	})}
	go func() { _ = gw.Serve(ln) }()
	t.Cleanup(func() { gw.Close() })

	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "gw-bucket")
	id := createServer(t, c, &tf.CreateServerInput{IdentityProviderType: tftypes.IdentityProviderTypeApiGateway,
		IdentityProviderDetails: &tftypes.IdentityProviderDetails{Url: aws.String("http://" + ln.Addr().String() + "/prod"),
			InvocationRole: aws.String("arn:aws:iam::000000000000:role/invoke"), SftpAuthenticationMethods: tftypes.SftpAuthenticationMethodsPassword}})
	waitState(t, c, id, true)
	cl, err := dialSFTP(t, id, "dave", ssh.Password("gw-pass"))
	if err != nil {
		t.Fatal(err)
	}
	if wd, err := cl.Getwd(); err != nil || wd != "/gw-bucket/dave" {
		t.Fatalf("home %q %v", wd, err)
	}
	if _, err := dialSFTP(t, id, "dave", ssh.Password("nope")); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if _, err := dialSFTP(t, id, "dave", ssh.PublicKeys(newUserKey(t).signer)); err == nil {
		t.Fatal("a key logged in to a PASSWORD-only server")
	}
	mu.Lock()
	first := calls[0]
	mu.Unlock()
	if first.path != "/prod/servers/"+id+"/users/dave/config" || !strings.Contains(first.query, "protocol=SFTP") ||
		first.password != "gw-pass" || !strings.Contains(first.auth, "/execute-api/aws4_request") {
		t.Fatalf("gateway call %+v", first)
	}
	res, err := c.TestIdentityProvider(context.Background(), &tf.TestIdentityProviderInput{ServerId: aws.String(id), UserName: aws.String("dave"), UserPassword: aws.String("gw-pass")})
	if err != nil || res.StatusCode != 200 || !strings.Contains(aws.ToString(res.Url), "/prod/servers/"+id+"/users/dave/config") || aws.ToString(res.Message) != "" {
		t.Fatalf("test identity provider %v %+v", err, res)
	}
}
