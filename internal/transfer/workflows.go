package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slipway-dev/slipway/internal/fault"
	"github.com/slipway-dev/slipway/internal/memo"
	"github.com/slipway-dev/slipway/internal/store"
)

const (
	kindWorkflow = "transfer.workflow"
	kindSequence = "transfer.sequence"
)

// Step types.
const (
	StepCopy    = "COPY"
	StepCustom  = "CUSTOM"
	StepTag     = "TAG"
	StepDelete  = "DELETE"
	StepDecrypt = "DECRYPT"
)

// Source file locations a step may read.
const (
	PreviousFile = "${previous.file}"
	OriginalFile = "${original.file}"
)

// Workflow is a managed workflow. Its JSON form is the API's
// DescribedWorkflow, which is also how it is stored.
type Workflow struct {
	WorkflowID       string `json:"WorkflowId"`
	Arn              string `json:"Arn"`
	Description      string `json:"Description,omitempty"`
	Steps            []Step `json:"Steps"`
	OnExceptionSteps []Step `json:"OnExceptionSteps,omitempty"`
	Tags             []Tag  `json:"-"`
}

// Step is one workflow step: a type and the details of that type.
type Step struct {
	Type               string              `json:"Type,omitempty"`
	CopyStepDetails    *CopyStepDetails    `json:"CopyStepDetails,omitempty"`
	CustomStepDetails  *CustomStepDetails  `json:"CustomStepDetails,omitempty"`
	TagStepDetails     *TagStepDetails     `json:"TagStepDetails,omitempty"`
	DeleteStepDetails  *DeleteStepDetails  `json:"DeleteStepDetails,omitempty"`
	DecryptStepDetails *DecryptStepDetails `json:"DecryptStepDetails,omitempty"`
}

// CopyStepDetails copies the file to a destination.
type CopyStepDetails struct {
	Name                    string        `json:"Name,omitempty"`
	DestinationFileLocation *FileLocation `json:"DestinationFileLocation,omitempty"`
	OverwriteExisting       string        `json:"OverwriteExisting,omitempty"`
	SourceFileLocation      string        `json:"SourceFileLocation,omitempty"`
}

// CustomStepDetails invokes a Lambda function and waits for its callback.
type CustomStepDetails struct {
	Name               string `json:"Name,omitempty"`
	Target             string `json:"Target,omitempty"`
	TimeoutSeconds     int    `json:"TimeoutSeconds,omitempty"`
	SourceFileLocation string `json:"SourceFileLocation,omitempty"`
}

// TagStepDetails tags the file (S3 only).
type TagStepDetails struct {
	Name               string  `json:"Name,omitempty"`
	Tags               []S3Tag `json:"Tags,omitempty"`
	SourceFileLocation string  `json:"SourceFileLocation,omitempty"`
}

// DeleteStepDetails deletes the file.
type DeleteStepDetails struct {
	Name               string `json:"Name,omitempty"`
	SourceFileLocation string `json:"SourceFileLocation,omitempty"`
}

// DecryptStepDetails decrypts a PGP file to a destination.
type DecryptStepDetails struct {
	Name                    string        `json:"Name,omitempty"`
	Type                    string        `json:"Type,omitempty"`
	SourceFileLocation      string        `json:"SourceFileLocation,omitempty"`
	OverwriteExisting       string        `json:"OverwriteExisting,omitempty"`
	DestinationFileLocation *FileLocation `json:"DestinationFileLocation,omitempty"`
}

// FileLocation is an S3 or EFS location.
type FileLocation struct {
	S3FileLocation  *S3FileLocation  `json:"S3FileLocation,omitempty"`
	EfsFileLocation *EfsFileLocation `json:"EfsFileLocation,omitempty"`
}

// S3FileLocation is a bucket and key (the key may use ${transfer:...}
// variables).
type S3FileLocation struct {
	Bucket string `json:"Bucket,omitempty"`
	Key    string `json:"Key,omitempty"`
}

// EfsFileLocation is a file system and path.
type EfsFileLocation struct {
	FileSystemID string `json:"FileSystemId,omitempty"`
	Path         string `json:"Path,omitempty"`
}

// S3Tag is a tag a TAG step puts on the file.
type S3Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// CreateWorkflowInput is a CreateWorkflow request.
type CreateWorkflowInput struct {
	Description      string
	Steps            []Step
	OnExceptionSteps []Step
	Tags             []Tag
}

func validateSteps(field string, steps []Step) error {
	for i, st := range steps {
		path := fmt.Sprintf("%s[%d]", field, i)
		details := map[string]bool{
			StepCopy: st.CopyStepDetails != nil, StepCustom: st.CustomStepDetails != nil, StepTag: st.TagStepDetails != nil,
			StepDelete: st.DeleteStepDetails != nil, StepDecrypt: st.DecryptStepDetails != nil,
		}
		if st.Type == "" {
			return fault.New(fault.Invalid, "%s: Type is required.", path)
		}
		n := 0
		for _, set := range details {
			if set {
				n++
			}
		}
		if !details[st.Type] || n != 1 {
			name := map[string]string{StepCopy: "CopyStepDetails", StepCustom: "CustomStepDetails", StepTag: "TagStepDetails", StepDelete: "DeleteStepDetails", StepDecrypt: "DecryptStepDetails"}[st.Type]
			return fault.New(fault.Invalid, "%s: a step of Type %s must have %s and no other step details.", path, st.Type, name)
		}
		var source string
		switch st.Type {
		case StepCopy:
			d := st.CopyStepDetails
			source = d.SourceFileLocation
			if err := validateDestination(path+".CopyStepDetails.DestinationFileLocation", d.DestinationFileLocation); err != nil {
				return err
			}
		case StepCustom:
			d := st.CustomStepDetails
			source = d.SourceFileLocation
			if d.Target == "" {
				return fault.New(fault.Invalid, "%s.CustomStepDetails.Target is required: the ARN of the Lambda function to invoke.", path)
			}
		case StepTag:
			d := st.TagStepDetails
			source = d.SourceFileLocation
			if len(d.Tags) == 0 {
				return fault.New(fault.Invalid, "%s.TagStepDetails.Tags must hold between 1 and 10 tags.", path)
			}
		case StepDelete:
			source = st.DeleteStepDetails.SourceFileLocation
		case StepDecrypt:
			d := st.DecryptStepDetails
			source = d.SourceFileLocation
			if err := validateDestination(path+".DecryptStepDetails.DestinationFileLocation", d.DestinationFileLocation); err != nil {
				return err
			}
		}
		if source != "" && source != PreviousFile && source != OriginalFile {
			return fault.New(fault.Invalid, "%s: SourceFileLocation must be %s or %s, not %s.", path, PreviousFile, OriginalFile, source)
		}
	}
	return nil
}

func validateDestination(path string, loc *FileLocation) error {
	switch {
	case loc == nil:
		return fault.New(fault.Invalid, "%s is required.", path)
	case (loc.S3FileLocation == nil) == (loc.EfsFileLocation == nil):
		return fault.New(fault.Invalid, "%s must have exactly one of S3FileLocation or EfsFileLocation.", path)
	case loc.S3FileLocation != nil && loc.S3FileLocation.Bucket == "":
		return fault.New(fault.Invalid, "%s.S3FileLocation.Bucket is required.", path)
	case loc.EfsFileLocation != nil && (loc.EfsFileLocation.FileSystemID == "" || loc.EfsFileLocation.Path == ""):
		return fault.New(fault.Invalid, "%s.EfsFileLocation needs FileSystemId and Path.", path)
	}
	return nil
}

// CreateWorkflow validates and stores a workflow. Workflows are immutable.
func (s *Service) CreateWorkflow(ctx context.Context, scope store.Scope, in CreateWorkflowInput) (*Workflow, error) {
	if len(in.Steps) == 0 {
		return nil, fault.New(fault.Invalid, "Steps must hold at least one step.")
	}
	if err := validateSteps("Steps", in.Steps); err != nil {
		return nil, err
	}
	if err := validateSteps("OnExceptionSteps", in.OnExceptionSteps); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	w := &Workflow{Description: in.Description, Steps: in.Steps, OnExceptionSteps: in.OnExceptionSteps, Tags: in.Tags}
	w.WorkflowID = newID("w-")
	w.Arn = resourceARN(scope, "workflow/"+w.WorkflowID)
	body, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.Count(scope, kindWorkflow, "")
		if err != nil {
			return err
		}
		if s.WorkflowQuota > 0 && n >= s.WorkflowQuota {
			return fault.New(fault.QuotaExceeded, "You have reached the limit of %d workflows in this region.", s.WorkflowQuota)
		}
		// Numbering creations keeps lists in creation order even when
		// several workflows share a millisecond.
		seq, err := sequence(tx, scope, kindWorkflow, now)
		if err != nil {
			return err
		}
		return tx.Insert(&store.Record{Scope: scope, Kind: kindWorkflow, ID: w.WorkflowID, SortKey: seq,
			Created: now, Updated: now, Tags: tagMap(in.Tags), Body: body})
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func notFoundWorkflow(id string) error {
	return fault.Missing("Workflow", id, "Unknown workflow")
}

// workflowBodies remembers decoded workflows for the read paths (shared
// values: read-only).
var workflowBodies = memo.New(1<<20, func(b []byte) (Workflow, error) {
	var w Workflow
	return w, json.Unmarshal(b, &w)
})

// decodeWorkflow decodes a workflow for a reader: its steps are shared with
// other readers and must not be changed.
func decodeWorkflow(rec *store.Record) (*Workflow, error) {
	w, err := workflowBodies.Decode(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("transfer: corrupt workflow %s: %w", rec.ID, err)
	}
	w.Tags = tagList(rec.Tags)
	return &w, nil
}

// DescribeWorkflow returns a workflow.
func (s *Service) DescribeWorkflow(ctx context.Context, scope store.Scope, id string) (*Workflow, error) {
	var w *Workflow
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(scope, kindWorkflow, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(id)
		} else if err != nil {
			return err
		}
		w, err = decodeWorkflow(rec)
		return err
	})
	return w, err
}

// WorkflowPage is a page of workflows.
type WorkflowPage struct {
	Workflows []*Workflow
	NextToken string
}

// ListWorkflows lists workflows in creation order.
func (s *Service) ListWorkflows(ctx context.Context, scope store.Scope, maxResults int, nextToken string) (*WorkflowPage, error) {
	page := &WorkflowPage{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		page.Workflows = nil // the store may run this again
		var err error
		page.NextToken, err = s.listPage(tx, scope, "ListWorkflows", "", kindWorkflow, "", maxResults, nextToken, func(r *store.Record) error {
			w, err := decodeWorkflow(r)
			page.Workflows = append(page.Workflows, w)
			return err
		})
		return err
	})
	return page, err
}

// DeleteWorkflow deletes a workflow that no server uses.
func (s *Service) DeleteWorkflow(ctx context.Context, scope store.Scope, id string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		users, err := tx.List(store.ListQuery{Scope: scope, Kind: kindWorkflowUse, Parent: id, Limit: 1})
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fault.New(fault.Dependency, "Workflow is still in use by server %s", users[0].SortKey)
		}
		err = tx.Delete(scope, kindWorkflow, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundWorkflow(id)
		}
		return err
	})
}

// workflowIDFromARN returns the workflow ID an ARN in scope names.
func workflowIDFromARN(scope store.Scope, a string) (string, bool) {
	prefix := resourceARN(scope, "workflow/")
	if !strings.HasPrefix(a, prefix) {
		return "", false
	}
	return strings.TrimPrefix(a, prefix), true
}
