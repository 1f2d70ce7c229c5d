// Package objstore is where Transfer Family's S3-domain files live: Slipway's
// own buckets (object bytes as files under the data dir, their metadata in
// the store) or, with --s3-endpoint, any S3-compatible service.
package objstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors every implementation returns.
var (
	ErrNoSuchBucket     = errors.New("objstore: no such bucket")
	ErrNoSuchKey        = errors.New("objstore: no such key")
	ErrBucketExists     = errors.New("objstore: bucket already exists")
	ErrBucketNotEmpty   = errors.New("objstore: bucket not empty")
	ErrPreconditionETag = errors.New("objstore: the object's ETag does not match")
)

// Bucket is a bucket.
type Bucket struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Region  string    `json:"region"`
	Created time.Time `json:"created"`
}

// Object is an object's metadata.
type Object struct {
	Bucket       string            `json:"bucket"`
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // quoted, as S3 sends it
	LastModified time.Time         `json:"lastModified"`
	ContentType  string            `json:"contentType,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Blob         string            `json:"blob,omitempty"` // local file name
}

// PutOptions are an upload's attributes.
type PutOptions struct {
	ContentType string
	Metadata    map[string]string
	Tags        map[string]string
}

// Listing is one page of ListObjects.
type Listing struct {
	Objects        []Object
	CommonPrefixes []string
	Truncated      bool
	// Next is the last key or common prefix returned, to continue after.
	Next string
}

// Writer is an upload in progress: Write appends, Commit makes the object
// visible in one step, Abort discards it.
type Writer interface {
	io.Writer
	Commit(ctx context.Context) (*Object, error)
	Abort()
}

// Reader reads an object.
type Reader interface {
	io.ReaderAt
	io.Reader
	io.Closer
}

// Store holds buckets and objects.
type Store interface {
	CreateBucket(ctx context.Context, b Bucket) error
	HeadBucket(ctx context.Context, name string) (*Bucket, error)
	DeleteBucket(ctx context.Context, name string) error
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// Create starts an upload of bucket/key; the bucket must exist.
	Create(ctx context.Context, bucket, key string, opts PutOptions) (Writer, error)
	Head(ctx context.Context, bucket, key string) (*Object, error)
	Open(ctx context.Context, bucket, key string) (*Object, Reader, error)
	Delete(ctx context.Context, bucket, key string) error
	// List lists keys with prefix after a key, grouping at delimiter.
	List(ctx context.Context, bucket, prefix, delimiter, after string, max int) (*Listing, error)
	// Copy copies an object; ifETag, when set, must match the source.
	Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey, ifETag string, opts *PutOptions) (*Object, error)
	Tags(ctx context.Context, bucket, key string) (map[string]string, error)
	SetTags(ctx context.Context, bucket, key string, tags map[string]string) error
}
