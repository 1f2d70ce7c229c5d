package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestS3API(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.s3(opts("eu-west-1"))
	ctx := context.Background()
	createBucket(t, c, "data")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")})
	var owned *s3types.BucketAlreadyOwnedByYou
	if !errors.As(err, &owned) {
		t.Fatalf("second create: %v", err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	apiError(t, err, "InvalidBucketName")
	buckets, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 1 || aws.ToString(buckets.Buckets[0].Name) != "data" {
		t.Fatalf("buckets %v %+v", err, buckets)
	}
	// Other accounts own their buckets' listing.
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt", "dir/with space/é.txt"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(k), Body: strings.NewReader("body of " + k),
			Metadata: map[string]string{"origin": "test"}, Tagging: aws.String("a=1&b=2")}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	body, out := getObject(t, c, "data", "dir/with space/é.txt")
	if body != "body of dir/with space/é.txt" || out.Metadata["origin"] != "test" || aws.ToInt32(out.TagCount) != 2 {
		t.Fatalf("get %q %+v", body, out)
	}
	rng, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("c.txt"), Range: aws.String("bytes=3-6")})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rng.Body); string(b) != "y of" {
		t.Fatalf("range %q", b)
	}
	// Paging and delimiters.
	var keys []string
	var token *string
	for {
		page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data"), MaxKeys: aws.Int32(2), ContinuationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		token = page.NextContinuationToken
	}
	if strings.Join(keys, ",") != "a/1.txt,a/2.txt,a/b/3.txt,c.txt,dir/with space/é.txt" {
		t.Fatalf("paged keys %v", keys)
	}
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("data"), Prefix: aws.String("a/"), MaxKeys: aws.Int32(2)})
	if err != nil || len(v1.Contents) != 2 || !aws.ToBool(v1.IsTruncated) || aws.ToString(v1.NextMarker) != "a/2.txt" {
		t.Fatalf("list v1 %v %+v", err, v1)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("data")})
	if err != nil || loc.LocationConstraint != "eu-west-1" {
		t.Fatalf("location %v %+v", err, loc)
	}
	d, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data"), Prefix: aws.String("a/"), Delimiter: aws.String("/")})
	if err != nil || len(d.Contents) != 2 || len(d.CommonPrefixes) != 1 || aws.ToString(d.CommonPrefixes[0].Prefix) != "a/b/" {
		t.Fatalf("delimited %v %+v", err, d)
	}
	// Copy, conditional copy, delete-objects.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("data"), Key: aws.String("copy.txt"), CopySource: aws.String("data/c.txt")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("data"), Key: aws.String("copy2.txt"), CopySource: aws.String("data/c.txt"), CopySourceIfMatch: aws.String(`"0000"`)})
	apiError(t, err, "PreconditionFailed")
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("data"), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("a/1.txt")}, {Key: aws.String("a/2.txt")}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("a/1.txt")})
	var nsk *s3types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Fatalf("deleted key: %v", err)
	}
	// Multipart upload.
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("data"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	part1, part2 := bytes.Repeat([]byte("x"), 5<<20), []byte("tail")
	var parts []s3types.CompletedPart
	for i, p := range [][]byte{part1, part2} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("data"), Key: aws.String("big.bin"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("data"), Key: aws.String("big.bin"), UploadId: mp.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	if err != nil || !strings.HasSuffix(aws.ToString(done.ETag), `-2"`) {
		t.Fatalf("complete %v %+v", err, done)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("big.bin")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(part1)+len(part2)) {
		t.Fatalf("head %v %+v", err, head)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("data"), Key: aws.String("big.bin"), UploadId: mp.UploadId, PartNumber: aws.Int32(3), Body: bytes.NewReader(part2)})
	apiError(t, err, "NoSuchUpload")
	// A non-empty bucket stays; a wrong secret is refused.
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("data")})
	apiError(t, err, "BucketNotEmpty")
	bad := s.s3(clientOpts{region: "eu-west-1", key: "test", secret: "wrong"})
	_, err = bad.ListBuckets(ctx, &s3.ListBucketsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("bad secret: %v", err)
	}
}
