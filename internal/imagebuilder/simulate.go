package imagebuilder

import (
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/ids"
)

func randHex(n int) string { return ids.Hex(n) }

func newUUID() string { return ids.UUID() }

func instanceID() string { return "i-" + randHex(17) }
func amiID() string      { return "ami-" + randHex(17) }

// simulate produces the outputs an action reports, with realistic IDs.
// Nothing is created anywhere.
func simulate(action string, inputs Doc, b *build, now time.Time) Doc {
	cmd := Doc{"runCommandId": newUUID(), "status": "Success", "output": ""}
	switch action {
	case "LaunchInstance":
		return Doc{"instanceId": instanceID()}
	case "CreateImage", "RegisterImage":
		return Doc{"imageId": amiID()}
	case "CreateImageFromIso":
		return Doc{"amiName": b.ImageName + " " + now.Format("2006-01-02T15-04-05.000Z"), "snapshotId": "snap-" + randHex(17), "architecture": "x86_64"}
	case "CollectImageMetadata":
		return Doc{"osVersion": b.OSVersion, "associationId": newUUID()}
	case "WaitForSSMAgent":
		return Doc{"status": "Success"}
	case "TerminateInstance":
		return Doc{}
	case "ExecuteStateMachine":
		return Doc{"executionArn": strings.Replace(str(inputs, "stateMachineArn"), ":stateMachine:", ":execution:", 1) + ":" + newUUID(), "output": "{}", "status": "SUCCEEDED"}
	case "DistributeImage":
		return Doc{"distributedImages": b.distributed(now)}
	case "ApplyImageConfigurations":
		var out []any
		for _, d := range b.distributed(now) {
			dm := d.(Doc)
			out = append(out, Doc{"accountId": dm["accountId"], "name": dm["name"], "amiId": dm["amiId"], "region": dm["region"],
				"dateStarted": dm["dateStarted"], "dateStopped": dm["dateStopped"], "step": "Completed", "status": "Completed"})
		}
		return Doc{"configuredImages": out}
	case "ModifyImageAttributes":
		var out []any
		for _, d := range b.distributed(now) {
			dm := d.(Doc)
			out = append(out, Doc{"accountId": dm["accountId"], "name": dm["name"], "amiId": dm["amiId"], "region": dm["region"], "step": "Completed", "status": "Completed"})
		}
		return Doc{"modifiedImages": out}
	case "DistributeContainerImage":
		return Doc{"status": "Success", "succeededRegions": b.Regions, "failedRegions": []any{}}
	}
	return cmd
}

// packages are the packages an image reports for ListImagePackages.
func packages(platform string) []Doc {
	if platform == "Windows" {
		return []Doc{{"packageName": "Amazon SSM Agent", "packageVersion": "3.3.1142.0"}, {"packageName": "AWS Tools for Windows", "packageVersion": "4.1.689.0"},
			{"packageName": "Microsoft Edge", "packageVersion": "130.0.2849.80"}}
	}
	return []Doc{{"packageName": "amazon-ssm-agent", "packageVersion": "3.3.1142.0-1.amzn2023"}, {"packageName": "bash", "packageVersion": "5.2.15-1.amzn2023.0.2"},
		{"packageName": "curl-minimal", "packageVersion": "8.5.0-1.amzn2023.0.4"}, {"packageName": "glibc", "packageVersion": "2.34-117.amzn2023.0.1"},
		{"packageName": "kernel", "packageVersion": "6.1.115-126.197.amzn2023"}, {"packageName": "openssl", "packageVersion": "3.0.8-1.amzn2023.0.18"},
		{"packageName": "python3", "packageVersion": "3.9.20-1.amzn2023.0.1"}, {"packageName": "systemd", "packageVersion": "252.23-2.amzn2023"}}
}
