package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/transfer"
)

func (s *server) s3(o clientOpts) *s3.Client {
	return s3.NewFromConfig(s.config(o), func(op *s3.Options) {
		op.BaseEndpoint = aws.String(s.URL)
		op.UsePathStyle = true
	})
}

func createBucket(t testing.TB, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func getObject(t testing.TB, c *s3.Client, bucket, key string) (string, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	return string(b), out
}

// sftpUser makes a server (S3 domain unless in says otherwise) and a
// service-managed user on it, and waits for the endpoint.
func sftpUser(t testing.TB, c *tf.Client, in *tf.CreateServerInput, user *tf.CreateUserInput) (string, userKey) {
	t.Helper()
	id := createServer(t, c, in)
	key := newUserKey(t)
	user.ServerId = aws.String(id)
	user.Role = aws.String("arn:aws:iam::000000000000:role/transfer-user")
	user.SshPublicKeyBody = aws.String(key.authorized)
	if _, err := c.CreateUser(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, true)
	return id, key
}

// dialSFTP logs in with pkg/sftp's client.
func dialSFTP(t testing.TB, serverID, user string, auth ...ssh.AuthMethod) (*sftp.Client, error) {
	t.Helper()
	cfg := &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	conn, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(transfer.Port(serverID))), cfg)
	if err != nil {
		return nil, err
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, nil
}

// openssh runs OpenSSH's sftp in batch mode in dir; known is the
// known_hosts file (strict checking when it exists).
func openssh(t testing.TB, dir, serverID, user string, key userKey, known, batch string) (string, error) {
	t.Helper()
	keyFile := filepath.Join(dir, "id_"+user)
	if err := os.WriteFile(keyFile, key.pemPrivate, 0o600); err != nil {
		t.Fatal(err)
	}
	batchFile := filepath.Join(dir, "batch")
	if err := os.WriteFile(batchFile, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	strict := "accept-new"
	if _, err := os.Stat(known); err == nil {
		strict = "yes"
	}
	cmd := exec.Command("sftp", "-b", batchFile, "-i", keyFile, "-P", strconv.Itoa(transfer.Port(serverID)),
		"-o", "StrictHostKeyChecking="+strict, "-o", "UserKnownHostsFile="+known, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "ConnectTimeout=5", user+"@127.0.0.1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSFTPPathUserWithOpenSSHAndS3(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c, s3c := s.tf(opts("us-east-1")), s.s3(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s3c, "uploads")
	id, key := sftpUser(t, c, &tf.CreateServerInput{PreAuthenticationLoginBanner: aws.String("Authorized use only")},
		&tf.CreateUserInput{UserName: aws.String("alice"), HomeDirectory: aws.String("/uploads/home/alice")})

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.csv"), []byte("a,b\n1,2\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("inner"), 0o600)
	out, err := openssh(t, dir, id, "alice", key, filepath.Join(dir, "known_hosts"), strings.Join([]string{
		"pwd", "put report.csv", "mkdir sub", "put b.txt sub/b.txt", "ls -l", "get report.csv back.csv", "rename report.csv renamed.csv", "ls sub",
	}, "\n")+"\n")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if !strings.Contains(out, "/uploads/home/alice") || !strings.Contains(out, "Authorized use only") {
		t.Fatalf("pwd or banner missing:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "back.csv")); string(b) != "a,b\n1,2\n" {
		t.Fatalf("downloaded %q", b)
	}
	body, obj := getObject(t, s3c, "uploads", "home/alice/renamed.csv")
	if body != "a,b\n1,2\n" || obj.Metadata["user-agent"] != "AWSTransfer" || obj.Metadata["user-agent-id"] != "alice@"+id {
		t.Fatalf("object %q %v", body, obj.Metadata)
	}
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String("home/alice/report.csv")}); err == nil {
		t.Fatal("rename left the old key")
	}
	if b, _ := getObject(t, s3c, "uploads", "home/alice/sub/b.txt"); b != "inner" {
		t.Fatalf("sub/b.txt %q", b)
	}
	// The S3 API sees the SFTP tree: prefixes, the mkdir marker, tags.
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("uploads"), Prefix: aws.String("home/alice/"), Delimiter: aws.String("/")})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "home/alice/renamed.csv" || len(list.CommonPrefixes) != 1 ||
		aws.ToString(list.CommonPrefixes[0].Prefix) != "home/alice/sub/" {
		t.Fatalf("list %v %+v", err, list)
	}
	if _, err := s3c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("uploads"), Key: aws.String("home/alice/renamed.csv"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("stage"), Value: aws.String("raw")}}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := s3c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("uploads"), Key: aws.String("home/alice/renamed.csv")})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Value) != "raw" {
		t.Fatalf("tags %v %+v", err, tags)
	}

	// pkg/sftp: a larger file, random access refused, SETSTAT refused.
	cl, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	f, err := cl.Create("/uploads/home/alice/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := cl.Open("/uploads/home/alice/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got)
	got.Close()
	if !bytes.Equal(b, big) {
		t.Fatalf("read back %d bytes", len(b))
	}
	fi, err := cl.Stat("/uploads/home/alice/big.bin")
	if err != nil || fi.Size() != int64(len(big)) || fi.IsDir() {
		t.Fatalf("stat %v %+v", err, fi)
	}
	if fi, err := cl.Stat("/uploads/home/alice/sub"); err != nil || !fi.IsDir() {
		t.Fatalf("stat dir %v", err)
	}
	rf, err := cl.Create("/uploads/home/alice/random.bin")
	if err != nil {
		t.Fatal(err)
	}
	// A write past a gap is held (pipelining clients reorder a little);
	// the gap never fills, so the upload fails and no object appears.
	_, werr := rf.WriteAt([]byte("late"), 100)
	if cerr := rf.Close(); werr == nil && cerr == nil {
		t.Fatal("a write at offset 100 of an empty S3 object succeeded")
	}
	if _, err := cl.Stat("/uploads/home/alice/random.bin"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a random-access upload left an object: %v", err)
	}
	rw, err := cl.Create("/uploads/home/alice/rewrite.bin")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte("0123456789"))
	if _, err := rw.WriteAt([]byte("x"), 2); err == nil {
		t.Fatal("a rewrite of written bytes succeeded")
	}
	rw.Close()
	if err := cl.Chmod("/uploads/home/alice/big.bin", 0o600); err == nil {
		t.Fatal("SETSTAT on S3 succeeded without ENABLE_NO_OP")
	}
	if err := cl.Symlink("/uploads/home/alice/big.bin", "/uploads/home/alice/link"); err == nil {
		t.Fatal("symlink on S3 succeeded")
	}
	if err := cl.RemoveDirectory("/uploads/home/alice/sub"); err == nil {
		t.Fatal("rmdir of a non-empty directory succeeded")
	}
	if err := cl.Remove("/uploads/home/alice/sub/b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := cl.RemoveDirectory("/uploads/home/alice/sub"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Stat("/uploads/home/alice/sub"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed dir: %v", err)
	}
	// A missing bucket is no such file.
	if _, err := cl.Create("/nobucket/x"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("create in a missing bucket: %v", err)
	}
	// ENABLE_NO_OP accepts SETSTAT.
	if _, err := c.UpdateServer(ctx, &tf.UpdateServerInput{ServerId: aws.String(id), ProtocolDetails: &tftypes.ProtocolDetails{SetStatOption: tftypes.SetStatOptionEnableNoOp}}); err != nil {
		t.Fatal(err)
	}
	cl2, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl2.Chmod("/uploads/home/alice/big.bin", 0o600); err != nil {
		t.Fatalf("SETSTAT with ENABLE_NO_OP: %v", err)
	}

	// Other keys, unknown users, short names and root are refused.
	other := newUserKey(t)
	if _, err := dialSFTP(t, id, "alice", ssh.PublicKeys(other.signer)); err == nil {
		t.Fatal("a foreign key logged in")
	}
	if _, err := dialSFTP(t, id, "alice", ssh.Password("x")); err == nil {
		t.Fatal("a password logged in to a service-managed server")
	}
	for _, name := range []string{"al", "root", "nobody"} {
		if _, err := dialSFTP(t, id, name, ssh.PublicKeys(key.signer)); err == nil {
			t.Fatalf("user %q logged in", name)
		}
	}
}

func TestSFTPStopStartAndDelete(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s.s3(opts("us-east-1")), "stopstart")
	id, key := sftpUser(t, c, nil, &tf.CreateUserInput{UserName: aws.String("alice"), HomeDirectory: aws.String("/stopstart")})
	live, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopServer(ctx, &tf.StopServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, false)
	if _, err := live.Getwd(); err == nil {
		if _, err := live.ReadDir("/stopstart"); err == nil {
			t.Fatal("a session survived StopServer")
		}
	}
	if _, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer)); err == nil {
		t.Fatal("an OFFLINE server accepted a connection")
	}
	if _, err := c.StartServer(ctx, &tf.StartServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, true)
	if _, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer)); err != nil {
		t.Fatalf("started server: %v", err)
	}
	if _, err := c.DeleteServer(ctx, &tf.DeleteServerInput{ServerId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(transfer.Port(id))), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("a deleted server still listens")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSFTPRestartKeepsPortsKeysAndFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	c := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "durable")
	id, key := sftpUser(t, c, nil, &tf.CreateUserInput{UserName: aws.String("alice"), HomeDirectory: aws.String("/durable")})
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "kept.txt"), []byte("kept"), 0o600)
	known := filepath.Join(work, "known_hosts")
	if out, err := openssh(t, work, id, "alice", key, known, "put kept.txt\n"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s.stop(t)

	s2 := startApp(t, mustNew(t, Config{DataDir: dir}))
	c2 := s2.tf(opts("us-east-1"))
	waitState(t, c2, id, true)
	// Strict host key checking against the known_hosts written before.
	out, err := openssh(t, work, id, "alice", key, known, "get kept.txt again.txt\n")
	if err != nil {
		t.Fatalf("after restart: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "again.txt")); string(b) != "kept" {
		t.Fatalf("file after restart %q", b)
	}
	if body, _ := getObject(t, s2.s3(opts("us-east-1")), "durable", "kept.txt"); body != "kept" {
		t.Fatalf("object after restart %q", body)
	}
}

func mustNew(t testing.TB, cfg Config) *App {
	t.Helper()
	a, err := New(context.Background(), onTestStore(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSFTPLogicalConfinement(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c, s3c := s.tf(opts("us-east-1")), s.s3(opts("us-east-1"))
	ctx := context.Background()
	createBucket(t, s3c, "home")
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("home"), Key: aws.String("config/app.txt"), Body: strings.NewReader("setting=1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("home"), Key: aws.String("bob/secret.txt"), Body: strings.NewReader("bob's")}); err != nil {
		t.Fatal(err)
	}
	id, key := sftpUser(t, c, nil, &tf.CreateUserInput{UserName: aws.String("alice"), HomeDirectoryType: tftypes.HomeDirectoryTypeLogical,
		HomeDirectoryMappings: []tftypes.HomeDirectoryMapEntry{
			{Entry: aws.String("/in"), Target: aws.String("/home/${transfer:UserName}/in")},
			{Entry: aws.String("/reports/2024"), Target: aws.String("/home/shared/2024")},
			{Entry: aws.String("/app.txt"), Target: aws.String("/home/config/app.txt"), Type: tftypes.MapTypeFile},
		}})
	cl, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	put := func(p, body string) error {
		f, err := cl.Create(p)
		if err != nil {
			return err
		}
		if _, err := f.Write([]byte(body)); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := put("/in/a.txt", "hello"); err != nil {
		t.Fatal(err)
	}
	if b, _ := getObject(t, s3c, "home", "alice/in/a.txt"); b != "hello" {
		t.Fatalf("mapped upload %q", b)
	}
	if err := put("/reports/2024/q1.csv", "q1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := getObject(t, s3c, "home", "shared/2024/q1.csv"); b != "q1" {
		t.Fatalf("nested mapping %q", b)
	}
	f, err := cl.Open("/app.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "setting=1" {
		t.Fatalf("file mapping %q", b)
	}
	entries, err := cl.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, fmt.Sprintf("%s:%v", e.Name(), e.IsDir()))
	}
	if strings.Join(names, ",") != "app.txt:false,in:true,reports:true" {
		t.Fatalf("root listing %v", names)
	}
	// Every escape attempt fails and writes nothing.
	escapes := map[string]func() error{
		"write at the root":             func() error { return put("/x.txt", "x") },
		"write into an implied parent":  func() error { return put("/reports/x.txt", "x") },
		"dot-dot out of a mapping":      func() error { return put("/in/../../home/bob/evil.txt", "x") },
		"read another user's file":      func() error { _, err := cl.Open("/in/../../home/bob/secret.txt"); return err },
		"absolute real path":            func() error { _, err := cl.Open("/home/bob/secret.txt"); return err },
		"mapping edge (prefix sibling)": func() error { return put("/inx/a.txt", "x") },
		"below a file mapping":          func() error { _, err := cl.Open("/app.txt/x"); return err },
		"mkdir at the root":             func() error { return cl.Mkdir("/newdir") },
		"rename out of a mapping":       func() error { return cl.Rename("/in/a.txt", "/stolen.txt") },
	}
	for name, try := range escapes {
		if err := try(); err == nil {
			t.Errorf("%s: succeeded", name)
		}
	}
	list, _ := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("home")})
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "alice/in/a.txt,bob/secret.txt,config/app.txt,shared/2024/q1.csv" {
		t.Fatalf("objects after escapes: %v", keys)
	}
	// OpenSSH's client sees the same chroot.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.txt"), []byte("from openssh"), 0o600)
	out, err := openssh(t, dir, id, "alice", key, filepath.Join(dir, "known_hosts"), "cd in\nput c.txt\ncd ..\ncd ..\npwd\nls\n")
	if err != nil || !strings.Contains(out, "Remote working directory: /\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	if b, _ := getObject(t, s3c, "home", "alice/in/c.txt"); b != "from openssh" {
		t.Fatalf("openssh upload %q", b)
	}
}
