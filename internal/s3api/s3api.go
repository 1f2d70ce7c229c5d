// Package s3api serves the subset of the S3 REST API that lets SDKs, the aws
// CLI and Lambda code read, write and tag the objects Transfer users upload:
// buckets, objects, ListObjectsV2, copy, multipart upload and object tagging,
// path-style, on Slipway's own port for requests signed for service s3.
package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/objstore"
	"github.com/slipway-dev/slipway/internal/sigv4"
)

// Server serves the S3 API over a local object store.
type Server struct {
	objects  *objstore.Local
	verifier *sigv4.Verifier
	log      *slog.Logger
}

// New returns the S3 API.
func New(objects *objstore.Local, v *sigv4.Verifier, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{objects: objects, verifier: v, log: log}
}

// Signed reports whether r is signed for service s3 (so it is an S3 call).
func Signed(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Credential=")
	if i < 0 {
		return false
	}
	parts := strings.Split(strings.SplitN(a[i+len("Credential="):], ",", 2)[0], "/")
	return len(parts) == 5 && parts[3] == "s3"
}

// s3Error is an S3 error response.
type s3Error struct {
	Status  int
	Code    string
	Message string
}

func (e *s3Error) Error() string { return e.Message }

func errorFor(err error) *s3Error {
	var se *s3Error
	var ve *sigv4.Error
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &ve):
		if ve.Reason == sigv4.UnknownKey {
			return &s3Error{403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."}
		}
		if ve.Reason == sigv4.Mismatch {
			return &s3Error{403, "SignatureDoesNotMatch", ve.Message}
		}
		return &s3Error{403, "AccessDenied", ve.Message}
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return &s3Error{404, "NoSuchBucket", "The specified bucket does not exist"}
	case errors.Is(err, objstore.ErrNoSuchKey):
		return &s3Error{404, "NoSuchKey", "The specified key does not exist."}
	case errors.Is(err, objstore.ErrBucketExists):
		return &s3Error{409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it."}
	case errors.Is(err, objstore.ErrBucketNotEmpty):
		return &s3Error{409, "BucketNotEmpty", "The bucket you tried to delete is not empty"}
	case errors.Is(err, objstore.ErrNoSuchUpload):
		return &s3Error{404, "NoSuchUpload", "The specified upload does not exist."}
	case errors.Is(err, objstore.ErrInvalidPart):
		return &s3Error{400, "InvalidPart", "One or more of the specified parts could not be found."}
	case errors.Is(err, objstore.ErrPreconditionETag):
		return &s3Error{412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"}
	}
	return &s3Error{500, "InternalError", "We encountered an internal error. Please try again."}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	e := errorFor(err)
	if e.Status >= 500 {
		s.log.Error("s3 request failed", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "error", err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
	}{Code: e.Code, Message: e.Message, Resource: r.URL.Path, RequestID: reqID})
}

func writeXML(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := strings.ToUpper(ids.Hex(16))
	w.Header().Set("x-amz-request-id", reqID)
	res, err := s.verifier.VerifyS3(r)
	if err != nil {
		s.fail(w, r, reqID, err)
		return
	}
	body, err := s.payload(r)
	if err != nil {
		s.fail(w, r, reqID, err)
		return
	}
	c := &call{s: s, w: w, r: r, body: body, account: res.Account, region: res.Region, q: r.URL.Query()}
	c.bucket, c.key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if err := c.route(); err != nil {
		s.fail(w, r, reqID, err)
	}
}

type call struct {
	s               *Server
	w               http.ResponseWriter
	r               *http.Request
	body            *payloadReader
	account, region string
	bucket, key     string
	q               url.Values
}

func (c *call) ctx() context.Context { return c.r.Context() }

func (c *call) route() error {
	m := c.r.Method
	switch {
	case c.bucket == "" && m == http.MethodGet:
		return c.listBuckets()
	case c.bucket == "":
		return &s3Error{405, "MethodNotAllowed", "The specified method is not allowed against this resource."}
	case c.key == "":
		switch {
		case m == http.MethodPut:
			return c.createBucket()
		case m == http.MethodHead:
			_, err := c.s.objects.HeadBucket(c.ctx(), c.bucket)
			return c.ok(err)
		case m == http.MethodDelete:
			err := c.s.objects.DeleteBucket(c.ctx(), c.bucket)
			return c.noContent(err)
		case m == http.MethodGet && c.q.Has("location"):
			return c.location()
		case m == http.MethodGet:
			return c.listObjects()
		case m == http.MethodPost && c.q.Has("delete"):
			return c.deleteObjects()
		}
	default:
		switch {
		case c.q.Has("tagging"):
			return c.tagging()
		case m == http.MethodPost && c.q.Has("uploads"):
			return c.createMultipart()
		case m == http.MethodPost && c.q.Has("uploadId"):
			return c.completeMultipart()
		case m == http.MethodPut && c.q.Has("uploadId"):
			return c.uploadPart()
		case m == http.MethodDelete && c.q.Has("uploadId"):
			return c.noContent(c.s.objects.AbortMultipart(c.ctx(), c.q.Get("uploadId")))
		case m == http.MethodPut && c.r.Header.Get("X-Amz-Copy-Source") != "":
			return c.copyObject()
		case m == http.MethodPut:
			return c.putObject()
		case m == http.MethodGet || m == http.MethodHead:
			return c.getObject()
		case m == http.MethodDelete:
			return c.noContent(c.s.objects.Delete(c.ctx(), c.bucket, c.key))
		}
	}
	return &s3Error{501, "NotImplemented", "Slipway does not implement this S3 operation."}
}

func (c *call) ok(err error) error {
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (c *call) noContent(err error) error {
	if err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

type owner struct {
	ID          string
	DisplayName string
}

func (c *call) listBuckets() error {
	buckets, err := c.s.objects.ListBuckets(c.ctx())
	if err != nil {
		return err
	}
	type bucket struct {
		Name         string
		CreationDate string
	}
	out := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   owner
		Buckets []bucket `xml:"Buckets>Bucket"`
	}{Xmlns: xmlns, Owner: owner{ID: c.account, DisplayName: c.account}}
	for _, b := range buckets {
		if b.Owner == c.account {
			out.Buckets = append(out.Buckets, bucket{Name: b.Name, CreationDate: b.Created.Format(time.RFC3339)})
		}
	}
	writeXML(c.w, out)
	return nil
}

func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i, ch := range name {
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9':
		case (ch == '-' || ch == '.') && i > 0 && i < len(name)-1:
		default:
			return false
		}
	}
	return true
}

func (c *call) createBucket() error {
	if !validBucket(c.bucket) {
		return &s3Error{400, "InvalidBucketName", "The specified bucket is not valid."}
	}
	b, err := c.s.objects.HeadBucket(c.ctx(), c.bucket)
	if err == nil {
		if b.Owner != c.account {
			return &s3Error{409, "BucketAlreadyExists", "The requested bucket name is not available."}
		}
		return objstore.ErrBucketExists
	}
	err = c.s.objects.CreateBucket(c.ctx(), objstore.Bucket{Name: c.bucket, Owner: c.account, Region: c.region, Created: time.Now().UTC()})
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", "/"+c.bucket)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (c *call) location() error {
	b, err := c.s.objects.HeadBucket(c.ctx(), c.bucket)
	if err != nil {
		return err
	}
	region := b.Region
	if region == "us-east-1" {
		region = ""
	}
	writeXML(c.w, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{Xmlns: xmlns, Value: region})
	return nil
}

type listedObject struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

func (c *call) listObjects() error {
	v2 := c.q.Get("list-type") == "2"
	max := 1000
	if m := c.q.Get("max-keys"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return &s3Error{400, "InvalidArgument", "max-keys must be a non-negative integer"}
		}
		max = min(n, 1000)
	}
	after := c.q.Get("marker")
	if v2 {
		after = c.q.Get("start-after")
		if t := c.q.Get("continuation-token"); t != "" {
			after = t
		}
	}
	prefix, delim := c.q.Get("prefix"), c.q.Get("delimiter")
	page := &objstore.Listing{}
	var err error
	if max > 0 {
		page, err = c.s.objects.List(c.ctx(), c.bucket, prefix, delim, after, max)
	} else {
		_, err = c.s.objects.HeadBucket(c.ctx(), c.bucket)
	}
	if err != nil {
		return err
	}
	type cp struct{ Prefix string }
	out := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Xmlns                 string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		Delimiter             string `xml:",omitempty"`
		MaxKeys               int
		KeyCount              int    `xml:",omitempty"`
		Marker                string `xml:",omitempty"`
		NextMarker            string `xml:",omitempty"`
		ContinuationToken     string `xml:",omitempty"`
		NextContinuationToken string `xml:",omitempty"`
		StartAfter            string `xml:",omitempty"`
		IsTruncated           bool
		Contents              []listedObject
		CommonPrefixes        []cp
	}{Xmlns: xmlns, Name: c.bucket, Prefix: prefix, Delimiter: delim, MaxKeys: max, IsTruncated: page.Truncated}
	for _, o := range page.Objects {
		out.Contents = append(out.Contents, listedObject{Key: o.Key, LastModified: o.LastModified.Format("2006-01-02T15:04:05.000Z"), ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD"})
	}
	for _, p := range page.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, cp{p})
	}
	if v2 {
		out.KeyCount = len(page.Objects) + len(page.CommonPrefixes)
		out.ContinuationToken, out.StartAfter = c.q.Get("continuation-token"), c.q.Get("start-after")
		if page.Truncated {
			out.NextContinuationToken = page.Next
		}
	} else {
		out.Marker = c.q.Get("marker")
		if page.Truncated {
			out.NextMarker = page.Next
		}
	}
	writeXML(c.w, out)
	return nil
}

func (c *call) deleteObjects() error {
	var in struct {
		Quiet   bool
		Objects []struct{ Key string } `xml:"Object"`
	}
	if err := xml.NewDecoder(c.body).Decode(&in); err != nil {
		return &s3Error{400, "MalformedXML", "The XML you provided was not well-formed."}
	}
	type deleted struct{ Key string }
	out := struct {
		XMLName xml.Name `xml:"DeleteResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Deleted []deleted
	}{Xmlns: xmlns}
	for _, o := range in.Objects {
		if err := c.s.objects.Delete(c.ctx(), c.bucket, o.Key); err != nil {
			return err
		}
		if !in.Quiet {
			out.Deleted = append(out.Deleted, deleted{o.Key})
		}
	}
	writeXML(c.w, out)
	return nil
}

// putOptions reads content type, user metadata and tags from headers.
func (c *call) putOptions() (objstore.PutOptions, error) {
	o := objstore.PutOptions{ContentType: c.r.Header.Get("Content-Type"), Metadata: map[string]string{}}
	for k, v := range c.r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			o.Metadata[name] = v[0]
		}
	}
	if t := c.r.Header.Get("X-Amz-Tagging"); t != "" {
		vals, err := url.ParseQuery(t)
		if err != nil {
			return o, &s3Error{400, "InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."}
		}
		o.Tags = map[string]string{}
		for k, v := range vals {
			o.Tags[k] = v[0]
		}
		if err := checkTags(o.Tags); err != nil {
			return o, err
		}
	}
	return o, nil
}

func (c *call) putObject() error {
	opts, err := c.putOptions()
	if err != nil {
		return err
	}
	w, err := c.s.objects.Create(c.ctx(), c.bucket, c.key, opts)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, c.body); err != nil {
		w.Abort()
		return err
	}
	if err := c.body.verify(); err != nil {
		w.Abort()
		return err
	}
	o, err := w.Commit(c.ctx())
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", o.ETag)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (c *call) copyObject() error {
	src, err := url.PathUnescape(strings.TrimPrefix(c.r.Header.Get("X-Amz-Copy-Source"), "/"))
	if err != nil {
		return &s3Error{400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"}
	}
	src, _, _ = strings.Cut(src, "?")
	sb, sk, ok := strings.Cut(src, "/")
	if !ok || sk == "" {
		return &s3Error{400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"}
	}
	var opts *objstore.PutOptions
	if c.r.Header.Get("X-Amz-Metadata-Directive") == "REPLACE" {
		o, err := c.putOptions()
		if err != nil {
			return err
		}
		opts = &o
	}
	o, err := c.s.objects.Copy(c.ctx(), sb, sk, c.bucket, c.key, c.r.Header.Get("X-Amz-Copy-Source-If-Match"), opts)
	if err != nil {
		return err
	}
	writeXML(c.w, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		Xmlns        string   `xml:"xmlns,attr"`
		LastModified string
		ETag         string
	}{Xmlns: xmlns, LastModified: o.LastModified.Format("2006-01-02T15:04:05.000Z"), ETag: o.ETag})
	return nil
}

func (c *call) getObject() error {
	o, rd, err := c.s.objects.Open(c.ctx(), c.bucket, c.key)
	if err != nil {
		return err
	}
	defer rd.Close()
	if m := c.r.Header.Get("If-Match"); m != "" && strings.Trim(m, `"`) != strings.Trim(o.ETag, `"`) {
		return errorFor(objstore.ErrPreconditionETag)
	}
	if m := c.r.Header.Get("If-None-Match"); m != "" && strings.Trim(m, `"`) == strings.Trim(o.ETag, `"`) {
		c.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h := c.w.Header()
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.LastModified.Format(http.TimeFormat))
	h.Set("Content-Type", o.ContentType)
	h.Set("Accept-Ranges", "bytes")
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h["x-amz-meta-"+k] = []string{o.Metadata[k]} // S3 keeps metadata names lowercase
	}
	if len(o.Tags) > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(len(o.Tags)))
	}
	start, end := int64(0), o.Size-1
	status := http.StatusOK
	if rg := c.r.Header.Get("Range"); rg != "" && o.Size > 0 {
		s, e, ok := parseRange(rg, o.Size)
		if !ok {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", o.Size))
			return &s3Error{416, "InvalidRange", "The requested range is not satisfiable"}
		}
		start, end, status = s, e, http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, e, o.Size))
	}
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	c.w.WriteHeader(status)
	if c.r.Method == http.MethodHead {
		return nil
	}
	_, _ = io.Copy(c.w, io.NewSectionReader(rd, start, end-start+1))
	return nil
}

// parseRange reads "bytes=a-b", "bytes=a-" or "bytes=-n".
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s >= size || s < 0 {
		return 0, 0, false
	}
	e := size - 1
	if b != "" {
		if e, err = strconv.ParseInt(b, 10, 64); err != nil || e < s {
			return 0, 0, false
		}
		e = min(e, size-1)
	}
	return s, e, true
}

type tagSet struct {
	Tags []struct {
		Key   string
		Value string
	} `xml:"TagSet>Tag"`
}

func checkTags(tags map[string]string) error {
	if len(tags) > 10 {
		return &s3Error{400, "BadRequest", "Object tags cannot be greater than 10"}
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return &s3Error{400, "InvalidTag", "The TagKey you have provided is invalid"}
		}
	}
	return nil
}

func (c *call) tagging() error {
	switch c.r.Method {
	case http.MethodGet:
		tags, err := c.s.objects.Tags(c.ctx(), c.bucket, c.key)
		if err != nil {
			return err
		}
		type tag struct{ Key, Value string }
		out := struct {
			XMLName xml.Name `xml:"Tagging"`
			Xmlns   string   `xml:"xmlns,attr"`
			TagSet  []tag    `xml:"TagSet>Tag"`
		}{Xmlns: xmlns, TagSet: []tag{}}
		for k, v := range tags {
			out.TagSet = append(out.TagSet, tag{k, v})
		}
		sort.Slice(out.TagSet, func(i, j int) bool { return out.TagSet[i].Key < out.TagSet[j].Key })
		writeXML(c.w, out)
		return nil
	case http.MethodPut:
		var in tagSet
		if err := xml.NewDecoder(c.body).Decode(&in); err != nil {
			return &s3Error{400, "MalformedXML", "The XML you provided was not well-formed."}
		}
		tags := map[string]string{}
		for _, t := range in.Tags {
			if _, dup := tags[t.Key]; dup {
				return &s3Error{400, "InvalidTag", "Cannot provide multiple Tags with the same key"}
			}
			tags[t.Key] = t.Value
		}
		if err := checkTags(tags); err != nil {
			return err
		}
		return c.ok(c.s.objects.SetTags(c.ctx(), c.bucket, c.key, tags))
	case http.MethodDelete:
		return c.noContent(c.s.objects.SetTags(c.ctx(), c.bucket, c.key, nil))
	}
	return &s3Error{405, "MethodNotAllowed", "The specified method is not allowed against this resource."}
}

func (c *call) createMultipart() error {
	opts, err := c.putOptions()
	if err != nil {
		return err
	}
	id, err := c.s.objects.CreateMultipart(c.ctx(), c.bucket, c.key, opts)
	if err != nil {
		return err
	}
	writeXML(c.w, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Bucket   string
		Key      string
		UploadID string `xml:"UploadId"`
	}{Xmlns: xmlns, Bucket: c.bucket, Key: c.key, UploadID: id})
	return nil
}

func (c *call) uploadPart() error {
	n, err := strconv.Atoi(c.q.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return &s3Error{400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"}
	}
	etag, err := c.s.objects.UploadPart(c.ctx(), c.q.Get("uploadId"), n, c.body)
	if err != nil {
		return err
	}
	if err := c.body.verify(); err != nil {
		return err
	}
	c.w.Header().Set("ETag", etag)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (c *call) completeMultipart() error {
	var in struct {
		Parts []struct {
			PartNumber int
			ETag       string
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(c.body).Decode(&in); err != nil || len(in.Parts) == 0 {
		return &s3Error{400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"}
	}
	parts := make([]objstore.CompletedPart, 0, len(in.Parts))
	for i, p := range in.Parts {
		if i > 0 && p.PartNumber <= in.Parts[i-1].PartNumber {
			return &s3Error{400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number."}
		}
		parts = append(parts, objstore.CompletedPart{Number: p.PartNumber, ETag: p.ETag})
	}
	o, err := c.s.objects.CompleteMultipart(c.ctx(), c.q.Get("uploadId"), parts)
	if err != nil {
		return err
	}
	writeXML(c.w, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Xmlns    string   `xml:"xmlns,attr"`
		Location string
		Bucket   string
		Key      string
		ETag     string
	}{Xmlns: xmlns, Location: "/" + c.bucket + "/" + c.key, Bucket: c.bucket, Key: c.key, ETag: o.ETag})
	return nil
}

// Elsewhere answers S3 requests when Transfer files live in another S3
// service (--s3-endpoint): the client is told where to go.
func Elsewhere(endpoint string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &Server{log: slog.New(slog.DiscardHandler)}
		s.fail(w, r, strings.ToUpper(ids.Hex(16)), &s3Error{501, "NotImplemented",
			"This Slipway keeps Transfer files in " + endpoint + " (--s3-endpoint); send S3 requests there."})
	})
}
