package awsproto

import (
	"errors"
	"net/http"

	"github.com/slipway-dev/slipway/internal/awsmodel"
	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/sigv4"
)

// wireError is an error as the client sees it.
type wireError struct {
	Code         string
	Status       int
	Message      string
	Resource     string
	ResourceType string
}

// code is one candidate AWS error for a domain kind.
type code struct {
	Name   string
	Status int
}

// errorTable is the one place domain error kinds become AWS errors. Each kind
// lists candidates in order of preference; the first one the operation's
// model lists wins, so SDKs decode it into the modelled exception type. When
// none is modelled the first candidate is used: AWS itself returns codes such
// as ResourceNotFoundException on operations whose model omits them, and
// clients match on the code string.
var errorTable = map[string]map[fault.Kind][]code{
	"imagebuilder": {
		fault.Internal:               {{"ServiceException", 500}},
		fault.Invalid:                {{"InvalidParameterValueException", 400}, {"InvalidRequestException", 400}, {"InvalidParameterException", 400}},
		fault.InvalidCombination:     {{"InvalidParameterCombinationException", 400}, {"InvalidParameterValueException", 400}, {"InvalidRequestException", 400}, {"InvalidParameterException", 400}},
		fault.InvalidVersion:         {{"InvalidVersionNumberException", 400}, {"InvalidParameterValueException", 400}, {"InvalidRequestException", 400}},
		fault.Serialization:          {{"SerializationException", 400}},
		fault.NotFound:               {{"ResourceNotFoundException", 404}},
		fault.AlreadyExists:          {{"ResourceAlreadyExistsException", 400}},
		fault.InUse:                  {{"ResourceInUseException", 400}},
		fault.Dependency:             {{"ResourceDependencyException", 400}},
		fault.IdempotencyMismatch:    {{"IdempotentParameterMismatchException", 400}},
		fault.InvalidPaginationToken: {{"InvalidPaginationTokenException", 400}},
		fault.QuotaExceeded:          {{"ServiceQuotaExceededException", 402}},
		fault.DryRun:                 {{"DryRunOperationException", 412}},
		fault.UnknownOperation:       {{"UnknownOperationException", 404}},
		fault.NotImplemented:         {{"NotImplementedException", 501}},
	},
	"transfer": {
		fault.Internal:               {{"InternalServiceError", 500}},
		fault.Invalid:                {{"InvalidRequestException", 400}},
		fault.InvalidCombination:     {{"InvalidRequestException", 400}},
		fault.InvalidVersion:         {{"InvalidRequestException", 400}},
		fault.Serialization:          {{"SerializationException", 400}},
		fault.NotFound:               {{"ResourceNotFoundException", 400}},
		fault.AlreadyExists:          {{"ResourceExistsException", 400}},
		fault.InUse:                  {{"ConflictException", 400}, {"InvalidRequestException", 400}},
		fault.Dependency:             {{"InvalidRequestException", 400}},
		fault.IdempotencyMismatch:    {{"InvalidRequestException", 400}},
		fault.InvalidPaginationToken: {{"InvalidNextTokenException", 400}},
		fault.QuotaExceeded:          {{"ServiceQuotaExceededException", 400}, {"InvalidRequestException", 400}},
		fault.DryRun:                 {{"InvalidRequestException", 400}},
		fault.UnknownOperation:       {{"UnknownOperationException", 400}},
		fault.NotImplemented:         {{"NotImplementedException", 501}},
	},
}

// authErrors maps signature failures; they are the same for every service.
var authErrors = map[sigv4.Reason]code{
	sigv4.Missing:    {"MissingAuthenticationTokenException", 403},
	sigv4.Incomplete: {"IncompleteSignatureException", 400},
	sigv4.UnknownKey: {"UnrecognizedClientException", 403},
	sigv4.Mismatch:   {"InvalidSignatureException", 403},
	sigv4.Expired:    {"InvalidSignatureException", 403},
	sigv4.WrongScope: {"InvalidSignatureException", 403},
}

// toWire maps any error to what the client sees. internal reports whether it
// was an unexpected failure (to be logged, with its text hidden).
func toWire(service string, op *awsmodel.Operation, err error) (w wireError, internal bool) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		c := authErrors[se.Reason]
		return wireError{Code: c.Name, Status: c.Status, Message: se.Message}, false
	}
	var ve *awsmodel.ValidationError
	if errors.As(err, &ve) {
		err = &fault.Error{Kind: fault.Invalid, Message: ve.Error(), Field: ve.Field()}
	}
	var te *awsmodel.TypeError
	if errors.As(err, &te) {
		err = &fault.Error{Kind: fault.Serialization, Message: te.Error(), Field: te.Path}
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		fe = &fault.Error{Kind: fault.Internal, Message: "An internal error occurred. The request ID identifies it in the server log."}
		internal = true
	}
	candidates := errorTable[service][fe.Kind]
	if len(candidates) == 0 {
		candidates = errorTable[service][fault.Internal]
	}
	c := candidates[0]
	if op != nil {
		for _, cand := range candidates {
			if op.Models(cand.Name) {
				c = cand
				break
			}
		}
	}
	return wireError{Code: c.Name, Status: c.Status, Message: fe.Message, Resource: fe.Resource, ResourceType: fe.ResourceType}, internal
}

// statusOrDefault guards against a table entry without a status.
func statusOrDefault(s int) int {
	if s == 0 {
		return http.StatusBadRequest
	}
	return s
}
