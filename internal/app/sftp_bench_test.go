package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/slipway-dev/slipway/internal/transfer"
)

// benchBytes is the file size of the throughput benchmarks
// (SLIPWAY_BENCH_BYTES, default 256 MiB; docs/benchmarks.md uses 1 GiB).
func benchBytes() int64 {
	if v, err := strconv.ParseInt(os.Getenv("SLIPWAY_BENCH_BYTES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 256 << 20
}

// clientConfig makes both servers negotiate the same algorithms.
func clientConfig(user string, auth ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Config: ssh.Config{Ciphers: []string{"aes128-gcm@openssh.com"}, KeyExchanges: []string{"curve25519-sha256"}}}
}

func dialClient(b *testing.B, addr string, cfg *ssh.ClientConfig) (*sftp.Client, func()) {
	b.Helper()
	conn, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	c, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true))
	if err != nil {
		b.Fatal(err)
	}
	return c, func() { c.Close(); conn.Close() }
}

// startSSHD runs OpenSSH's sshd with its sftp-server on a loopback port.
func startSSHD(b *testing.B, key userKey) string {
	b.Helper()
	sshd, sftpServer := "/usr/sbin/sshd", "/usr/lib/openssh/sftp-server"
	for _, p := range []string{sshd, sftpServer} {
		if _, err := os.Stat(p); err != nil {
			b.Skip("OpenSSH server not installed (apt-get install openssh-server):", err)
		}
	}
	dir := b.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	auth := filepath.Join(dir, "authorized_keys")
	os.WriteFile(auth, []byte(key.authorized+"\n"), 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nStrictModes no\nUsePAM no\nPermitRootLogin yes\nPidFile %s/pid\nSubsystem sftp %s\n",
		port, hostKey, auth, dir, sftpServer)
	cfgFile := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	_ = os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfgFile)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	b.Fatal("sshd did not start")
	return ""
}

// BenchmarkSFTPThroughput uploads and downloads one file through Slipway's
// SFTP (S3 domain, on disk) and through OpenSSH's sftp-server, with the same
// client and algorithms, in one run.
func BenchmarkSFTPThroughput(b *testing.B) {
	size := benchBytes()
	payload := bytes.Repeat([]byte("slipway benchmark payload 0123456789abcdef"), int(size/42)+1)[:size]
	key := newUserKey(b)

	slipAddr := sftpBenchServer(b, key)
	osshAddr := startSSHD(b, key)
	osshDir := b.TempDir()

	// Slipway acknowledges an upload's CLOSE once the object is on disk, as
	// S3 acknowledges a PUT; OpenSSH's sftp-server leaves it in the page
	// cache unless the client asks for fsync@openssh.com (sftp -f), so the
	// upload is measured against both.
	targets := []struct {
		name, addr, user, path string
		fsync                  bool
	}{
		{"slipway", slipAddr, "bencher", "/bench/file.bin", false},
		{"openssh", osshAddr, "root", filepath.Join(osshDir, "file.bin"), false},
		{"openssh-fsync", osshAddr, "root", filepath.Join(osshDir, "file.bin"), true},
	}
	for _, tgt := range targets {
		b.Run(tgt.name+"/upload", func(b *testing.B) {
			cl, done := dialClient(b, tgt.addr, clientConfig(tgt.user, ssh.PublicKeys(key.signer)))
			defer done()
			b.SetBytes(size)
			for b.Loop() {
				f, err := cl.Create(tgt.path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.ReadFrom(bytes.NewReader(payload)); err != nil {
					b.Fatal(err)
				}
				if tgt.fsync {
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		if tgt.fsync {
			continue
		}
		b.Run(tgt.name+"/download", func(b *testing.B) {
			cl, done := dialClient(b, tgt.addr, clientConfig(tgt.user, ssh.PublicKeys(key.signer)))
			defer done()
			b.SetBytes(size)
			for b.Loop() {
				f, err := cl.Open(tgt.path)
				if err != nil {
					b.Fatal(err)
				}
				n, err := f.WriteTo(io.Discard)
				f.Close()
				if err != nil || n != size {
					b.Fatalf("read %d of %d: %v", n, size, err)
				}
			}
		})
	}
}

// sftpBenchServer starts a file-backed Slipway with a bucket and a user of key,
// and returns the user's SFTP address.
func sftpBenchServer(b *testing.B, key userKey) string {
	b.Helper()
	s := startApp(b, mustNew(b, Config{DataDir: b.TempDir()}))
	c := s.tf(opts("us-east-1"))
	createBucket(b, s.s3(opts("us-east-1")), "bench")
	id := createServer(b, c, nil)
	if _, err := c.CreateUser(context.Background(), &tf.CreateUserInput{ServerId: aws.String(id), UserName: aws.String("bencher"),
		Role: aws.String("arn:aws:iam::000000000000:role/bench"), HomeDirectory: aws.String("/bench"), SshPublicKeyBody: aws.String(key.authorized)}); err != nil {
		b.Fatal(err)
	}
	waitState(b, c, id, true)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(transfer.Port(id)))
}

// BenchmarkSFTPLogin measures logins: TCP, SSH handshake, public-key
// authentication against the store and an SFTP session.
func BenchmarkSFTPLogin(b *testing.B) {
	key := newUserKey(b)
	addr := sftpBenchServer(b, key)
	cfg := clientConfig("bencher", ssh.PublicKeys(key.signer))
	for b.Loop() {
		_, done := dialClient(b, addr, cfg)
		done()
	}
}

// BenchmarkSFTPIdleSession reports the heap an idle, logged-in SFTP session
// holds on the server (client and server share the process, so the figure
// includes the client side and is an upper bound).
func BenchmarkSFTPIdleSession(b *testing.B) {
	key := newUserKey(b)
	addr := sftpBenchServer(b, key)
	cfg := clientConfig("bencher", ssh.PublicKeys(key.signer))
	const sessions = 200
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var closers []func()
		for range sessions {
			_, done := dialClient(b, addr, cfg)
			closers = append(closers, done)
		}
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/sessions, "heap-bytes/session")
		b.ReportMetric(float64(runtime.NumGoroutine())/sessions, "goroutines/session")
		for _, done := range closers {
			done()
		}
	}
}
