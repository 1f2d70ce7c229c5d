// Package fault holds the domain's error kinds. Domain code returns *Error
// values (or wraps them); the wire edge alone maps a Kind to an AWS error code
// and HTTP status, per service and operation.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies a domain failure.
type Kind int

// The kinds of failure the domain reports.
const (
	Internal               Kind = iota // a bug or an unavailable dependency
	Invalid                            // a request value breaks a rule
	InvalidCombination                 // members that must not (or must) appear together
	InvalidVersion                     // a semantic version that is malformed
	Serialization                      // a body that is not the JSON the model expects
	NotFound                           // the named resource does not exist
	AlreadyExists                      // a resource with that identity exists
	InUse                              // a resource is in a state that forbids the request
	Dependency                         // another resource still depends on it
	IdempotencyMismatch                // a clientToken reused with other parameters
	InvalidPaginationToken             // a nextToken the server did not issue for this call
	QuotaExceeded                      // an account limit is reached
	DryRun                             // dryRun request that would have succeeded
	UnknownOperation                   // an operation the service does not have
	NotImplemented                     // an operation the service has but Slipway does not run yet
)

// Error is a domain failure of a given kind.
type Error struct {
	Kind    Kind
	Message string
	// Field names the request member at fault, when there is one.
	Field string
	// Resource and ResourceType name the resource for NotFound and
	// AlreadyExists (Transfer Family reports them as members of the error).
	Resource     string
	ResourceType string
}

func (e *Error) Error() string { return e.Message }

// New returns an error of the kind with a formatted message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// InvalidField reports a bad value of a request member, in the wording AWS
// uses: "The value supplied for parameter 'x' is not valid. <why>".
func InvalidField(field, format string, args ...any) *Error {
	msg := fmt.Sprintf("The value supplied for parameter '%s' is not valid. ", field) + fmt.Sprintf(format, args...)
	return &Error{Kind: Invalid, Message: msg, Field: field}
}

// Missing reports a resource that does not exist.
func Missing(resourceType, resource, format string, args ...any) *Error {
	return &Error{Kind: NotFound, Message: fmt.Sprintf(format, args...), Resource: resource, ResourceType: resourceType}
}

// Exists reports a resource that already exists.
func Exists(resourceType, resource, format string, args ...any) *Error {
	return &Error{Kind: AlreadyExists, Message: fmt.Sprintf(format, args...), Resource: resource, ResourceType: resourceType}
}

// Is reports whether err is a domain error of the kind.
func Is(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
