package imagebuilder

import (
	"context"
	"errors"
	"strings"

	"github.com/slipway-dev/slipway/internal/fault"
)

// ErrNoSuchBucket and ErrNoSuchKey are what a ReadS3 function returns for
// a missing bucket or object.
var (
	ErrNoSuchBucket = errors.New("NoSuchBucket")
	ErrNoSuchKey    = errors.New("NoSuchKey")
	// ErrTooLarge is returned for an object larger than the limit asked.
	ErrTooLarge = errors.New("document too large")
)

// maxDocument bounds a document read from S3 (component, workflow and
// Dockerfile documents are kilobytes; the model caps inline data at 16,000
// characters for components).
const maxDocument = 16 << 20

// document returns a request's document: data given inline, or the object
// an s3://bucket/key uri names, read through s.ReadS3. Exactly one of the
// two must be given (dataField and uriField name them in errors).
func (s *Service) document(ctx context.Context, dataField, data, uriField, uri string) (string, error) {
	switch {
	case data != "" && uri != "":
		return "", fault.New(fault.InvalidCombination, "You must specify either '%s' or '%s', but not both.", dataField, uriField)
	case data == "" && uri == "":
		return "", fault.New(fault.InvalidCombination, "You must specify either '%s' or '%s'.", dataField, uriField)
	case data != "":
		return data, nil
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
	if !strings.HasPrefix(uri, "s3://") || !ok || bucket == "" || key == "" {
		return "", fault.InvalidField(uriField, "'%s' is not an S3 URI of the form s3://bucket/key.", uri)
	}
	if s.ReadS3 == nil {
		return "", fault.InvalidField(uriField, "No S3 storage is configured to read '%s' from.", uri)
	}
	b, err := s.ReadS3(ctx, bucket, key, maxDocument)
	switch {
	case errors.Is(err, ErrNoSuchBucket):
		return "", fault.InvalidField(uriField, "The document '%s' could not be read: the bucket '%s' does not exist (NoSuchBucket).", uri, bucket)
	case errors.Is(err, ErrNoSuchKey):
		return "", fault.InvalidField(uriField, "The document '%s' could not be read: the object does not exist (NoSuchKey).", uri)
	case errors.Is(err, ErrTooLarge):
		return "", fault.InvalidField(uriField, "The document '%s' is larger than %d bytes.", uri, maxDocument)
	case err != nil:
		return "", err
	case len(b) == 0:
		return "", fault.InvalidField(uriField, "The document '%s' is empty.", uri)
	}
	return string(b), nil
}
