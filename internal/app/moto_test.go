package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	"golang.org/x/crypto/ssh"
)

// startMoto runs moto's server on a free loopback port for one test.
func startMoto(t *testing.T) string {
	t.Helper()
	if err := exec.Command("python3", "-c", "import moto.server").Run(); err != nil {
		t.Skip("moto is not installed:", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatal("moto did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSFTPWithExternalS3(t *testing.T) {
	t.Parallel()
	motoURL := startMoto(t)
	s := startApp(t, mustNew(t, Config{InMemory: true, S3Endpoint: motoURL}))
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	moto := s3.NewFromConfig(opts("us-east-1").config(), func(o *s3.Options) { o.BaseEndpoint = aws.String(motoURL); o.UsePathStyle = true })
	createBucket(t, moto, "external")
	id, key := sftpUser(t, c, nil, &tf.CreateUserInput{UserName: aws.String("alice"), HomeDirectory: aws.String("/external/alice")})
	cl, err := dialSFTP(t, id, "alice", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	f, err := cl.Create("/external/alice/report.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("stored in moto"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	body, out := getObject(t, moto, "external", "alice/report.txt")
	if body != "stored in moto" || out.Metadata["user-agent"] != "AWSTransfer" {
		t.Fatalf("moto object %q %v", body, out.Metadata)
	}
	if _, err := moto.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("external"), Key: aws.String("alice/report.txt"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}); err != nil {
		t.Fatal(err)
	}
	entries, err := cl.ReadDir("/external/alice")
	if err != nil || len(entries) != 1 || entries[0].Name() != "report.txt" {
		t.Fatalf("listing %v %v", err, entries)
	}
	r, err := cl.Open("/external/alice/report.txt")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	r.Close()
	if string(buf[:n]) != "stored in moto" {
		t.Fatalf("read back %q", buf[:n])
	}
	// Slipway's own S3 API points elsewhere.
	_, err = s.s3(opts("us-east-1")).ListBuckets(ctx, &s3.ListBucketsInput{})
	if ae := apiError(t, err, "NotImplemented"); !strings.Contains(ae.ErrorMessage(), motoURL) {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}
