package imagebuilder

import (
	"embed"
	"maps"
	"sync"

	"github.com/slipway-dev/slipway/internal/compdoc"
	"github.com/slipway-dev/slipway/internal/store"
)

//go:embed managed/components/*.yaml
var managedComponentFiles embed.FS

// managedComponents are the AWS-managed components listed under owner
// Amazon in every region, so recipes can reference them.
var managedComponents = []struct {
	name, version, platform string
	build                   int
}{
	{"aws-cli-version-2-linux", "1.0.4", "Linux", 1},
	{"reboot-linux", "1.0.1", "Linux", 1},
	{"reboot-test-linux", "1.0.0", "Linux", 1},
	{"update-linux", "1.0.2", "Linux", 1},
	{"update-windows", "1.0.1", "Windows", 1},
}

// managedComponentTemplates parses the embedded documents once.
var managedComponentTemplates = sync.OnceValue(func() []Doc {
	out := make([]Doc, 0, len(managedComponents))
	for _, m := range managedComponents {
		data, err := managedComponentFiles.ReadFile("managed/components/" + m.name + ".yaml")
		if err != nil {
			panic("imagebuilder: missing managed component " + m.name)
		}
		doc, err := compdoc.Parse(data)
		if err != nil {
			panic("imagebuilder: managed component " + m.name + ": " + err.Error())
		}
		out = append(out, Doc{
			"name": m.name, "version": m.version,
			"description": doc.Description, "type": doc.Type(), "platform": m.platform, "owner": ManagedOwnerName,
			"data": string(data), "encrypted": true, "dateCreated": FormatTime(managedCreated), "state": Doc{"status": "ACTIVE"},
			"supportedOsVersions": []any{map[string]string{"Linux": "Amazon Linux 2023", "Windows": "Microsoft Windows Server 2022"}[m.platform]},
		})
	}
	return out
})

// managedComponentDocs returns the managed components as documents of the
// caller's region, sorted by name.
func managedComponentDocs(scope store.Scope) []Doc {
	templates := managedComponentTemplates()
	out := make([]Doc, len(templates))
	for i, m := range managedComponents {
		d := maps.Clone(templates[i])
		d["arn"] = componentDoc(scope, ManagedOwner, m.name, m.version, m.build)
		out[i] = d
	}
	return out
}
