// Package ui is the dashboard at /_slipway/ui: server-rendered pages
// (html/template, embedded, no build step) that show an account and
// region's pipelines, images and their workflow steps, lifecycle runs,
// Transfer servers and executions, and let a person answer the gates and
// CUSTOM steps waiting now with the same guarded transitions as the API.
// Pages read fine without JavaScript; with it they refresh themselves when
// an event arrives on /_slipway/events.
package ui

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/imagebuilder"
	"github.com/slipway-dev/slipway/internal/sigv4"
	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/transfer"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Server serves the dashboard.
type Server struct {
	IB *imagebuilder.Service
	TF *transfer.Service
	// Open lets non-loopback clients in, who must then sign in with one of
	// Credentials (HTTP Basic: access key ID and secret).
	Open        bool
	Credentials []sigv4.Credential
	// DefaultAccount is the account the dashboard opens on.
	DefaultAccount string

	pages map[string]*template.Template
	mux   *http.ServeMux
}

const prefix = "/_slipway/ui"

// Init parses the templates and sets the routes.
func (s *Server) Init() error {
	funcs := template.FuncMap{
		"short":    short,
		"since":    since,
		"lower":    func(v any) string { t, _ := v.(string); return strings.ToLower(t) },
		"query":    func(v any) string { t, _ := v.(string); return url.QueryEscape(t) },
		"duration": duration,
	}
	s.pages = map[string]*template.Template{}
	for _, page := range []string{"overview", "image", "server"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return err
		}
		s.pages[page] = t
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+prefix+"/{$}", s.home)
	s.mux.HandleFunc("GET "+prefix+"/{account}/{region}/{$}", s.overview)
	s.mux.HandleFunc("GET "+prefix+"/{account}/{region}/image", s.image)
	s.mux.HandleFunc("GET "+prefix+"/{account}/{region}/server", s.server)
	s.mux.HandleFunc("POST "+prefix+"/{account}/{region}/gate", s.gate)
	s.mux.HandleFunc("POST "+prefix+"/{account}/{region}/custom-step", s.customStep)
	return nil
}

// ServeHTTP admits loopback clients (or, when open, signed-in ones) and
// dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	if !s.Open {
		http.Error(w, "The dashboard answers loopback clients only (start Slipway with --ui-open to change that).", http.StatusForbidden)
		return false
	}
	key, secret, ok := r.BasicAuth()
	for _, c := range s.Credentials {
		if ok && c.AccessKeyID == key && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1 {
			return true
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Slipway dashboard", charset="UTF-8"`)
	http.Error(w, "Sign in with an access key ID and its secret.", http.StatusUnauthorized)
	return false
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, prefix+"/"+s.DefaultAccount+"/us-east-1/", http.StatusFound)
}

func scopeOf(r *http.Request) store.Scope {
	return store.Scope{Account: r.PathValue("account"), Region: r.PathValue("region")}
}

// csrfCookie is the double-submit token: a form's hidden field must equal
// the cookie, which another site can neither read nor set.
const csrfCookie = "slipway_csrf"

func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return tok
}

// checkPost refuses a form post that did not come from a dashboard page.
func checkPost(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 32 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) == 1
}

func (s *Server) render(w http.ResponseWriter, page string, data map[string]any) {
	var buf bytes.Buffer
	if err := s.pages[page].Execute(&buf, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

func short(v any) string {
	a, _ := v.(string)
	if i := strings.Index(a, ":image/"); i >= 0 {
		return a[i+7:]
	}
	if i := strings.LastIndex(a, "/"); i >= 0 && strings.HasPrefix(a, "arn:") {
		return a[strings.Index(a, ":"+strings.Split(a, ":")[5])+1:]
	}
	return a
}

func since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func duration(start, end any) string {
	s, _ := start.(string)
	e, _ := end.(string)
	a, err1 := time.Parse(imageBuilderTime, s)
	b, err2 := time.Parse(imageBuilderTime, e)
	if err1 != nil || err2 != nil {
		return ""
	}
	return b.Sub(a).Round(time.Millisecond).String()
}

const imageBuilderTime = "2006-01-02T15:04:05.000Z"
