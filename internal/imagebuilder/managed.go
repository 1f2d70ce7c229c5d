package imagebuilder

import (
	"embed"
	"strconv"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/store"
	"github.com/slipway-dev/slipway/internal/wfdoc"
)

//go:embed managed/*.yaml
var managedDocs embed.FS

// managedWorkflow is an AWS-managed workflow, present in every region.
type managedWorkflow struct {
	file        string
	name        string
	version     string
	build       int
	stage       wfdoc.Stage
	description string
}

// managedWorkflows are listed under owner Amazon and resolvable by ARN.
var managedWorkflows = []managedWorkflow{
	{"build-image", "build-image", "1.0.3", 1, wfdoc.Build, "Workflow to build an AMI"},
	{"distribute-image", "distribute-image", "1.0.0", 1, wfdoc.Distribution, "Workflow to distribute an AMI"},
	{"test-image", "test-image", "1.0.0", 1, wfdoc.Test, "Workflow to test an AMI"},
}

// managedCreated is the creation date reported for managed workflows.
var managedCreated = time.Date(2023, 11, 9, 0, 0, 0, 0, time.UTC)

// managedWorkflowTemplates parses the embedded documents once; only the
// ARN differs between regions.
var managedWorkflowTemplates = sync.OnceValue(func() []Workflow {
	out := make([]Workflow, 0, len(managedWorkflows))
	for _, m := range managedWorkflows {
		data, err := managedDocs.ReadFile("managed/" + m.file + ".yaml")
		if err != nil {
			panic("imagebuilder: missing managed workflow " + m.file)
		}
		doc, err := wfdoc.Parse(data, m.stage)
		if err != nil {
			panic("imagebuilder: managed workflow " + m.file + ": " + err.Error())
		}
		out = append(out, Workflow{Name: m.name, Version: m.version, Build: m.build, Description: m.description, Type: string(m.stage),
			Owner: ManagedOwnerName, Data: string(data), DateCreated: managedCreated, Parameters: parameterDetails(doc)})
	}
	return out
})

// managedWorkflowRecords returns the managed workflows of a region, sorted
// like account-owned ones.
func managedWorkflowRecords(scope store.Scope) []*Workflow {
	templates := managedWorkflowTemplates()
	out := make([]*Workflow, len(templates))
	for i := range templates {
		w := templates[i]
		w.ARN = workflowARN(scope, ManagedOwner, w.Type, w.Name, w.Version) + "/" + strconv.Itoa(w.Build)
		out[i] = &w
	}
	return out
}
