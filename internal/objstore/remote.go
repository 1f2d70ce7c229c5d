package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Remote keeps Transfer files in an S3-compatible service (MinIO,
// LocalStack, moto's server, real S3) through aws-sdk-go-v2's s3 client.
type Remote struct {
	c   *s3.Client
	tmp string
}

var _ Store = (*Remote)(nil)

// NewRemote returns a store on the S3 endpoint, path-style, signing with
// creds in region. Uploads are spooled under tmp before they are sent.
func NewRemote(endpoint, region string, creds aws.Credentials, tmp string) (*Remote, error) {
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, err
	}
	cfg := aws.Config{Region: region, Credentials: credentials.StaticCredentialsProvider{Value: creds}}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	return &Remote{c: c, tmp: tmp}, nil
}

// remoteErr maps S3 errors to the store's.
func remoteErr(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return ErrNoSuchBucket
		case "NoSuchKey", "NotFound":
			return ErrNoSuchKey
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return ErrBucketExists
		case "BucketNotEmpty":
			return ErrBucketNotEmpty
		case "PreconditionFailed":
			return ErrPreconditionETag
		}
	}
	return err
}

// CreateBucket implements Store.
func (r *Remote) CreateBucket(ctx context.Context, b Bucket) error {
	_, err := r.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.Name)})
	return remoteErr(err)
}

// HeadBucket implements Store.
func (r *Remote) HeadBucket(ctx context.Context, name string) (*Bucket, error) {
	if _, err := r.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
		if e := remoteErr(err); errors.Is(e, ErrNoSuchKey) {
			return nil, ErrNoSuchBucket
		}
		return nil, remoteErr(err)
	}
	return &Bucket{Name: name}, nil
}

// DeleteBucket implements Store.
func (r *Remote) DeleteBucket(ctx context.Context, name string) error {
	_, err := r.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	return remoteErr(err)
}

// ListBuckets implements Store.
func (r *Remote) ListBuckets(ctx context.Context) ([]Bucket, error) {
	out, err := r.c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return nil, remoteErr(err)
	}
	bs := make([]Bucket, 0, len(out.Buckets))
	for _, b := range out.Buckets {
		bs = append(bs, Bucket{Name: aws.ToString(b.Name), Created: aws.ToTime(b.CreationDate)})
	}
	return bs, nil
}

type remoteWriter struct {
	r           *Remote
	f           *os.File
	bucket, key string
	opts        PutOptions
	done        bool
}

// Create implements Store: the bytes are spooled to a file and sent in one
// PutObject at Commit, so the object appears whole or not at all.
func (r *Remote) Create(ctx context.Context, bucket, key string, opts PutOptions) (Writer, error) {
	if _, err := r.HeadBucket(ctx, bucket); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(r.tmp, "up-")
	if err != nil {
		return nil, err
	}
	return &remoteWriter{r: r, f: f, bucket: bucket, key: key, opts: opts}, nil
}

func (w *remoteWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func tagQuery(tags map[string]string) *string {
	if len(tags) == 0 {
		return nil
	}
	v := url.Values{}
	for k, t := range tags {
		v.Set(k, t)
	}
	return aws.String(v.Encode())
}

func (w *remoteWriter) Commit(ctx context.Context) (*Object, error) {
	if w.done {
		return nil, errors.New("objstore: upload already finished")
	}
	w.done = true
	defer func() { w.f.Close(); os.Remove(w.f.Name()) }()
	size, err := w.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	in := &s3.PutObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(w.key), Body: w.f, ContentLength: aws.Int64(size),
		Metadata: w.opts.Metadata, Tagging: tagQuery(w.opts.Tags)}
	if w.opts.ContentType != "" {
		in.ContentType = aws.String(w.opts.ContentType)
	}
	if _, err := w.r.c.PutObject(ctx, in); err != nil {
		return nil, remoteErr(err)
	}
	return w.r.Head(ctx, w.bucket, w.key)
}

func (w *remoteWriter) Abort() {
	if !w.done {
		w.done = true
		w.f.Close()
		os.Remove(w.f.Name())
	}
}

// Head implements Store.
func (r *Remote) Head(ctx context.Context, bucket, key string) (*Object, error) {
	out, err := r.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if e := remoteErr(err); errors.Is(e, ErrNoSuchKey) {
			if _, berr := r.HeadBucket(ctx, bucket); berr != nil {
				return nil, berr
			}
		}
		return nil, remoteErr(err)
	}
	return &Object{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified), ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata}, nil
}

// remoteReader reads an object with ranged GETs.
type remoteReader struct {
	r           *Remote
	bucket, key string
	size, off   int64
}

func (rr *remoteReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= rr.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), rr.size) - 1
	out, err := rr.r.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(rr.bucket), Key: aws.String(rr.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
	if err != nil {
		return 0, remoteErr(err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p[:end-off+1])
	if err == nil && int64(n) < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

func (rr *remoteReader) Read(p []byte) (int, error) {
	n, err := rr.ReadAt(p, rr.off)
	rr.off += int64(n)
	return n, err
}

func (rr *remoteReader) Close() error { return nil }

// Open implements Store.
func (r *Remote) Open(ctx context.Context, bucket, key string) (*Object, Reader, error) {
	o, err := r.Head(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	return o, &remoteReader{r: r, bucket: bucket, key: key, size: o.Size}, nil
}

// Delete implements Store.
func (r *Remote) Delete(ctx context.Context, bucket, key string) error {
	_, err := r.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return remoteErr(err)
}

// List implements Store.
func (r *Remote) List(ctx context.Context, bucket, prefix, delimiter, after string, max int) (*Listing, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(int32(max))}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	out, err := r.c.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, remoteErr(err)
	}
	l := &Listing{Truncated: aws.ToBool(out.IsTruncated)}
	for _, o := range out.Contents {
		l.Objects = append(l.Objects, Object{Bucket: bucket, Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), LastModified: aws.ToTime(o.LastModified)})
	}
	for _, p := range out.CommonPrefixes {
		l.CommonPrefixes = append(l.CommonPrefixes, aws.ToString(p.Prefix))
	}
	// Continue after the greatest name returned, key or prefix.
	names := append([]string{}, l.CommonPrefixes...)
	for _, o := range l.Objects {
		names = append(names, o.Key)
	}
	sort.Strings(names)
	if len(names) > 0 {
		l.Next = names[len(names)-1]
		if strings.HasSuffix(l.Next, delimiter) && delimiter != "" {
			l.Next += "\xff"
		}
	}
	return l, nil
}

// Copy implements Store.
func (r *Remote) Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey, ifETag string, opts *PutOptions) (*Object, error) {
	in := &s3.CopyObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(dstKey), CopySource: aws.String(url.PathEscape(srcBucket) + "/" + escapeKey(srcKey))}
	if ifETag != "" {
		in.CopySourceIfMatch = aws.String(ifETag)
	}
	if opts != nil {
		in.MetadataDirective = s3types.MetadataDirectiveReplace
		in.Metadata = opts.Metadata
		if opts.ContentType != "" {
			in.ContentType = aws.String(opts.ContentType)
		}
	}
	if _, err := r.c.CopyObject(ctx, in); err != nil {
		return nil, remoteErr(err)
	}
	return r.Head(ctx, dstBucket, dstKey)
}

func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Tags implements Store.
func (r *Remote) Tags(ctx context.Context, bucket, key string) (map[string]string, error) {
	out, err := r.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, remoteErr(err)
	}
	m := map[string]string{}
	for _, t := range out.TagSet {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m, nil
}

// SetTags implements Store.
func (r *Remote) SetTags(ctx context.Context, bucket, key string, tags map[string]string) error {
	set := make([]s3types.Tag, 0, len(tags))
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := r.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), Tagging: &s3types.Tagging{TagSet: set}})
	return remoteErr(err)
}
