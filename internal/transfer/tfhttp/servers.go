package tfhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/transfer"
)

func registerServers(svc *awsproto.Service, h *handlers) {
	svc.Register("CreateServer", awsproto.Handle(h.createServer))
	svc.Register("DescribeServer", awsproto.Handle(h.describeServer))
	svc.Register("ListServers", awsproto.Handle(h.listServers))
	svc.Register("UpdateServer", awsproto.Handle(h.updateServer))
	svc.Register("DeleteServer", awsproto.Handle(h.deleteServer))
	svc.Register("StartServer", awsproto.Handle(h.startServer))
	svc.Register("StopServer", awsproto.Handle(h.stopServer))
	svc.Register("DescribeSecurityPolicy", awsproto.Handle(h.describeSecurityPolicy))
	svc.Register("ListSecurityPolicies", awsproto.Handle(h.listSecurityPolicies))
	svc.Register("ImportHostKey", awsproto.Handle(h.importHostKey))
	svc.Register("DescribeHostKey", awsproto.Handle(h.describeHostKey))
	svc.Register("ListHostKeys", awsproto.Handle(h.listHostKeys))
	svc.Register("UpdateHostKey", awsproto.Handle(h.updateHostKey))
	svc.Register("DeleteHostKey", awsproto.Handle(h.deleteHostKey))
}

type serverIDInput struct {
	ServerID string `json:"ServerId"`
}

type serverIDOutput struct {
	ServerID string `json:"ServerId"`
}

func (h *handlers) createServer(ctx context.Context, in *transfer.ServerInput) (*serverIDOutput, error) {
	srv, err := h.tf.CreateServer(ctx, awsproto.CallFrom(ctx).Scope, *in)
	if err != nil {
		return nil, err
	}
	return &serverIDOutput{ServerID: srv.ServerID}, nil
}

// described drops what DescribedServer leaves out for directory servers.
func described(srv *transfer.Server) *transfer.Server {
	if srv.IdentityProviderType == transfer.IdentityDirectory || srv.IdentityProviderType == transfer.IdentityServiceManaged {
		srv.IdentityProviderDetails = nil
	}
	return srv
}

func (h *handlers) describeServer(ctx context.Context, in *serverIDInput) (*struct {
	Server *transfer.Server `json:"Server"`
}, error) {
	srv, err := h.tf.DescribeServer(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID)
	if err != nil {
		return nil, err
	}
	return &struct {
		Server *transfer.Server `json:"Server"`
	}{described(srv)}, nil
}

type listedServer struct {
	Arn                  string `json:"Arn"`
	Domain               string `json:"Domain"`
	IdentityProviderType string `json:"IdentityProviderType"`
	EndpointType         string `json:"EndpointType"`
	LoggingRole          string `json:"LoggingRole,omitempty"`
	ServerID             string `json:"ServerId"`
	State                string `json:"State"`
	UserCount            int    `json:"UserCount"`
}

type pageInput struct {
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}

func (h *handlers) listServers(ctx context.Context, in *pageInput) (*struct {
	Servers   []listedServer `json:"Servers"`
	NextToken string         `json:"NextToken,omitempty"`
}, error) {
	page, err := h.tf.ListServers(ctx, awsproto.CallFrom(ctx).Scope, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Servers   []listedServer `json:"Servers"`
		NextToken string         `json:"NextToken,omitempty"`
	}{Servers: make([]listedServer, 0, len(page.Servers)), NextToken: page.NextToken}
	for _, s := range page.Servers {
		out.Servers = append(out.Servers, listedServer{Arn: s.Arn, Domain: s.Domain, IdentityProviderType: s.IdentityProviderType, EndpointType: s.EndpointType,
			LoggingRole: s.LoggingRole, ServerID: s.ServerID, State: s.State, UserCount: s.UserCount})
	}
	return out, nil
}

func (h *handlers) updateServer(ctx context.Context, in *transfer.ServerInput) (*serverIDOutput, error) {
	srv, err := h.tf.UpdateServer(ctx, awsproto.CallFrom(ctx).Scope, *in)
	if err != nil {
		return nil, err
	}
	return &serverIDOutput{ServerID: srv.ServerID}, nil
}

func (h *handlers) deleteServer(ctx context.Context, in *serverIDInput) (*empty, error) {
	return &empty{}, h.tf.DeleteServer(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID)
}

func (h *handlers) startServer(ctx context.Context, in *serverIDInput) (*empty, error) {
	return &empty{}, h.tf.StartServer(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID)
}

func (h *handlers) stopServer(ctx context.Context, in *serverIDInput) (*empty, error) {
	return &empty{}, h.tf.StopServer(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID)
}

func (h *handlers) describeSecurityPolicy(ctx context.Context, in *struct {
	SecurityPolicyName string `json:"SecurityPolicyName"`
}) (*struct {
	SecurityPolicy *transfer.SecurityPolicy `json:"SecurityPolicy"`
}, error) {
	p, err := h.tf.DescribeSecurityPolicy(in.SecurityPolicyName)
	if err != nil {
		return nil, err
	}
	return &struct {
		SecurityPolicy *transfer.SecurityPolicy `json:"SecurityPolicy"`
	}{p}, nil
}

func (h *handlers) listSecurityPolicies(ctx context.Context, in *pageInput) (*struct {
	SecurityPolicyNames []string `json:"SecurityPolicyNames"`
	NextToken           string   `json:"NextToken,omitempty"`
}, error) {
	names, next, err := h.tf.ListSecurityPolicies(ctx, awsproto.CallFrom(ctx).Scope, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &struct {
		SecurityPolicyNames []string `json:"SecurityPolicyNames"`
		NextToken           string   `json:"NextToken,omitempty"`
	}{names, next}, nil
}

type hostKeyIDInput struct {
	ServerID  string `json:"ServerId"`
	HostKeyID string `json:"HostKeyId"`
}

type hostKeyIDOutput struct {
	ServerID  string `json:"ServerId"`
	HostKeyID string `json:"HostKeyId"`
}

func (h *handlers) importHostKey(ctx context.Context, in *struct {
	ServerID    string         `json:"ServerId"`
	HostKeyBody string         `json:"HostKeyBody"`
	Description string         `json:"Description"`
	Tags        []transfer.Tag `json:"Tags"`
}) (*hostKeyIDOutput, error) {
	id, err := h.tf.ImportHostKey(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.HostKeyBody, in.Description, in.Tags)
	if err != nil {
		return nil, err
	}
	return &hostKeyIDOutput{ServerID: in.ServerID, HostKeyID: id}, nil
}

type describedHostKey struct {
	Arn                string         `json:"Arn"`
	HostKeyID          string         `json:"HostKeyId"`
	HostKeyFingerprint string         `json:"HostKeyFingerprint"`
	Description        string         `json:"Description,omitempty"`
	Type               string         `json:"Type"`
	DateImported       transfer.Epoch `json:"DateImported"`
	Tags               []transfer.Tag `json:"Tags,omitempty"`
}

func (h *handlers) describeHostKey(ctx context.Context, in *hostKeyIDInput) (*struct {
	HostKey describedHostKey `json:"HostKey"`
}, error) {
	k, err := h.tf.DescribeHostKey(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.HostKeyID)
	if err != nil {
		return nil, err
	}
	return &struct {
		HostKey describedHostKey `json:"HostKey"`
	}{describedHostKey{Arn: k.Arn, HostKeyID: k.HostKeyId, HostKeyFingerprint: k.HostKeyFingerprint, Description: k.Description,
		Type: k.Type, DateImported: k.DateImported, Tags: k.Tags}}, nil
}

type listedHostKey struct {
	Arn          string         `json:"Arn"`
	HostKeyID    string         `json:"HostKeyId"`
	Fingerprint  string         `json:"Fingerprint"`
	Description  string         `json:"Description,omitempty"`
	Type         string         `json:"Type"`
	DateImported transfer.Epoch `json:"DateImported"`
}

type listHostKeysOutput struct {
	ServerID  string          `json:"ServerId"`
	HostKeys  []listedHostKey `json:"HostKeys"`
	NextToken string          `json:"NextToken,omitempty"`
}

func (h *handlers) listHostKeys(ctx context.Context, in *struct {
	ServerID   string `json:"ServerId"`
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}) (*listHostKeysOutput, error) {
	page, err := h.tf.ListHostKeys(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listHostKeysOutput{ServerID: in.ServerID, HostKeys: []listedHostKey{}, NextToken: page.NextToken}
	for _, k := range page.HostKeys {
		out.HostKeys = append(out.HostKeys, listedHostKey{Arn: k.Arn, HostKeyID: k.HostKeyId, Fingerprint: k.HostKeyFingerprint,
			Description: k.Description, Type: k.Type, DateImported: k.DateImported})
	}
	return out, nil
}

func (h *handlers) updateHostKey(ctx context.Context, in *struct {
	ServerID    string `json:"ServerId"`
	HostKeyID   string `json:"HostKeyId"`
	Description string `json:"Description"`
}) (*hostKeyIDOutput, error) {
	if err := h.tf.UpdateHostKey(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.HostKeyID, in.Description); err != nil {
		return nil, err
	}
	return &hostKeyIDOutput{ServerID: in.ServerID, HostKeyID: in.HostKeyID}, nil
}

func (h *handlers) deleteHostKey(ctx context.Context, in *hostKeyIDInput) (*empty, error) {
	return &empty{}, h.tf.DeleteHostKey(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.HostKeyID)
}
