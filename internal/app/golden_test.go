package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/awsmodel"
)

// goldenCase is one file under testdata/validation: requests that set the
// scene, then one request and the AWS error it must get.
type goldenCase struct {
	Setup []struct {
		Operation string         `json:"operation"`
		Request   map[string]any `json:"request"`
	} `json:"setup"`
	Operation string         `json:"operation"`
	Request   map[string]any `json:"request"`
	Status    int            `json:"status"`
	Code      string         `json:"code"`
	Message   string         `json:"message"`
}

// send issues an Image Builder operation as the SDK would bind it.
func (s *server) send(t *testing.T, op string, req map[string]any) rawResponse {
	t.Helper()
	m := awsmodel.Load("imagebuilder")
	o := m.Operations[op]
	if o == nil {
		t.Fatalf("no operation %s", op)
	}
	path := o.URI
	body := map[string]any{}
	var query []string
	for name, v := range req {
		mem := m.Shapes[o.Input].Members[name]
		switch mem.Location {
		case "querystring":
			query = append(query, mem.LocationName+"="+fmt.Sprint(v))
		case "uri":
			path = strings.Replace(path, "{"+mem.LocationName+"}", fmt.Sprint(v), 1)
		default:
			body[name] = v
		}
	}
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	b, _ := json.Marshal(body)
	if o.Method == "GET" || o.Method == "DELETE" {
		b = nil
	}
	return s.raw(t, o.Method, path, map[string]string{"Content-Type": "application/json"}, string(b), "imagebuilder", time.Now())
}

func TestValidationGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/validation/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(b, &gc); err != nil {
				t.Fatal(err)
			}
			s := start(t, "")
			for _, st := range gc.Setup {
				if r := s.send(t, st.Operation, st.Request); r.Status != 200 {
					t.Fatalf("setup %s: %d %v", st.Operation, r.Status, r.Body)
				}
			}
			r := s.send(t, gc.Operation, gc.Request)
			msg := fmt.Sprint(r.Body["message"])
			if r.Status != gc.Status || r.Header.Get("X-Amzn-ErrorType") != gc.Code || !strings.Contains(msg, gc.Message) {
				t.Fatalf("got %d %s %q\nwant %d %s containing %q", r.Status, r.Header.Get("X-Amzn-ErrorType"), msg, gc.Status, gc.Code, gc.Message)
			}
		})
	}
}
