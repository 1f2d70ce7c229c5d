package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/lambda"
	"github.com/slipway-dev/slipway/internal/store"
)

// Login is one authentication attempt against a custom identity provider.
type Login struct {
	ServerID    string
	UserName    string
	Password    string
	HasPassword bool
	Protocol    string
	SourceIP    string
}

// idpResponse is what an identity provider answers (the same for Lambda and
// API Gateway). HomeDirectoryDetails is the mappings as a JSON string.
type idpResponse struct {
	Role                 string        `json:"Role"`
	PublicKeys           []string      `json:"PublicKeys"`
	Policy               string        `json:"Policy"`
	HomeDirectoryType    string        `json:"HomeDirectoryType"`
	HomeDirectoryDetails string        `json:"HomeDirectoryDetails"`
	HomeDirectory        string        `json:"HomeDirectory"`
	PosixProfile         *PosixProfile `json:"PosixProfile"`
}

// ErrLoginRefused is a login the identity provider did not accept.
var ErrLoginRefused = errors.New("transfer: the identity provider refused the login")

// TestIdentityInput is TestIdentityProvider's request.
type TestIdentityInput struct {
	ServerID       string `json:"ServerId"`
	ServerProtocol string `json:"ServerProtocol"`
	SourceIp       string `json:"SourceIp"`
	UserName       string `json:"UserName"`
	UserPassword   string `json:"UserPassword"`
}

// TestIdentityResult is TestIdentityProvider's answer.
type TestIdentityResult struct {
	Response   string `json:"Response,omitempty"`
	StatusCode int    `json:"StatusCode"`
	Message    string `json:"Message,omitempty"`
	Url        string `json:"Url"`
}

// callIdentityProvider asks the server's identity provider about a login.
func (s *Service) callIdentityProvider(ctx context.Context, scope store.Scope, srv *Server, l Login) (*lambda.Result, error) {
	if s.Lambda == nil {
		return nil, lambda.ErrNoEndpoint
	}
	protocol := l.Protocol
	if protocol == "" {
		protocol = "SFTP"
	}
	d := srv.IdentityProviderDetails
	switch srv.IdentityProviderType {
	case IdentityLambda:
		event := map[string]string{"username": l.UserName, "protocol": protocol, "serverId": srv.ServerID, "sourceIp": l.SourceIP}
		if l.HasPassword {
			event["password"] = l.Password
		}
		b, _ := json.Marshal(event)
		return s.Lambda.Invoke(ctx, d.Function, scope.Region, b, false)
	case IdentityAPIGateway:
		u := strings.TrimRight(d.Url, "/") + "/servers/" + url.PathEscape(srv.ServerID) + "/users/" + url.PathEscape(l.UserName) + "/config?" +
			url.Values{"protocol": {protocol}, "sourceIp": {l.SourceIP}}.Encode()
		h := http.Header{}
		if l.HasPassword {
			h.Set("Password", l.Password)
		}
		return s.Lambda.Get(ctx, u, "execute-api", scope.Region, h)
	}
	return nil, fault.New(fault.Invalid, "%s not configured for external auth", srv.ServerID)
}

// identityFrom turns an identity provider's answer into a user; a missing
// Role, an error or a malformed home directory refuse the login.
func identityFrom(srv *Server, l Login, res *lambda.Result) (*User, error) {
	if res.StatusCode != http.StatusOK || res.FunctionError != "" {
		return nil, fmt.Errorf("%w: status %d %s", ErrLoginRefused, res.StatusCode, res.FunctionError)
	}
	var r idpResponse
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		return nil, fmt.Errorf("%w: the response is not a JSON object: %v", ErrLoginRefused, err)
	}
	if r.Role == "" {
		return nil, fmt.Errorf("%w: no Role", ErrLoginRefused)
	}
	u := &User{UserName: l.UserName, Role: r.Role, Policy: r.Policy, HomeDirectory: r.HomeDirectory, HomeDirectoryType: r.HomeDirectoryType,
		PosixProfile: r.PosixProfile, ServerID: srv.ServerID, Domain: srv.Domain, Identity: &IdentityDetails{PublicKeys: r.PublicKeys}}
	if u.HomeDirectoryType == "" {
		u.HomeDirectoryType = HomePath
	}
	if r.HomeDirectoryDetails != "" {
		if err := json.Unmarshal([]byte(r.HomeDirectoryDetails), &u.HomeDirectoryMappings); err != nil {
			return nil, fmt.Errorf("%w: HomeDirectoryDetails is not a JSON list of mappings: %v", ErrLoginRefused, err)
		}
	}
	if err := CheckHome(u); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoginRefused, err)
	}
	if srv.Domain == DomainEFS && u.PosixProfile == nil {
		return nil, fmt.Errorf("%w: an EFS user needs a PosixProfile", ErrLoginRefused)
	}
	return u, nil
}

// CustomLogin authenticates against srv's custom identity provider.
func (s *Service) CustomLogin(ctx context.Context, scope store.Scope, srv *Server, l Login) (*User, error) {
	l.ServerID = srv.ServerID
	res, err := s.callIdentityProvider(ctx, scope, srv, l)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoginRefused, err)
	}
	return identityFrom(srv, l, res)
}

// TestIdentityProvider runs the login code against the identity provider
// and reports what it answered.
func (s *Service) TestIdentityProvider(ctx context.Context, scope store.Scope, in TestIdentityInput) (*TestIdentityResult, error) {
	srv, err := s.DescribeServer(ctx, scope, in.ServerID)
	if err != nil {
		return nil, err
	}
	if srv.IdentityProviderType != IdentityLambda && srv.IdentityProviderType != IdentityAPIGateway {
		return nil, fault.New(fault.Invalid, "%s not configured for external auth", in.ServerID)
	}
	l := Login{ServerID: in.ServerID, UserName: in.UserName, Password: in.UserPassword, HasPassword: in.UserPassword != "",
		Protocol: in.ServerProtocol, SourceIP: in.SourceIp}
	if l.SourceIP == "" {
		l.SourceIP = "127.0.0.1"
	}
	res, err := s.callIdentityProvider(ctx, scope, srv, l)
	if err != nil {
		return &TestIdentityResult{StatusCode: http.StatusInternalServerError, Message: err.Error(), Url: urlOf(srv)}, nil
	}
	out := &TestIdentityResult{StatusCode: res.StatusCode, Response: string(res.Payload), Url: res.URL}
	if _, err := identityFrom(srv, l, res); err != nil {
		out.Message = err.Error()
	}
	return out, nil
}

func urlOf(srv *Server) string {
	if d := srv.IdentityProviderDetails; d != nil {
		if d.Url != "" {
			return d.Url
		}
		return d.Function
	}
	return ""
}
