// Package awsproto speaks the two AWS wire protocols Slipway serves on one
// port: rest-json (Image Builder: method + path, query strings, camelCase) and
// JSON 1.1 (Transfer Family: POST / with X-Amz-Target, PascalCase). It
// verifies SigV4, binds and validates input against the API model, calls the
// operation's handler, and renders results and errors the way AWS SDKs parse
// them. Handlers see only typed input and a Call in the context.
package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/awsmodel"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/sigv4"
	"github.com/slipway-dev/slipway/internal/store"
)

// MaxBodyBytes bounds a request body; the largest modelled inputs are far
// smaller.
const MaxBodyBytes = 8 << 20

// Call describes the request being served.
type Call struct {
	Service     string
	Operation   string
	Scope       store.Scope
	AccessKeyID string
	RequestID   string
}

type callKey struct{}

// CallFrom returns the call in ctx (a zero Call outside a request).
func CallFrom(ctx context.Context) Call {
	c, _ := ctx.Value(callKey{}).(Call)
	return c
}

// WithCall returns ctx carrying c (for tests and internal callers).
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// Handler serves one operation. input is the validated JSON input.
type Handler func(ctx context.Context, input []byte) (any, error)

// Handle adapts a typed operation function to a Handler.
func Handle[In, Out any](fn func(context.Context, *In) (*Out, error)) Handler {
	return func(ctx context.Context, input []byte) (any, error) {
		in := new(In)
		if err := json.Unmarshal(input, in); err != nil {
			return nil, fault.New(fault.Serialization, "The request body could not be read: %v", err)
		}
		return fn(ctx, in)
	}
}

// Document is an input or output handled as its canonical JSON document.
type Document = map[string]any

// HandleDocument adapts an operation on canonical documents to a Handler.
func HandleDocument(fn func(context.Context, Document) (Document, error)) Handler {
	return func(ctx context.Context, input []byte) (any, error) {
		in := Document{}
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, fault.New(fault.Serialization, "The request body could not be read: %v", err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = Document{}
		}
		return out, nil
	}
}

// Service is one AWS service: its model and the handlers Slipway implements.
type Service struct {
	Model    *awsmodel.Service
	handlers map[string]Handler
	static   map[string]*awsmodel.Operation // "METHOD /path"
	labelled []labelRoute
}

type labelRoute struct {
	method, prefix, label string
	op                    *awsmodel.Operation
}

// NewService returns the service for the named model, with routes for every
// modelled operation.
func NewService(name string) *Service {
	m := awsmodel.Load(name)
	s := &Service{Model: m, handlers: map[string]Handler{}, static: map[string]*awsmodel.Operation{}}
	for _, op := range m.Operations {
		path, _, _ := strings.Cut(op.URI, "?")
		if i := strings.IndexByte(path, '{'); i >= 0 {
			label := strings.TrimSuffix(strings.TrimSuffix(path[i+1:], "}"), "+")
			s.labelled = append(s.labelled, labelRoute{method: op.Method, prefix: path[:i], label: label, op: op})
			continue
		}
		s.static[op.Method+" "+path] = op
	}
	return s
}

// Register sets the handler of a modelled operation.
func (s *Service) Register(op string, h Handler) {
	if _, ok := s.Model.Operations[op]; !ok {
		panic("awsproto: " + s.Model.Name + " has no operation " + op)
	}
	s.handlers[op] = h
}

// Implemented lists the operations that have handlers.
func (s *Service) Implemented() []string {
	out := make([]string, 0, len(s.handlers))
	for n := range s.handlers {
		out = append(out, n)
	}
	return out
}

// Server serves AWS API requests for a set of services.
type Server struct {
	rest     *Service
	targets  map[string]*Service // by X-Amz-Target prefix
	verifier *sigv4.Verifier
	log      *slog.Logger
	// CheckResponses, when set before serving, hears about every
	// successful response whose body breaks the operation's output shape.
	CheckResponses func(service, operation string, problems []string)
	// Observe, when set before serving, hears about every request.
	Observe func(service, operation string, status int, elapsed time.Duration)
}

// NewServer returns a server for the services, verifying with v.
func NewServer(v *sigv4.Verifier, log *slog.Logger, services ...*Service) *Server {
	srv := &Server{targets: map[string]*Service{}, verifier: v, log: log}
	for _, s := range services {
		switch s.Model.Protocol {
		case "rest-json":
			srv.rest = s
		case "json":
			srv.targets[s.Model.TargetPrefix] = s
		}
	}
	return srv
}

// NewRequestID returns a random UUID (version 4), as AWS request IDs are.
func NewRequestID() string { return ids.UUID() }

// responseBuffers keeps response bodies' buffers between requests: growing
// a new one to a list page's size was a tenth of the page's allocations.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledResponse bounds the buffers kept: a rare large response does not
// pin its buffer.
const maxPooledResponse = 64 << 10

// ServeHTTP implements http.Handler.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	call := Call{RequestID: NewRequestID()}
	w.Header().Set("x-amzn-RequestId", call.RequestID)

	svc, opName, json11 := srv.service(r)
	if svc == nil {
		srv.fail(w, r, &call, nil, json11, fault.New(fault.UnknownOperation, "The operation is not supported by this service."), start)
		return
	}
	call.Service = svc.Model.Name
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		srv.fail(w, r, &call, nil, json11, fault.New(fault.Serialization, "The request body could not be read."), start)
		return
	}
	if len(body) > MaxBodyBytes {
		srv.fail(w, r, &call, nil, json11, fault.New(fault.Serialization, "The request body exceeds %d bytes.", MaxBodyBytes), start)
		return
	}
	res, err := srv.verifier.Verify(r, body, svc.Model.SigningName)
	if err != nil {
		srv.fail(w, r, &call, nil, json11, err, start)
		return
	}
	call.Scope = store.Scope{Account: res.Account, Region: res.Region}
	call.AccessKeyID = res.AccessKeyID

	var op *awsmodel.Operation
	var labels map[string]string
	if json11 {
		op = svc.Model.Operations[opName]
	} else {
		op, labels = svc.route(r)
	}
	if op == nil {
		srv.fail(w, r, &call, nil, json11, fault.New(fault.UnknownOperation, "The operation %s is not supported by %s.", describe(r, opName, json11), svc.Model.Name), start)
		return
	}
	call.Operation = op.Name
	h := svc.handlers[op.Name]
	if h == nil {
		srv.fail(w, r, &call, op, json11, fault.New(fault.NotImplemented, "Slipway does not implement %s:%s yet.", svc.Model.Name, op.Name), start)
		return
	}
	input, err := bind(svc.Model, op, r, body, labels, json11)
	if err != nil {
		srv.fail(w, r, &call, op, json11, err, start)
		return
	}
	ctx := WithCall(r.Context(), call)
	out, err := h(ctx, input)
	if err != nil {
		srv.fail(w, r, &call, op, json11, err, start)
		return
	}
	// Document-shaped outputs get the requestId member their shape models.
	if doc, ok := out.(map[string]any); ok && op.Output != "" {
		if _, has := svc.Model.Shapes[op.Output].Members["requestId"]; has {
			doc["requestId"] = call.RequestID
		}
	}
	bp := responseBuffers.Get().(*[]byte)
	defer func() { responseBuffers.Put(bp) }()
	b, err := appendJSON((*bp)[:0], out)
	if err != nil {
		srv.fail(w, r, &call, op, json11, err, start)
		return
	}
	if cap(b) <= maxPooledResponse {
		*bp = b
	}
	if srv.CheckResponses != nil {
		if problems := svc.Model.CheckOutput(op.Name, b); len(problems) > 0 {
			srv.CheckResponses(svc.Model.Name, op.Name, problems)
		}
	}
	if json11 {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if srv.Observe != nil {
		srv.Observe(call.Service, call.Operation, http.StatusOK, time.Since(start))
	}
	srv.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
		slog.String("request_id", call.RequestID), slog.String("service", call.Service), slog.String("operation", call.Operation),
		slog.Int("status", 200), slog.Duration("elapsed", time.Since(start)))
}

func describe(r *http.Request, target string, json11 bool) string {
	if json11 {
		return "'" + target + "'"
	}
	return "'" + r.Method + " " + r.URL.Path + "'"
}

// service picks the service (and, for JSON 1.1, the operation name).
func (srv *Server) service(r *http.Request) (svc *Service, op string, json11 bool) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix, name, _ := strings.Cut(t, ".")
		return srv.targets[prefix], name, true
	}
	return srv.rest, "", false
}

func rawPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// route finds the rest-json operation for r and its URI label values.
func (s *Service) route(r *http.Request) (*awsmodel.Operation, map[string]string) {
	path := rawPath(r)
	if op := s.static[r.Method+" "+path]; op != nil {
		return op, nil
	}
	for _, lr := range s.labelled {
		if r.Method != lr.method || !strings.HasPrefix(path, lr.prefix) || len(path) == len(lr.prefix) {
			continue
		}
		v, err := url.PathUnescape(path[len(lr.prefix):])
		if err != nil {
			continue
		}
		return lr.op, map[string]string{lr.label: v}
	}
	return nil, nil
}

// bind assembles the operation's JSON input from the request and validates
// it against the model.
func bind(m *awsmodel.Service, op *awsmodel.Operation, r *http.Request, body []byte, labels map[string]string, json11 bool) ([]byte, error) {
	if op.Input == "" {
		return []byte("{}"), nil
	}
	in := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fault.New(fault.Serialization, "The request body is not valid JSON: %v", err)
		}
		if dec.More() {
			return nil, fault.New(fault.Serialization, "The request body has data after the JSON value.")
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fault.New(fault.Serialization, "The request body must be a JSON object.")
		}
		in = obj
	}
	if !json11 {
		shape := m.Shapes[op.Input]
		q := r.URL.Query()
		for name, mem := range shape.Members {
			switch mem.Location {
			case "uri":
				if v, ok := labels[mem.LocationName]; ok {
					in[name] = v
				}
			case "querystring":
				vals, ok := q[mem.LocationName]
				if !ok {
					continue
				}
				v, err := queryValue(m.Shapes[mem.Shape], vals)
				if err != nil {
					return nil, fault.New(fault.Serialization, "Query parameter '%s': %v", mem.LocationName, err)
				}
				in[name] = v
			case "header":
				if v := r.Header.Get(mem.LocationName); v != "" {
					in[name] = v
				}
			}
		}
	}
	if err := m.Validate(op.Input, in); err != nil {
		return nil, err
	}
	if len(body) > 0 && json11 {
		return body, nil
	}
	return json.Marshal(in)
}

func queryValue(sh *awsmodel.Shape, vals []string) (any, error) {
	switch sh.Type {
	case "list":
		out := make([]any, len(vals))
		for i, v := range vals {
			out[i] = v
		}
		return out, nil
	case "integer", "long":
		if _, err := strconv.ParseInt(vals[0], 10, 64); err != nil {
			return nil, errors.New("not an integer")
		}
		return json.Number(vals[0]), nil
	case "boolean":
		b, err := strconv.ParseBool(vals[0])
		if err != nil {
			return nil, errors.New("not a boolean")
		}
		return b, nil
	}
	return vals[0], nil
}

// fail writes err as the AWS error the client expects.
func (srv *Server) fail(w http.ResponseWriter, r *http.Request, call *Call, op *awsmodel.Operation, json11 bool, err error, start time.Time) {
	service := call.Service
	if service == "" {
		service = "imagebuilder"
		if json11 {
			service = "transfer"
		}
	}
	we, internal := toWire(service, op, err)
	level := slog.LevelDebug
	if internal {
		level = slog.LevelError
	}
	srv.log.LogAttrs(r.Context(), level, "request failed",
		slog.String("request_id", call.RequestID), slog.String("service", service), slog.String("operation", call.Operation),
		slog.Int("status", we.Status), slog.String("code", we.Code), slog.String("error", err.Error()),
		slog.Duration("elapsed", time.Since(start)))
	var body map[string]any
	if json11 {
		body = map[string]any{"__type": we.Code, "Message": we.Message}
		if we.Resource != "" || we.ResourceType != "" {
			body["Resource"] = we.Resource
			body["ResourceType"] = we.ResourceType
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		body = map[string]any{"message": we.Message}
		w.Header().Set("Content-Type", "application/json")
	}
	b, _ := json.Marshal(body)
	w.Header().Set("X-Amzn-ErrorType", we.Code)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(statusOrDefault(we.Status))
	_, _ = w.Write(b)
	if srv.Observe != nil {
		srv.Observe(service, call.Operation, statusOrDefault(we.Status), time.Since(start))
	}
}
