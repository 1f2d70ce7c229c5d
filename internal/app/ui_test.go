package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"
)

// browser starts headless Chromium for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SLIPWAY_CI") != "" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium not installed")
	}
	// Chromium must not reach out past loopback: no component updates,
	// QUIC or GPU process, a fresh profile.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// waitText waits until the element selected by css contains text. A page
// that is navigating (a form's redirect) is waited out.
func waitText(t *testing.T, ctx context.Context, css, text string) {
	t.Helper()
	expr := fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText.includes(%q)`, css, text)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q (%v)", css, text, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot writes a screenshot to the artifacts directory.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// TestDashboardInBrowser drives the dashboard in headless Chromium: a gated
// build appears without a reload, Resume resumes it and the image turns
// AVAILABLE; a waiting CUSTOM step is answered with Success and its
// execution completes.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	artifacts, err := os.MkdirTemp("", "slipway-ui-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", artifacts)
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	overview := s.URL + "/_slipway/ui/000000000000/us-east-1/"
	if err := chromedp.Do(ctx, chromedp.Navigate(overview), chromedp.WaitVisible(chromedp.CSS(`#waiting`))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, artifacts, "1-empty")

	pipe := gatedPipeline(t, c, "browser", 3600)
	image := startRun(t, c, pipe, nil)
	// The gate appears live: no navigation happens between here and the click.
	gate := `tr.waiting[data-step] button.go`
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(gate))); err != nil {
		t.Fatalf("the gate did not appear: %v", err)
	}
	shot(t, ctx, artifacts, "2-gate")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`tr.waiting[data-step] input[name=reason]`), "looks good"),
		chromedp.Click(chromedp.CSS(gate)),
	); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "body", "RESUME sent to Approve")
	img := waitImage(t, c, image, ibtypes.ImageStatusAvailable)
	if !strings.Contains(aws.ToString(img.ImageRecipe.Name), "browser") {
		t.Fatalf("image %+v", img)
	}
	waitText(t, ctx, "section[aria-labelledby=images]", "AVAILABLE")
	shot(t, ctx, artifacts, "3-available")

	// A CUSTOM step answered with Success.
	tc := s.tf(opts("us-east-1"))
	createBucket(t, s.s3(opts("us-east-1")), "drop")
	wf := createWorkflow(t, tc, []tftypes.WorkflowStep{customStep("review", 600)}, nil)
	id, key := sftpUser(t, tc, &tf.CreateServerInput{WorkflowDetails: onUpload(wf)},
		&tf.CreateUserInput{UserName: aws.String("browse"), HomeDirectory: aws.String("/drop")})
	cl, err := dialSFTP(t, id, "browse", ssh.PublicKeys(key.signer))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := cl.Create("/drop/review.txt")
	f.Write([]byte("please review"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	success := `tr.waiting[data-execution] button.go`
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(success))); err != nil {
		t.Fatalf("the CUSTOM step did not appear: %v", err)
	}
	shot(t, ctx, artifacts, "4-custom-step")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(success))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "body", "SUCCESS sent to execution")
	waitFor(t, "the execution to complete", func() bool { return countType(workflowLogs(t, s, id), "ExecutionCompleted") == 1 })
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/_slipway/ui/000000000000/us-east-1/server?id="+id)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "body", "ExecutionCompleted")
	shot(t, ctx, artifacts, "5-server")
}

// TestDashboardGuards: cross-site posts are refused; only loopback clients
// get in unless the dashboard is opened, and then they must sign in.
func TestDashboardGuards(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	gate := s.URL + "/_slipway/ui/000000000000/us-east-1/gate"
	form := url.Values{"stepExecutionId": {"step-x"}, "image": {"x"}, "action": {"RESUME"}, "csrf": {strings.Repeat("a", 32)}}
	resp, err := http.PostForm(gate, form) // no cookie: another site's form
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a post without the cookie: %v %v", resp.Status, err)
	}
	req, _ := http.NewRequest(http.MethodPost, gate, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.AddCookie(&http.Cookie{Name: "slipway_csrf", Value: strings.Repeat("a", 32)})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a post from another origin: %v %v", resp.Status, err)
	}

	// A client that is not on loopback (the handler is called directly,
	// nothing leaves the machine).
	remote := func(a *App, user, pass string) int {
		r := httptest.NewRequest(http.MethodGet, "/_slipway/ui/000000000000/us-east-1/", nil)
		r.RemoteAddr = "192.0.2.10:40000"
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if code := remote(s.app, "", ""); code != http.StatusForbidden {
		t.Fatalf("a remote client got %d", code)
	}
	open := mustNew(t, Config{InMemory: true, UIOpen: true})
	t.Cleanup(func() { open.Shutdown(context.Background()) })
	if code := remote(open, "", ""); code != http.StatusUnauthorized {
		t.Fatalf("an anonymous remote client got %d", code)
	}
	if code := remote(open, "test", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong secret got %d", code)
	}
	if code := remote(open, "test", "test"); code != http.StatusOK {
		t.Fatalf("a signed-in remote client got %d", code)
	}
}
