package app

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ibtypes "github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

// TestDashboardPages reads the pages without a browser (as a client without
// JavaScript would): an image with its workflow steps and a lifecycle
// execution's AMIs.
func TestDashboardPages(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.ib(opts("us-east-1"))
	image := lifecycleImage(t, c, "pages")
	out, err := stateUpdate(c, image, ibtypes.ResourceStatusDeprecated, withAMIs(nil, false))
	if err != nil {
		t.Fatal(err)
	}
	waitLifecycle(t, c, aws.ToString(out.LifecycleExecutionId), ibtypes.LifecycleExecutionStatusSuccess)
	get := func(path string) string {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || strings.Contains(string(b), "no value") {
			t.Fatalf("%s: %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	page := get("/_slipway/ui/000000000000/us-east-1/image?arn=" + url.QueryEscape(image))
	for _, want := range []string{"DEPRECATED", "LaunchBuildInstance", "CreateOutputAMI", aws.ToString(out.LifecycleExecutionId), "eu-west-1", "DEPRECATE"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the image page lacks %q", want)
		}
	}
	if home := get("/_slipway/ui/000000000000/us-east-1/"); !strings.Contains(home, "pages-recipe/1.0.0/1") {
		t.Fatal("the overview lacks the image")
	}
}
