package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	tf "github.com/aws/aws-sdk-go-v2/service/transfer"
	tftypes "github.com/aws/aws-sdk-go-v2/service/transfer/types"
)

func allStepTypes() ([]tftypes.WorkflowStep, []tftypes.WorkflowStep) {
	steps := []tftypes.WorkflowStep{
		{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{
			Name: aws.String("archive"), OverwriteExisting: tftypes.OverwriteExistingTrue, SourceFileLocation: aws.String("${original.file}"),
			DestinationFileLocation: &tftypes.InputFileLocation{S3FileLocation: &tftypes.S3InputFileLocation{Bucket: aws.String("archive-bucket"), Key: aws.String("${transfer:UserName}/${transfer:UploadDate}/")}},
		}},
		{Type: tftypes.WorkflowStepTypeTag, TagStepDetails: &tftypes.TagStepDetails{Name: aws.String("mark"), Tags: []tftypes.S3Tag{{Key: aws.String("stage"), Value: aws.String("archived")}}}},
		{Type: tftypes.WorkflowStepTypeDecrypt, DecryptStepDetails: &tftypes.DecryptStepDetails{
			Name: aws.String("decrypt"), Type: tftypes.EncryptionTypePgp, SourceFileLocation: aws.String("${original.file}"), OverwriteExisting: tftypes.OverwriteExistingFalse,
			DestinationFileLocation: &tftypes.InputFileLocation{EfsFileLocation: &tftypes.EfsFileLocation{FileSystemId: aws.String("fs-0123456789abcdef0"), Path: aws.String("/decrypted")}},
		}},
		{Type: tftypes.WorkflowStepTypeCustom, CustomStepDetails: &tftypes.CustomStepDetails{Name: aws.String("scan"), Target: aws.String("arn:aws:lambda:us-east-1:000000000000:function:scan"), TimeoutSeconds: aws.Int32(60)}},
		{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{Name: aws.String("cleanup"), SourceFileLocation: aws.String("${original.file}")}},
	}
	onException := []tftypes.WorkflowStep{
		{Type: tftypes.WorkflowStepTypeCustom, CustomStepDetails: &tftypes.CustomStepDetails{Name: aws.String("notify"), Target: aws.String("arn:aws:lambda:us-east-1:000000000000:function:notify"), TimeoutSeconds: aws.Int32(30)}},
	}
	return steps, onException
}

func TestTransferWorkflowLifecycle(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	steps, onEx := allStepTypes()
	out, err := c.CreateWorkflow(ctx, &tf.CreateWorkflowInput{Description: aws.String("copy tag decrypt scan delete"), Steps: steps, OnExceptionSteps: onEx,
		Tags: []tftypes.Tag{{Key: aws.String("env"), Value: aws.String("test")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.WorkflowId)
	if len(id) != 19 || !strings.HasPrefix(id, "w-") {
		t.Fatalf("workflow id %q", id)
	}
	d, err := c.DescribeWorkflow(ctx, &tf.DescribeWorkflowInput{WorkflowId: out.WorkflowId})
	if err != nil {
		t.Fatal(err)
	}
	w := d.Workflow
	if aws.ToString(w.Arn) != "arn:aws:transfer:us-east-1:000000000000:workflow/"+id || aws.ToString(w.WorkflowId) != id ||
		aws.ToString(w.Description) != "copy tag decrypt scan delete" || len(w.Tags) != 1 || aws.ToString(w.Tags[0].Key) != "env" {
		t.Fatalf("described %+v", w)
	}
	if !reflect.DeepEqual(w.Steps, steps) || !reflect.DeepEqual(w.OnExceptionSteps, onEx) {
		t.Fatalf("steps round trip:\n got %+v\nwant %+v", w.Steps, steps)
	}
	list, err := c.ListWorkflows(ctx, &tf.ListWorkflowsInput{})
	if err != nil || len(list.Workflows) != 1 || aws.ToString(list.Workflows[0].WorkflowId) != id || aws.ToString(list.Workflows[0].Arn) != aws.ToString(w.Arn) {
		t.Fatalf("list %v %+v", err, list)
	}
	if _, err := c.DeleteWorkflow(ctx, &tf.DeleteWorkflowInput{WorkflowId: out.WorkflowId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeWorkflow(ctx, &tf.DescribeWorkflowInput{WorkflowId: out.WorkflowId})
	var nf *tftypes.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.Resource) != id || aws.ToString(nf.ResourceType) != "Workflow" {
		t.Fatalf("describe deleted: %v", err)
	}
	_, err = c.DeleteWorkflow(ctx, &tf.DeleteWorkflowInput{WorkflowId: out.WorkflowId})
	if !errors.As(err, &nf) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestTransferValidation(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	del := tftypes.WorkflowStep{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{}}
	cases := []struct {
		name string
		in   tf.CreateWorkflowInput
		msg  string
	}{
		{"no steps", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{}}, "at least one step"},
		{"too many steps", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{del, del, del, del, del, del, del, del, del}}, "Steps"},
		{"type without details", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCopy}}}, "must have CopyStepDetails"},
		{"details of another type", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeTag, DeleteStepDetails: &tftypes.DeleteStepDetails{}}}}, "must have TagStepDetails"},
		{"no type", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{DeleteStepDetails: &tftypes.DeleteStepDetails{}}}}, "Type is required"},
		{"bad enum", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: "MOVE", DeleteStepDetails: &tftypes.DeleteStepDetails{}}}}, "enum value set"},
		{"timeout", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCustom, CustomStepDetails: &tftypes.CustomStepDetails{Target: aws.String("arn:aws:lambda:us-east-1:000000000000:function:f"), TimeoutSeconds: aws.Int32(1801)}}}}, "less than or equal to 1800"},
		{"no target", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCustom, CustomStepDetails: &tftypes.CustomStepDetails{}}}}, "Target is required"},
		{"target pattern", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCustom, CustomStepDetails: &tftypes.CustomStepDetails{Target: aws.String("my-function")}}}}, "regular expression"},
		{"tags count", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeTag, TagStepDetails: &tftypes.TagStepDetails{Tags: s3Tags(11)}}}}, "length less than or equal to 10"},
		{"bucket", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{DestinationFileLocation: &tftypes.InputFileLocation{S3FileLocation: &tftypes.S3InputFileLocation{Bucket: aws.String("Bad_Bucket")}}}}}}, "Bucket"},
		{"no destination", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{}}}}, "DestinationFileLocation is required"},
		{"two destinations", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCopy, CopyStepDetails: &tftypes.CopyStepDetails{DestinationFileLocation: &tftypes.InputFileLocation{
			S3FileLocation: &tftypes.S3InputFileLocation{Bucket: aws.String("bucket")}, EfsFileLocation: &tftypes.EfsFileLocation{FileSystemId: aws.String("fs-01234567"), Path: aws.String("/x")}}}}}}, "exactly one of"},
		{"source", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{SourceFileLocation: aws.String("${next.file}")}}}}, "SourceFileLocation must be"},
		{"description", tf.CreateWorkflowInput{Description: aws.String("no.dots"), Steps: []tftypes.WorkflowStep{del}}, "Description"},
		{"step name", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{Name: aws.String("has space")}}}}, "Name"},
		{"exception step", tf.CreateWorkflowInput{Steps: []tftypes.WorkflowStep{del}, OnExceptionSteps: []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeCopy}}}, "OnExceptionSteps[0]"},
	}
	for _, tc := range cases {
		_, err := c.CreateWorkflow(ctx, &tc.in)
		var ir *tftypes.InvalidRequestException
		if !errors.As(err, &ir) || !strings.Contains(ir.ErrorMessage(), tc.msg) {
			t.Errorf("%s: got %v, want InvalidRequestException mentioning %q", tc.name, err, tc.msg)
		}
	}
	list, err := c.ListWorkflows(ctx, &tf.ListWorkflowsInput{})
	if err != nil || len(list.Workflows) != 0 {
		t.Fatalf("refused requests stored something: %v %+v", err, list)
	}
	// A required member the SDK would refuse to omit, sent raw.
	r := s.raw(t, "POST", "/", transferHeaders("CreateWorkflow"), `{"Steps":[{"Type":"DECRYPT","DecryptStepDetails":{"Type":"PGP"}}]}`, "transfer", time.Now())
	if r.Status != 400 || r.Body["__type"] != "InvalidRequestException" || !strings.Contains(fmt.Sprint(r.Body["Message"]), "DestinationFileLocation' failed to satisfy constraint: Member must not be null") {
		t.Fatalf("missing DestinationFileLocation: %d %v", r.Status, r.Body)
	}
	r = s.raw(t, "POST", "/", transferHeaders("DescribeWorkflow"), `{}`, "transfer", time.Now())
	if r.Status != 400 || r.Body["__type"] != "InvalidRequestException" {
		t.Fatalf("missing WorkflowId: %d %v", r.Status, r.Body)
	}
	_, err = c.DescribeWorkflow(ctx, &tf.DescribeWorkflowInput{WorkflowId: aws.String("not-an-id")})
	var ir *tftypes.InvalidRequestException
	if !errors.As(err, &ir) {
		t.Fatalf("bad workflow id: %v", err)
	}
}

func TestTransferPaginationQuotaAndTags(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.tf(opts("us-east-1"))
	ctx := context.Background()
	step := []tftypes.WorkflowStep{{Type: tftypes.WorkflowStepTypeDelete, DeleteStepDetails: &tftypes.DeleteStepDetails{Name: aws.String("rm")}}}
	var ids []string
	for i := 0; i < 10; i++ {
		out, err := c.CreateWorkflow(ctx, &tf.CreateWorkflowInput{Description: aws.String(fmt.Sprintf("wf %d", i)), Steps: step})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.WorkflowId))
	}
	_, err := c.CreateWorkflow(ctx, &tf.CreateWorkflowInput{Steps: step})
	var ir *tftypes.InvalidRequestException
	if !errors.As(err, &ir) || !strings.Contains(ir.ErrorMessage(), "limit of 10 workflows") {
		t.Fatalf("11th workflow: %v", err)
	}
	var got []string
	p := tf.NewListWorkflowsPaginator(c, &tf.ListWorkflowsInput{MaxResults: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, w := range out.Workflows {
			got = append(got, aws.ToString(w.WorkflowId))
		}
	}
	if pages != 4 || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages=%d got %v want %v", pages, got, ids)
	}
	_, err = c.ListWorkflows(ctx, &tf.ListWorkflowsInput{NextToken: aws.String("bm90IGEgdG9rZW4")})
	var bad *tftypes.InvalidNextTokenException
	if !errors.As(err, &bad) {
		t.Fatalf("forged token: %v", err)
	}

	arn := "arn:aws:transfer:us-east-1:000000000000:workflow/" + ids[0]
	var tags []tftypes.Tag
	for i := 0; i < 5; i++ {
		tags = append(tags, tftypes.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	if _, err := c.TagResource(ctx, &tf.TagResourceInput{Arn: aws.String(arn), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &tf.UntagResourceInput{Arn: aws.String(arn), TagKeys: []string{"k4"}}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	tp := tf.NewListTagsForResourcePaginator(c, &tf.ListTagsForResourceInput{Arn: aws.String(arn), MaxResults: aws.Int32(3)})
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Arn) != arn {
			t.Fatalf("arn %s", aws.ToString(out.Arn))
		}
		for _, tg := range out.Tags {
			keys = append(keys, aws.ToString(tg.Key))
		}
	}
	if strings.Join(keys, ",") != "k0,k1,k2,k3" {
		t.Fatalf("tags %v", keys)
	}
	_, err = c.TagResource(ctx, &tf.TagResourceInput{Arn: aws.String("arn:aws:transfer:us-east-1:000000000000:workflow/w-00000000000000000"), Tags: tags})
	var nf *tftypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("tag missing workflow: %v", err)
	}
	// Another account does not see this account's workflows.
	_, err = c.DescribeWorkflow(ctx, &tf.DescribeWorkflowInput{WorkflowId: aws.String(ids[0])}, func(o *tf.Options) { o.Region = "ap-south-1" })
	if !errors.As(err, &nf) {
		t.Fatalf("cross-region describe: %v", err)
	}
}

func s3Tags(n int) []tftypes.S3Tag {
	out := make([]tftypes.S3Tag, n)
	for i := range out {
		out[i] = tftypes.S3Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	return out
}
