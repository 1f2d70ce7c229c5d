package tfhttp

import (
	"context"

	"github.com/slipway-dev/slipway/internal/awsproto"
	"github.com/slipway-dev/slipway/internal/transfer"
)

func registerUsers(svc *awsproto.Service, h *handlers) {
	svc.Register("CreateUser", awsproto.Handle(h.createUser))
	svc.Register("DescribeUser", awsproto.Handle(h.describeUser))
	svc.Register("ListUsers", awsproto.Handle(h.listUsers))
	svc.Register("UpdateUser", awsproto.Handle(h.updateUser))
	svc.Register("DeleteUser", awsproto.Handle(h.deleteUser))
	svc.Register("ImportSshPublicKey", awsproto.Handle(h.importSSHPublicKey))
	svc.Register("DeleteSshPublicKey", awsproto.Handle(h.deleteSSHPublicKey))
	svc.Register("TestIdentityProvider", awsproto.Handle(h.testIdentityProvider))
}

type userIDInput struct {
	ServerID string `json:"ServerId"`
	UserName string `json:"UserName"`
}

type userIDOutput struct {
	ServerID string `json:"ServerId"`
	UserName string `json:"UserName"`
}

func (h *handlers) createUser(ctx context.Context, in *transfer.UserInput) (*userIDOutput, error) {
	if err := h.tf.CreateUser(ctx, awsproto.CallFrom(ctx).Scope, *in); err != nil {
		return nil, err
	}
	return &userIDOutput{ServerID: in.ServerID, UserName: in.UserName}, nil
}

type describeUserOutput struct {
	ServerID string         `json:"ServerId"`
	User     *transfer.User `json:"User"`
}

func (h *handlers) describeUser(ctx context.Context, in *userIDInput) (*describeUserOutput, error) {
	u, err := h.tf.DescribeUser(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.UserName)
	if err != nil {
		return nil, err
	}
	return &describeUserOutput{ServerID: in.ServerID, User: u}, nil
}

type listedUser struct {
	Arn               string `json:"Arn"`
	HomeDirectory     string `json:"HomeDirectory,omitempty"`
	HomeDirectoryType string `json:"HomeDirectoryType"`
	Role              string `json:"Role"`
	SshPublicKeyCount int    `json:"SshPublicKeyCount"`
	UserName          string `json:"UserName"`
}

type listUsersOutput struct {
	ServerID  string       `json:"ServerId"`
	Users     []listedUser `json:"Users"`
	NextToken string       `json:"NextToken,omitempty"`
}

func (h *handlers) listUsers(ctx context.Context, in *struct {
	ServerID   string `json:"ServerId"`
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}) (*listUsersOutput, error) {
	page, err := h.tf.ListUsers(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listUsersOutput{ServerID: in.ServerID, Users: []listedUser{}, NextToken: page.NextToken}
	for _, u := range page.Users {
		out.Users = append(out.Users, listedUser{Arn: u.Arn, HomeDirectory: u.HomeDirectory, HomeDirectoryType: u.HomeDirectoryType,
			Role: u.Role, SshPublicKeyCount: len(u.SshPublicKeys), UserName: u.UserName})
	}
	return out, nil
}

func (h *handlers) updateUser(ctx context.Context, in *transfer.UserInput) (*userIDOutput, error) {
	if err := h.tf.UpdateUser(ctx, awsproto.CallFrom(ctx).Scope, *in); err != nil {
		return nil, err
	}
	return &userIDOutput{ServerID: in.ServerID, UserName: in.UserName}, nil
}

func (h *handlers) deleteUser(ctx context.Context, in *userIDInput) (*empty, error) {
	return &empty{}, h.tf.DeleteUser(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.UserName)
}

func (h *handlers) importSSHPublicKey(ctx context.Context, in *struct {
	ServerID         string `json:"ServerId"`
	UserName         string `json:"UserName"`
	SshPublicKeyBody string `json:"SshPublicKeyBody"`
}) (*struct {
	ServerID       string `json:"ServerId"`
	SshPublicKeyID string `json:"SshPublicKeyId"`
	UserName       string `json:"UserName"`
}, error) {
	id, err := h.tf.ImportSSHPublicKey(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.UserName, in.SshPublicKeyBody)
	if err != nil {
		return nil, err
	}
	return &struct {
		ServerID       string `json:"ServerId"`
		SshPublicKeyID string `json:"SshPublicKeyId"`
		UserName       string `json:"UserName"`
	}{in.ServerID, id, in.UserName}, nil
}

func (h *handlers) deleteSSHPublicKey(ctx context.Context, in *struct {
	ServerID       string `json:"ServerId"`
	UserName       string `json:"UserName"`
	SshPublicKeyID string `json:"SshPublicKeyId"`
}) (*empty, error) {
	return &empty{}, h.tf.DeleteSSHPublicKey(ctx, awsproto.CallFrom(ctx).Scope, in.ServerID, in.UserName, in.SshPublicKeyID)
}

func (h *handlers) testIdentityProvider(ctx context.Context, in *transfer.TestIdentityInput) (*transfer.TestIdentityResult, error) {
	return h.tf.TestIdentityProvider(ctx, awsproto.CallFrom(ctx).Scope, *in)
}
