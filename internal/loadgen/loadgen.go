// Package loadgen measures Slipway's request path: start-up time, idle
// memory, and throughput and latency of signed requests replayed by many
// connections, side by side with a bare net/http server returning a fixed
// body and, for each request, a body of the size Slipway answers it with
// (a 25-item list page is kilobytes, and writing and reading them is part
// of what the two cores share). Requests are signed once and replayed, so
// the client's cost is the same for every target. All traffic stays on
// loopback.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Config bounds a load run.
type Config struct {
	Binary      string        // the slipway executable to start
	Duration    time.Duration // per target and request
	Connections int
	MaxRequests int // per target and request, across connections
	Out         io.Writer
	// DatabaseURL, when set, serves from this PostgreSQL database (which
	// is reset first) instead of the in-memory store.
	DatabaseURL string
	// FileStore serves from a SQLite file in a temporary data directory,
	// as a deployment does, instead of the in-memory store.
	FileStore bool
}

// Result is one measured target and request.
type Result struct {
	Target   string
	Request  string
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

type process struct {
	cmd  *exec.Cmd
	addr string
}

var listenRE = regexp.MustCompile(`addr=(127\.0\.0\.1:[0-9]+)`)

// spawn starts the binary with args and waits for its "addr=" log line.
func spawn(binary string, args ...string) (*process, error) {
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	select {
	case addr := <-found:
		return &process{cmd: cmd, addr: addr}, nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not report its address", binary)
	}
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// rss reads a process's resident memory in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// request is a pre-signed request, replayed as is.
type request struct {
	name   string
	method string
	path   string
	header http.Header
	body   []byte
	// answer is how many bytes Slipway answers it with: the same-size
	// baseline answers that many.
	answer int
}

// sizeHeader asks the baseline for a body of that many bytes.
const sizeHeader = "X-Baseline-Body-Bytes"

// sameSize is r for the same-size baseline.
func (r request) sameSize() request {
	r.header = r.header.Clone()
	r.header.Set(sizeHeader, strconv.Itoa(r.answer))
	return r
}

func sign(addr, service, method, path string, header map[string]string, body string) (request, error) {
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return request{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		return request{}, err
	}
	return request{method: method, path: path, header: req.Header, body: []byte(body)}, nil
}

func send(c *http.Client, addr string, r request) (int, []byte, error) {
	req, err := http.NewRequest(r.method, "http://"+addr+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = r.header.Clone()
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Run performs the measurement and writes a report to cfg.Out.
func Run(cfg Config) ([]Result, error) {
	out := cfg.Out
	t0 := time.Now()
	args := []string{"serve", "--in-memory", "--addr", "127.0.0.1:0", "--log-level", "info"}
	if cfg.DatabaseURL != "" || cfg.FileStore {
		dir, err := os.MkdirTemp("", "slipway-load-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		args = []string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--log-level", "info"}
		if cfg.DatabaseURL != "" {
			args = append(args, "--database-url", cfg.DatabaseURL)
		}
	}
	slip, err := spawn(cfg.Binary, args...)
	if err != nil {
		return nil, err
	}
	defer slip.stop()
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		resp, err := client.Get("http://" + slip.addr + "/_slipway/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(t0) > 10*time.Second {
			return nil, fmt.Errorf("slipway did not answer")
		}
		time.Sleep(time.Millisecond)
	}
	startup := time.Since(t0)
	if cfg.DatabaseURL != "" {
		resp, err := client.Post("http://"+slip.addr+"/_slipway/reset", "application/json", nil)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	time.Sleep(200 * time.Millisecond)
	idle, _ := rss(slip.cmd.Process.Pid)

	// Seed one workflow per service.
	doc := "schemaVersion: 1.0\\nsteps:\\n  - name: Wait\\n    action: WaitForAction\\n"
	create, err := sign(slip.addr, "imagebuilder", "PUT", "/CreateWorkflow", map[string]string{"Content-Type": "application/json"},
		`{"name":"load","semanticVersion":"1.0.0","type":"BUILD","clientToken":"load-1","data":"`+doc+`"}`)
	if err != nil {
		return nil, err
	}
	if code, b, err := send(client, slip.addr, create); err != nil || code != 200 {
		return nil, fmt.Errorf("seed imagebuilder workflow: %d %s %v", code, b, err)
	}
	// 24 more, so ListWorkflows returns a full page of 25.
	for i := 1; i < 25; i++ {
		more, err := sign(slip.addr, "imagebuilder", "PUT", "/CreateWorkflow", map[string]string{"Content-Type": "application/json"},
			fmt.Sprintf(`{"name":"load-%02d","semanticVersion":"1.0.0","type":"BUILD","clientToken":"load-more-%d","data":"%s"}`, i, i, doc))
		if err != nil {
			return nil, err
		}
		if code, b, err := send(client, slip.addr, more); err != nil || code != 200 {
			return nil, fmt.Errorf("seed imagebuilder workflow %d: %d %s %v", i, code, b, err)
		}
	}
	tfHeaders := func(op string) map[string]string {
		return map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TransferService." + op}
	}
	tcreate, err := sign(slip.addr, "transfer", "POST", "/", tfHeaders("CreateWorkflow"), `{"Steps":[{"Type":"DELETE","DeleteStepDetails":{"Name":"rm"}}]}`)
	if err != nil {
		return nil, err
	}
	code, b, err := send(client, slip.addr, tcreate)
	if err != nil || code != 200 {
		return nil, fmt.Errorf("seed transfer workflow: %d %s %v", code, b, err)
	}
	wid := regexp.MustCompile(`w-[0-9a-f]{17}`).FindString(string(b))
	// 25 images (imports: no build steps) and 25 Transfer servers, for
	// GetImage, ListImages, DescribeServer and ListServers.
	call := func(what, service, method, path string, h map[string]string, body string) ([]byte, error) {
		r, err := sign(slip.addr, service, method, path, h, body)
		if err != nil {
			return nil, err
		}
		code, b, err := send(client, slip.addr, r)
		if err != nil || code != 200 {
			return nil, fmt.Errorf("seed %s: %d %s %v", what, code, b, err)
		}
		return b, nil
	}
	var sid string
	for i := 0; i < 25; i++ {
		_, err := call("image", "imagebuilder", "PUT", "/ImportVmImage", map[string]string{"Content-Type": "application/json"},
			fmt.Sprintf(`{"name":"load-img-%02d","semanticVersion":"1.0.0","platform":"Linux","vmImportTaskId":"import-ami-0123456789abcdef0","clientToken":"load-img-%d"}`, i, i))
		if err != nil {
			return nil, err
		}
		b, err := call("server", "transfer", "POST", "/", tfHeaders("CreateServer"), `{}`)
		if err != nil {
			return nil, err
		}
		if sid == "" {
			sid = regexp.MustCompile(`s-[0-9a-f]{17}`).FindString(string(b))
		}
	}

	var reqs []request
	for _, spec := range []struct{ name, service, method, path, body string }{
		{"GetWorkflow", "imagebuilder", "GET", "/GetWorkflow?workflowBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Aworkflow%2Fbuild%2Fload%2F1.0.0%2F1", ""},
		{"ListWorkflows", "imagebuilder", "POST", "/ListWorkflows", `{"maxResults":25}`},
		{"DescribeWorkflow", "transfer", "POST", "/", `{"WorkflowId":"` + wid + `"}`},
		{"GetImage", "imagebuilder", "GET", "/GetImage?imageBuildVersionArn=arn%3Aaws%3Aimagebuilder%3Aus-east-1%3A000000000000%3Aimage%2Fload-img-00%2F1.0.0%2F1", ""},
		{"ListImages", "imagebuilder", "POST", "/ListImages", `{"maxResults":25}`},
		{"DescribeServer", "transfer", "POST", "/", `{"ServerId":"` + sid + `"}`},
		{"ListServers", "transfer", "POST", "/", `{"MaxResults":25}`},
	} {
		h := map[string]string{"Content-Type": "application/json"}
		if spec.service == "transfer" {
			h = tfHeaders(spec.name)
		}
		r, err := sign(slip.addr, spec.service, spec.method, spec.path, h, spec.body)
		if err != nil {
			return nil, err
		}
		r.name = spec.name
		code, b, err := send(client, slip.addr, r)
		if err != nil || code != 200 {
			return nil, fmt.Errorf("%s: %d %s %v", spec.name, code, b, err)
		}
		r.answer = len(b)
		reqs = append(reqs, r)
	}

	base, err := spawn(cfg.Binary, "load", "--serve-baseline", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer base.stop()

	var results []Result
	for _, r := range reqs {
		for _, target := range []struct {
			name, addr string
			req        request
		}{{"baseline", base.addr, r}, {"baseline, same size", base.addr, r.sameSize()}, {"slipway", slip.addr, r}} {
			res := hammer(target.addr, target.req, cfg)
			res.Target = target.name
			results = append(results, res)
		}
	}
	loaded, _ := rss(slip.cmd.Process.Pid)

	fmt.Fprintf(out, "start-up to first answered request: %s\n", startup.Round(100*time.Microsecond))
	fmt.Fprintf(out, "idle RSS: %.1f MiB; RSS after load: %.1f MiB\n\n", float64(idle)/(1<<20), float64(loaded)/(1<<20))
	fmt.Fprintf(out, "| request | target | bytes | requests | errors | req/s | p50 | p99 | slipway/baseline | slipway/same-size baseline |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for i, r := range results {
		bytes, ratio, same := strconv.Itoa(len(fixedBody)), "", ""
		switch r.Target {
		case "slipway", "baseline, same size":
			bytes = strconv.Itoa(reqs[i/3].answer)
		}
		if r.Target == "slipway" {
			ratio = fmt.Sprintf("%.2f", r.RPS()/results[i-2].RPS())
			same = fmt.Sprintf("%.2f", r.RPS()/results[i-1].RPS())
		}
		fmt.Fprintf(out, "| %s | %s | %s | %d | %d | %.0f | %s | %s | %s | %s |\n", r.Request, r.Target, bytes, r.Requests, r.Errors, r.RPS(),
			r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), ratio, same)
	}
	return results, nil
}

// hammer replays r from cfg.Connections connections for cfg.Duration or
// cfg.MaxRequests, whichever comes first.
func hammer(addr string, r request, cfg Config) Result {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var sent atomic.Int64
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Connections; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			local := make([]time.Duration, 0, 1<<14)
			localErr := 0
			for time.Now().Before(deadline) {
				if sent.Add(1) > int64(cfg.MaxRequests) {
					break
				}
				t := time.Now()
				code, _, err := send(c, addr, r)
				local = append(local, time.Since(t))
				if err != nil || code != 200 {
					localErr++
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += localErr
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res := Result{Request: r.name, Requests: len(lat), Errors: errs, Elapsed: elapsed}
	if len(lat) > 0 {
		res.P50 = lat[len(lat)/2]
		res.P99 = lat[len(lat)*99/100]
	}
	return res
}

// fixedBody is what the baseline answers unless asked for a size.
var fixedBody = []byte(`{"workflowVersionList":[],"requestId":"00000000-0000-0000-0000-000000000000"}`)

// ServeBaseline serves a fixed JSON body on addr (or, when a request asks
// with sizeHeader, one of that many bytes) and logs its address the way
// slipway serve does. It is the comparison point for Run.
func ServeBaseline(addr string) error {
	var sized sync.Map // size -> body, made once per size
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		body := fixedBody
		if n, err := strconv.Atoi(r.Header.Get(sizeHeader)); err == nil && n > len(`{"pad":""}`) && n <= 1<<20 {
			b, ok := sized.Load(n)
			if !ok {
				b, _ = sized.LoadOrStore(n, []byte(`{"pad":"`+strings.Repeat("x", n-len(`{"pad":""}`))+`"}`))
			}
			body = b.([]byte)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "baseline listening addr=%s\n", ln.Addr())
	return srv.Serve(ln)
}
