package wfdoc

// Stage is a workflow type: the build stage it runs in.
type Stage string

// The workflow stages (Image Builder WorkflowType).
const (
	Build        Stage = "BUILD"
	Test         Stage = "TEST"
	Distribution Stage = "DISTRIBUTION"
)

// Action describes one step action: where it may run, its timeouts, the
// inputs it needs and the outputs later steps may reference.
type Action struct {
	Name string
	// Stages limits the action to these stages; empty means any.
	Stages         []Stage
	DefaultTimeout int // seconds
	MaxTimeout     int // seconds
	Required       []string
	Outputs        []string
	// Rollback reports whether the action undoes itself when a later step
	// fails and the workflow rolls back.
	Rollback bool
}

const (
	minute = 60
	hour   = 60 * minute
	day    = 24 * hour
)

var commandOutputs = []string{"runCommandId", "status", "output"}

// Actions is the catalogue of step actions, from the Image Builder user
// guide's "Supported step actions" page.
var Actions = map[string]*Action{}

func init() {
	for _, a := range []*Action{
		{Name: "ApplyImageConfigurations", Stages: []Stage{Distribution}, DefaultTimeout: 360 * minute, MaxTimeout: 720 * minute, Required: []string{"distributedImages"}, Outputs: []string{"configuredImages"}},
		{Name: "BootstrapInstanceForContainer", DefaultTimeout: 60 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: commandOutputs},
		{Name: "CollectImageMetadata", Stages: []Stage{Build, Test}, DefaultTimeout: 30 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: []string{"osVersion", "associationId"}, Rollback: true},
		{Name: "CollectImageScanFindings", Stages: []Stage{Test}, DefaultTimeout: 120 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: commandOutputs},
		{Name: "CreateImage", DefaultTimeout: 720 * minute, MaxTimeout: 3 * day, Required: []string{"instanceId"}, Outputs: []string{"imageId"}},
		{Name: "CreateImageFromIso", DefaultTimeout: 720 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: []string{"amiName", "snapshotId", "architecture"}},
		{Name: "DistributeContainerImage", Stages: []Stage{Distribution}, DefaultTimeout: 120 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: []string{"status", "succeededRegions", "failedRegions"}},
		{Name: "DistributeImage", Stages: []Stage{Distribution}, DefaultTimeout: 360 * minute, MaxTimeout: 720 * minute, Outputs: []string{"distributedImages"}},
		{Name: "ExecuteComponents", Stages: []Stage{Build, Test}, DefaultTimeout: 720 * minute, MaxTimeout: 24 * hour, Required: []string{"instanceId"}, Outputs: commandOutputs},
		{Name: "ExecuteStateMachine", DefaultTimeout: 6 * hour, MaxTimeout: 24 * hour, Required: []string{"stateMachineArn"}, Outputs: []string{"executionArn", "output", "status"}},
		{Name: "LaunchInstance", DefaultTimeout: 75 * minute, MaxTimeout: 720 * minute, Required: []string{"waitFor"}, Outputs: []string{"instanceId"}, Rollback: true},
		{Name: "ModifyImageAttributes", Stages: []Stage{Distribution}, DefaultTimeout: 120 * minute, MaxTimeout: 180 * minute, Required: []string{"distributedImages"}, Outputs: []string{"modifiedImages"}},
		{Name: "RegisterImage", DefaultTimeout: 540 * minute, MaxTimeout: 720 * minute, Outputs: []string{"imageId"}},
		{Name: "RunCommand", DefaultTimeout: 720 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId", "documentName"}, Outputs: commandOutputs},
		{Name: "RunSysPrep", DefaultTimeout: 60 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: commandOutputs},
		{Name: "SanitizeInstance", DefaultTimeout: 60 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}, Outputs: commandOutputs},
		{Name: "TerminateInstance", DefaultTimeout: 30 * minute, MaxTimeout: 720 * minute, Required: []string{"instanceId"}},
		{Name: "WaitForAction", DefaultTimeout: 3 * day, MaxTimeout: 7 * day, Outputs: []string{"action", "reason"}},
		{Name: "WaitForSSMAgent", DefaultTimeout: 60 * minute, MaxTimeout: 180 * minute, Required: []string{"instanceId"}, Outputs: []string{"status"}},
	} {
		Actions[a.Name] = a
	}
}

// AllowedIn reports whether the action may run in the stage.
func (a *Action) AllowedIn(s Stage) bool {
	if len(a.Stages) == 0 {
		return true
	}
	for _, x := range a.Stages {
		if x == s {
			return true
		}
	}
	return false
}

// SystemVariables are the $.imagebuilder.* names (matched case-insensitively).
var SystemVariables = []string{
	"cloudWatchLogGroup", "cloudWatchLogStream", "collectImageMetadata", "collectImageScanFindings",
	"imageBuildNumber", "imageId", "imageName", "imageType", "imageVersionNumber", "instanceProfileName",
	"platform", "s3Logs", "securityGroups", "sourceImageARN", "subnetId", "terminateInstanceOnFailure",
	"workflowPhase", "workingDirectory",
}
