package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
)

// BenchmarkHandler measures one signed request through the whole handler
// (verification, routing, binding, validation, store, encoding) without
// the network, for profiling.
func BenchmarkHandler(b *testing.B) {
	a, err := New(context.Background(), Config{InMemory: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c := ib.NewFromConfig(opts("us-east-1").config(), func(o *ib.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	doc := "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n"
	for n := range 25 {
		if _, err := c.CreateWorkflow(context.Background(), &ib.CreateWorkflowInput{Name: aws.String(fmt.Sprintf("bench-%02d", n)), SemanticVersion: aws.String("1.0.0"), Type: "BUILD", Data: aws.String(doc)}); err != nil {
			b.Fatal(err)
		}
	}
	tc0 := tf.NewFromConfig(opts("us-east-1").config(), func(o *tf.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	var server string
	for n := range 25 {
		if _, err := c.ImportVmImage(context.Background(), &ib.ImportVmImageInput{Name: aws.String(fmt.Sprintf("bench-img-%02d", n)), SemanticVersion: aws.String("1.0.0"),
			Platform: "Linux", VmImportTaskId: aws.String("import-ami-0123456789abcdef0"), ClientToken: aws.String(fmt.Sprint(n))}); err != nil {
			b.Fatal(err)
		}
		out, err := tc0.CreateServer(context.Background(), &tf.CreateServerInput{})
		if err != nil {
			b.Fatal(err)
		}
		if server == "" {
			server = aws.ToString(out.ServerId)
		}
	}
	for _, tc := range []struct{ name, method, path, body string }{
		{"GetWorkflow", "GET", "/GetWorkflow?workflowBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Aworkflow%2Fbuild%2Fbench-00%2F1.0.0%2F1", ""},
		{"ListWorkflows", "POST", "/ListWorkflows", `{"maxResults":25}`},
		{"GetImage", "GET", "/GetImage?imageBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Aimage%2Fbench-img-00%2F1.0.0%2F1", ""},
		{"ListImages", "POST", "/ListImages", `{"maxResults":25}`},
		{"DescribeServer", "POST", "/", `{"ServerId":"` + server + `"}`},
		{"ListServers", "POST", "/", `{"MaxResults":25}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Host = "slipway.test"
			req.Header.Set("Content-Type", "application/json")
			service := "imagebuilder"
			if tc.path == "/" {
				service = "transfer"
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				req.Header.Set("X-Amz-Target", "TransferService."+tc.name)
			}
			sum := sha(tc.body)
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, req, sum, service, "us-east-1", time.Now()); err != nil {
				b.Fatal(err)
			}
			h := a.Handler()
			b.ReportAllocs()
			// One response body reused: the recorder's own growing buffer
			// is not the server's cost.
			body := bytes.NewBuffer(make([]byte, 0, 64<<10))
			for b.Loop() {
				r := req.Clone(context.Background())
				r.Body = http.NoBody
				if tc.body != "" {
					r.Body = httpBody(tc.body)
				}
				body.Reset()
				w := &httptest.ResponseRecorder{HeaderMap: make(http.Header), Body: body, Code: 200}
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
