package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/engine"
	"github.com/slipway-dev/slipway/internal/lambda"
	"github.com/slipway-dev/slipway/internal/objstore"
	"github.com/slipway-dev/slipway/internal/store"
)

// stepOutcome is what running a step produced: the file it hands on (nil:
// ${previous.file} stays), its Outputs, or its error; wait, for a CUSTOM
// step whose Lambda was invoked, starts the wait for the callback.
type stepOutcome struct {
	file    *File
	outputs string
	err     *ExecutionError
	wait    *Invocation
}

func stepFailed(typ, format string, args ...any) stepOutcome {
	return stepOutcome{err: &ExecutionError{Type: typ, Message: fmt.Sprintf(format, args...)}}
}

// defaultCustomTimeout is a CUSTOM step's timeout when the workflow sets
// none (AWS does not document one; the model's maximum is 1800).
const defaultCustomTimeout = 1800

// RegisterEngine installs the execution handlers on the engine.
func (s *Service) RegisterEngine(e *engine.Engine) {
	e.Register(itemRun, s.runStep)
	e.Register(itemTimeout, s.timeoutStep)
}

// loadExecution reads the execution an item is about, and whether the item
// is still current (no transition happened since it was queued).
func (s *Service) loadExecution(ctx context.Context, it engine.Item) (*Execution, bool, error) {
	var p itemPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return nil, false, err
	}
	var ex Execution
	found := false
	err := s.store.View(ctx, func(tx store.Tx) error {
		_, err := getRecord(tx, it.Scope, kindExecution, strings.TrimPrefix(it.ID, "transfer.exec:"), &ex, func() error { return nil })
		found = err == nil && ex.ExecutionID != ""
		return err
	})
	if err != nil || !found {
		return nil, false, err
	}
	return &ex, ex.Seq == p.Seq, nil
}

// commitOutcome applies a step's outcome if the execution is still where the
// handler found it.
func (s *Service) commitOutcome(scope store.Scope, id string, seq int, out stepOutcome) func(tx store.Tx) error {
	return func(tx store.Tx) error {
		var ex Execution
		rec, err := getRecord(tx, scope, kindExecution, id, &ex, func() error { return store.ErrNotFound })
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if ex.Seq != seq {
			return nil // answered or ended meanwhile
		}
		now := s.now().UTC()
		if out.wait == nil {
			return s.finishStep(tx, scope, rec, &ex, out, now)
		}
		deadline := out.wait.Deadline
		ex.Deadline = &deadline
		if err := putBody(tx, rec, &ex, now); err != nil {
			return err
		}
		if err := putInvocation(tx, out.wait, now); err != nil {
			return err
		}
		payload, _ := json.Marshal(itemPayload{Seq: ex.Seq})
		return engine.Enqueue(tx, engine.Item{ID: execItemID(id), Type: itemTimeout, Scope: scope, Payload: payload, Due: deadline})
	}
}

// runStep does the current step's work outside any transaction; its commit
// records the outcome. Effects are idempotent or keyed to the step, so a
// step repeated after a crash before its commit applies them once.
func (s *Service) runStep(ctx context.Context, it engine.Item) (func(store.Tx) error, error) {
	ex, current, err := s.loadExecution(ctx, it)
	if err != nil || !current {
		return nil, err
	}
	step, ok := ex.current()
	if !ok {
		return nil, nil
	}
	src := ex.source(step)
	retry := it.Attempt > 1
	var out stepOutcome
	switch step.Type {
	case StepCopy:
		out = s.copyStep(ctx, ex, step.CopyStepDetails, src, retry)
	case StepTag:
		out = s.tagStep(ctx, step.TagStepDetails, src)
	case StepDelete:
		out = s.deleteStep(ctx, src)
	case StepDecrypt:
		out = s.decryptStep(ctx, ex, step.DecryptStepDetails, src, retry)
	case StepCustom:
		out = s.customStep(ctx, it.Scope, ex, step.CustomStepDetails, src)
	default:
		out = stepFailed(ErrBadRequest, "Unknown step type %s.", step.Type)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err() // shutting down: the step runs again after restart
	}
	return s.commitOutcome(it.Scope, ex.ExecutionID, ex.Seq, out), nil
}

// timeoutStep fails a CUSTOM step still waiting at its deadline.
func (s *Service) timeoutStep(ctx context.Context, it engine.Item) (func(store.Tx) error, error) {
	ex, current, err := s.loadExecution(ctx, it)
	if err != nil || !current {
		return nil, err
	}
	step, _ := ex.current()
	secs := defaultCustomTimeout
	if step.CustomStepDetails != nil && step.CustomStepDetails.TimeoutSeconds > 0 {
		secs = step.CustomStepDetails.TimeoutSeconds
	}
	out := stepFailed(ErrTimeout, "The custom step received no callback within %d seconds.", secs)
	return s.commitOutcome(it.Scope, ex.ExecutionID, ex.Seq, out), nil
}

var variable = regexp.MustCompile(`(?i)\$\{transfer:(username|uploaddate)\}`)

// destinationKey expands ${transfer:UserName} and ${transfer:UploadDate}
// (either case) and keeps the file's name when the key is a folder.
func destinationKey(key string, ex *Execution, name string) string {
	key = variable.ReplaceAllStringFunc(key, func(m string) string {
		if strings.Contains(strings.ToLower(m), "username") {
			return ex.UserName
		}
		return ex.Created.UTC().Format("2006-01-02")
	})
	if key == "" || strings.HasSuffix(key, "/") {
		key += name
	}
	return key
}

func fileName(f File) string {
	if f.Domain == DomainEFS {
		return path.Base(f.Path)
	}
	return path.Base(f.Key)
}

func etagOf(o *objstore.Object) string { return strings.Trim(o.ETag, `"`) }

// objectError maps a storage failure to the execution error AWS reports.
func objectError(err error, f File) stepOutcome {
	switch {
	case errors.Is(err, objstore.ErrPreconditionETag):
		return stepFailed(ErrNotFound, "ETag constraint not met (Service: S3, Status Code: 412, Error Code: PreconditionFailed) for s3://%s/%s", f.Bucket, f.Key)
	case errors.Is(err, objstore.ErrNoSuchKey), errors.Is(err, fs.ErrNotExist):
		return stepFailed(ErrNotFound, "The file %s does not exist.", describeFile(f))
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return stepFailed(ErrNotFound, "The bucket %s does not exist.", f.Bucket)
	}
	return stepFailed(ErrInternal, "%v", err)
}

func describeFile(f File) string {
	if f.Domain == DomainEFS {
		return f.FileSystemID + f.Path
	}
	return "s3://" + f.Bucket + "/" + f.Key
}

func (s *Service) copyStep(ctx context.Context, ex *Execution, d *CopyStepDetails, src File, retry bool) stepOutcome {
	dst := d.DestinationFileLocation
	if src.Domain != DomainS3 || dst == nil || dst.S3FileLocation == nil {
		return stepFailed(ErrBadRequest, "COPY works between S3 locations only; copying across storage types is not supported.")
	}
	to := File{Domain: DomainS3, Bucket: dst.S3FileLocation.Bucket, Key: destinationKey(dst.S3FileLocation.Key, ex, fileName(src))}
	if err := s.sameRegion(ctx, src.Bucket, to.Bucket); err != nil {
		return *err
	}
	if d.OverwriteExisting != "TRUE" {
		if o, err := s.Objects.Head(ctx, to.Bucket, to.Key); err == nil {
			// A retry after a crash finds its own copy: the same bytes.
			if !(retry && etagOf(o) == src.ETag) {
				return stepFailed(ErrAlreadyExists, "The destination s3://%s/%s already exists and OverwriteExisting is FALSE.", to.Bucket, to.Key)
			}
			to.ETag = etagOf(o)
			return stepOutcome{file: &to}
		} else if !errors.Is(err, objstore.ErrNoSuchKey) {
			return objectError(err, to)
		}
	}
	o, err := s.Objects.Copy(ctx, src.Bucket, src.Key, to.Bucket, to.Key, `"`+src.ETag+`"`, nil)
	if err != nil {
		return objectError(err, src)
	}
	to.ETag = etagOf(o)
	return stepOutcome{file: &to}
}

// sameRegion refuses a copy between buckets of different regions, as S3
// answers such a workflow copy with a 400.
func (s *Service) sameRegion(ctx context.Context, from, to string) *stepOutcome {
	a, err := s.Objects.HeadBucket(ctx, from)
	if err != nil {
		out := objectError(err, File{Bucket: from})
		return &out
	}
	b, err := s.Objects.HeadBucket(ctx, to)
	if err != nil {
		out := objectError(err, File{Bucket: to})
		return &out
	}
	if a.Region != "" && b.Region != "" && a.Region != b.Region {
		out := stepFailed(ErrBadRequest, "The source bucket %s (%s) and destination bucket %s (%s) are in different regions.", from, a.Region, to, b.Region)
		return &out
	}
	return nil
}

// maxObjectTags is S3's limit of tags on one object.
const maxObjectTags = 10

func (s *Service) tagStep(ctx context.Context, d *TagStepDetails, src File) stepOutcome {
	if src.Domain != DomainS3 {
		return stepFailed(ErrBadRequest, "Cannot tag Efs file")
	}
	tags, err := s.Objects.Tags(ctx, src.Bucket, src.Key)
	if err != nil {
		return objectError(err, src)
	}
	if tags == nil {
		tags = map[string]string{}
	}
	// Adding the same tags again changes nothing, so a repeated step is
	// harmless.
	for _, t := range d.Tags {
		tags[t.Key] = t.Value
	}
	if len(tags) > maxObjectTags {
		return stepFailed(ErrBadRequest, "Object tags cannot be greater than %d (s3://%s/%s would have %d).", maxObjectTags, src.Bucket, src.Key, len(tags))
	}
	if err := s.Objects.SetTags(ctx, src.Bucket, src.Key, tags); err != nil {
		return objectError(err, src)
	}
	outputs, _ := json.Marshal(map[string]any{"tags": d.Tags})
	return stepOutcome{outputs: string(outputs)}
}

func (s *Service) deleteStep(ctx context.Context, src File) stepOutcome {
	if src.Domain == DomainEFS {
		root, rel, err := s.efsRoot(src)
		if err != nil {
			return objectError(err, src)
		}
		defer root.Close()
		// Deleting what is gone already is done (a repeated step).
		if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return objectError(err, src)
		}
		return stepOutcome{}
	}
	if err := s.Objects.Delete(ctx, src.Bucket, src.Key); err != nil {
		return objectError(err, src)
	}
	return stepOutcome{}
}

// efsRoot opens the file system of f as a confinement root and returns the
// path of f inside it.
func (s *Service) efsRoot(f File) (*os.Root, string, error) {
	if s.EFSDir == "" || f.FileSystemID == "" || strings.ContainsAny(f.FileSystemID, `/\`) {
		return nil, "", fs.ErrNotExist
	}
	root, err := os.OpenRoot(s.EFSDir + "/" + f.FileSystemID)
	if err != nil {
		return nil, "", err
	}
	rel := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
	if rel == "" {
		rel = "."
	}
	return root, rel, nil
}

// lambdaEvent is the event a CUSTOM step's function receives.
type lambdaEvent struct {
	Token           string `json:"token"`
	ServiceMetadata struct {
		ExecutionDetails struct {
			WorkflowID  string `json:"workflowId"`
			ExecutionID string `json:"executionId"`
		} `json:"executionDetails"`
		TransferDetails struct {
			SessionID string `json:"sessionId"`
			UserName  string `json:"userName"`
			ServerID  string `json:"serverId"`
		} `json:"transferDetails"`
	} `json:"serviceMetadata"`
	FileLocation map[string]any `json:"fileLocation"`
}

func (s *Service) customStep(ctx context.Context, scope store.Scope, ex *Execution, d *CustomStepDetails, src File) stepOutcome {
	var ev lambdaEvent
	ev.Token = ex.Token
	ev.ServiceMetadata.ExecutionDetails.WorkflowID = ex.WorkflowID
	ev.ServiceMetadata.ExecutionDetails.ExecutionID = ex.ExecutionID
	ev.ServiceMetadata.TransferDetails.SessionID = ex.SessionID
	ev.ServiceMetadata.TransferDetails.UserName = ex.UserName
	ev.ServiceMetadata.TransferDetails.ServerID = ex.ServerID
	if src.Domain == DomainEFS {
		ev.FileLocation = map[string]any{"domain": DomainEFS, "fileSystemId": src.FileSystemID, "path": src.Path}
	} else {
		ev.FileLocation = map[string]any{"domain": DomainS3, "bucket": src.Bucket, "key": src.Key, "eTag": src.ETag, "versionId": nil}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return stepFailed(ErrInternal, "%v", err)
	}
	secs := d.TimeoutSeconds
	if secs <= 0 {
		secs = defaultCustomTimeout
	}
	now := s.now().UTC()
	inv := &Invocation{Account: scope.Account, Region: scope.Region, WorkflowID: ex.WorkflowID, ExecutionID: ex.ExecutionID, StepName: d.Name,
		Target: d.Target, Token: ex.Token, Event: payload, Invoked: now, Deadline: now.Add(time.Duration(secs) * time.Second)}
	if s.Lambda == nil {
		inv.Delivery = "not invoked: " + lambda.ErrNoEndpoint.Error()
		return stepOutcome{wait: inv}
	}
	res, err := s.Lambda.Invoke(ctx, d.Target, scope.Region, payload, true)
	switch {
	case errors.Is(err, lambda.ErrNoEndpoint):
		// Nothing to call: the step waits, and its event is readable at
		// /_slipway/transfer/invocations.
		inv.Delivery = "not invoked: " + err.Error()
		return stepOutcome{wait: inv}
	case err != nil:
		return stepFailed(ErrInternal, "Lambda invocation of %s failed: %v", d.Target, err)
	case res.StatusCode >= 300:
		return stepFailed(invokeErrorType(res.StatusCode), "Lambda invocation of %s failed with status %d: %s", d.Target, res.StatusCode, strings.TrimSpace(string(res.Payload)))
	}
	inv.Delivery = fmt.Sprintf("%d from %s", res.StatusCode, res.URL)
	return stepOutcome{wait: inv}
}

// invokeErrorType maps an Invoke API status to an execution error type.
func invokeErrorType(status int) string {
	switch {
	case status == 401 || status == 403:
		return ErrPermissionDenied
	case status == 404:
		return ErrNotFound
	case status == 429:
		return ErrThrottled
	case status < 500:
		return ErrBadRequest
	}
	return ErrInternal
}

// copyTo writes r to an S3 object or EFS file at to, refusing an existing
// target unless overwrite; sameAs, when the target exists with that ETag on
// a retry, counts as this step's own earlier write.
func (s *Service) writeFile(ctx context.Context, ex *Execution, to File, r io.Reader, overwrite bool) (*File, *stepOutcome) {
	if to.Domain == DomainEFS {
		root, rel, err := s.efsRoot(to)
		if err != nil {
			out := objectError(err, to)
			return nil, &out
		}
		defer root.Close()
		if !overwrite {
			if _, err := root.Stat(rel); err == nil {
				out := stepFailed(ErrAlreadyExists, "The destination %s already exists and OverwriteExisting is FALSE.", describeFile(to))
				return nil, &out
			}
		}
		if dir := path.Dir(rel); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				out := objectError(err, to)
				return nil, &out
			}
		}
		tmp := rel + ".slipway-tmp"
		f, err := root.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			out := objectError(err, to)
			return nil, &out
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			if pp := ex.PosixProfile; pp != nil && os.Geteuid() == 0 {
				_ = root.Chown(tmp, int(pp.Uid), int(pp.Gid))
			}
			err = root.Rename(tmp, rel)
		}
		if err != nil {
			_ = root.Remove(tmp)
			out := stepFailed(ErrInternal, "writing %s: %v", describeFile(to), err)
			return nil, &out
		}
		return &to, nil
	}
	w, err := s.Objects.Create(ctx, to.Bucket, to.Key, objstore.PutOptions{})
	if err != nil {
		out := objectError(err, to)
		return nil, &out
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		out := stepFailed(ErrInternal, "writing %s: %v", describeFile(to), err)
		return nil, &out
	}
	o, err := w.Commit(ctx)
	if err != nil {
		out := objectError(err, to)
		return nil, &out
	}
	to.ETag = etagOf(o)
	return &to, nil
}
