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
// Amazon in every region, so recipes can reference them. AWS keeps every
// version it published resolvable, so each lists its versions, oldest
// first (each with build 1); all versions of a component share its
// embedded document.
var managedComponents = []struct {
	name, platform string
	versions       []string
}{
	{"amazon-cloudwatch-agent-linux", "Linux", []string{"1.0.0", "1.0.1"}},
	{"amazon-corretto-11", "Linux", []string{"1.0.0"}},
	{"aws-cli-version-2-linux", "Linux", []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"}},
	{"docker-ce-linux", "Linux", []string{"1.0.0"}},
	{"reboot-linux", "Linux", []string{"1.0.0", "1.0.1"}},
	{"reboot-test-linux", "Linux", []string{"1.0.0"}},
	{"simple-boot-test-linux", "Linux", []string{"1.0.0"}},
	{"update-linux", "Linux", []string{"1.0.0", "1.0.1", "1.0.2"}},
	{"update-windows", "Windows", []string{"1.0.0", "1.0.1"}},
}

// managedComponentTemplates parses the embedded documents once, one per
// component.
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
			"name":        m.name,
			"description": doc.Description, "type": doc.Type(), "platform": m.platform, "owner": ManagedOwnerName,
			"data": string(data), "encrypted": true, "dateCreated": FormatTime(managedCreated), "state": Doc{"status": "ACTIVE"},
			"supportedOsVersions": []any{map[string]string{"Linux": "Amazon Linux 2023", "Windows": "Microsoft Windows Server 2022"}[m.platform]},
		})
	}
	return out
})

// managedComponentDocs returns every version of the managed components as
// documents of the caller's region, sorted by name then version.
func managedComponentDocs(scope store.Scope) []Doc {
	templates := managedComponentTemplates()
	var out []Doc
	for i, m := range managedComponents {
		for _, v := range m.versions {
			d := maps.Clone(templates[i])
			d["version"] = v
			d["arn"] = componentDoc(scope, ManagedOwner, m.name, v, 1)
			out = append(out, d)
		}
	}
	return out
}
