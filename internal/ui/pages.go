package ui

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/slipway-dev/slipway/internal/ids"
	"github.com/slipway-dev/slipway/internal/imagebuilder"
	"github.com/slipway-dev/slipway/internal/transfer"
)

type doc = imagebuilder.Doc

func list(d doc, k string) []any {
	l, _ := d[k].([]any)
	return l
}

func str(d doc, k string) string {
	s, _ := d[k].(string)
	return s
}

// base is what every page shows.
func (s *Server) base(w http.ResponseWriter, r *http.Request, title string) map[string]any {
	sc := scopeOf(r)
	return map[string]any{"Title": title, "Account": sc.Account, "Region": sc.Region, "Base": prefix + "/" + sc.Account + "/" + sc.Region,
		"CSRF": s.csrfToken(w, r), "Done": r.URL.Query().Get("done"), "Error": r.URL.Query().Get("error"), "Here": here(r)}
}

// serverRow is a Transfer server as the overview lists it.
type serverRow struct {
	*transfer.Server
	Endpoint string
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, sc := r.Context(), scopeOf(r)
	data := s.base(w, r, "Overview")
	if gates, err := s.IB.ListWaitingWorkflowSteps(ctx, sc, doc{"maxResults": float64(25)}); err == nil {
		data["Gates"] = list(gates, "steps")
	}
	if inv, err := s.TF.Invocations(ctx); err == nil {
		var mine []transfer.Invocation
		for _, i := range inv {
			if i.Account == sc.Account && i.Region == sc.Region {
				mine = append(mine, i)
			}
		}
		data["CustomSteps"] = mine
	}
	if p, err := s.IB.ListImagePipelines(ctx, sc, doc{"maxResults": float64(25)}); err == nil {
		data["Pipelines"] = list(p, "imagePipelineList")
	}
	var builds []any
	if imgs, err := s.IB.ListImages(ctx, sc, doc{"maxResults": float64(25), "includeDeprecated": true}); err == nil {
		versions, _ := imgs["imageVersionList"].([]imagebuilder.ImageVersion)
		for _, v := range versions {
			bv, err := s.IB.ListImageBuildVersions(ctx, sc, doc{"imageVersionArn": v.ARN, "maxResults": float64(25)})
			if err == nil {
				builds = append(builds, list(bv, "imageSummaryList")...)
			}
		}
	}
	sort.SliceStable(builds, func(i, j int) bool {
		return str(builds[i].(map[string]any), "dateCreated") > str(builds[j].(map[string]any), "dateCreated")
	})
	data["Images"] = builds
	if pol, err := s.IB.ListLifecyclePolicies(ctx, sc, doc{"maxResults": float64(25)}); err == nil {
		data["Policies"] = pol.Policies
	}
	if servers, err := s.TF.ListServers(ctx, sc, 100, ""); err == nil {
		var rows []serverRow
		for _, srv := range servers.Servers {
			rows = append(rows, serverRow{Server: srv, Endpoint: "127.0.0.1:" + strconv.Itoa(transfer.Port(srv.ServerID))})
		}
		data["Servers"] = rows
	}
	var execs []map[string]any
	if wfs, err := s.TF.ListWorkflows(ctx, sc, 100, ""); err == nil {
		for _, wf := range wfs.Workflows {
			page, err := s.TF.ListExecutions(ctx, sc, wf.WorkflowID, 100, "")
			if err != nil {
				continue
			}
			for _, ex := range page.Executions {
				execs = append(execs, map[string]any{"Workflow": wf.WorkflowID, "Execution": ex})
			}
		}
	}
	data["Executions"] = execs
	s.render(w, "overview", data)
}

func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	ctx, sc := r.Context(), scopeOf(r)
	arn := r.URL.Query().Get("arn")
	data := s.base(w, r, short(arn))
	img, err := s.IB.GetImage(ctx, sc, doc{"imageBuildVersionArn": arn})
	if err != nil {
		data["Error"] = err.Error()
		s.render(w, "image", data)
		return
	}
	image, _ := img["image"].(map[string]any)
	data["Image"] = image
	var runs []map[string]any
	if ex, err := s.IB.ListWorkflowExecutions(ctx, sc, doc{"imageBuildVersionArn": str(image, "arn")}); err == nil {
		for _, raw := range list(ex, "workflowExecutions") {
			e, _ := raw.(map[string]any)
			steps, _ := s.IB.ListWorkflowStepExecutions(ctx, sc, doc{"workflowExecutionId": str(e, "workflowExecutionId")})
			runs = append(runs, map[string]any{"Execution": e, "Steps": list(steps, "steps")})
		}
	}
	data["Runs"] = runs
	if lc, err := s.IB.ListLifecycleExecutions(ctx, sc, str(image, "arn"), 25, ""); err == nil {
		var rows []map[string]any
		for _, ex := range lc.LifecycleExecutions {
			row := map[string]any{"Execution": ex}
			if res, err := s.IB.ListLifecycleExecutionResources(ctx, sc, ex.LifecycleExecutionID, str(image, "arn"), 25, ""); err == nil {
				row["Resources"] = res.Resources
			}
			rows = append(rows, row)
		}
		data["Lifecycle"] = rows
	}
	s.render(w, "image", data)
}

func (s *Server) server(w http.ResponseWriter, r *http.Request) {
	ctx, sc := r.Context(), scopeOf(r)
	id := r.URL.Query().Get("id")
	data := s.base(w, r, id)
	srv, err := s.TF.DescribeServer(ctx, sc, id)
	if err != nil {
		data["Error"] = err.Error()
		s.render(w, "server", data)
		return
	}
	data["Server"] = serverRow{Server: srv, Endpoint: "127.0.0.1:" + strconv.Itoa(transfer.Port(id))}
	if users, err := s.TF.ListUsers(ctx, sc, id, 100, ""); err == nil {
		data["Users"] = users.Users
	}
	if keys, err := s.TF.ListHostKeys(ctx, sc, id, 100, ""); err == nil {
		data["HostKeys"] = keys.HostKeys
	}
	if logs, _, err := s.TF.LogEvents(ctx, sc, transfer.LogGroup(id), "", 500); err == nil {
		data["Logs"] = logs
	}
	s.render(w, "server", data)
}

// back redirects to the page a form came from, with its outcome.
func back(w http.ResponseWriter, r *http.Request, key, msg string) {
	target := r.PostFormValue("back")
	if target == "" || target[0] != '/' || (len(target) > 1 && target[1] == '/') {
		target = prefix + "/" + r.PathValue("account") + "/" + r.PathValue("region") + "/"
	}
	u, _ := url.Parse(target)
	q := u.Query()
	q.Del("done")
	q.Del("error")
	q.Set(key, msg)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// gate answers a WaitForAction step: the same guarded transition as
// SendWorkflowStepAction.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) {
	if !checkPost(r) {
		http.Error(w, "This form did not come from the dashboard (cross-site posts are refused).", http.StatusForbidden)
		return
	}
	action := r.PostFormValue("action")
	_, err := s.IB.SendWorkflowStepAction(r.Context(), scopeOf(r), doc{"stepExecutionId": r.PostFormValue("stepExecutionId"),
		"imageBuildVersionArn": r.PostFormValue("image"), "action": action, "reason": r.PostFormValue("reason"), "clientToken": ids.UUID()})
	if err != nil {
		back(w, r, "error", err.Error())
		return
	}
	back(w, r, "done", action+" sent to "+r.PostFormValue("stepName")+".")
}

// customStep answers a CUSTOM step: the same transition as
// SendWorkflowStepState.
func (s *Server) customStep(w http.ResponseWriter, r *http.Request) {
	if !checkPost(r) {
		http.Error(w, "This form did not come from the dashboard (cross-site posts are refused).", http.StatusForbidden)
		return
	}
	status := r.PostFormValue("status")
	err := s.TF.SendWorkflowStepState(r.Context(), scopeOf(r), r.PostFormValue("workflowId"), r.PostFormValue("executionId"), r.PostFormValue("token"), status)
	if err != nil {
		back(w, r, "error", err.Error())
		return
	}
	back(w, r, "done", status+" sent to execution "+r.PostFormValue("executionId")+".")
}

// here is the page's own address without the flash messages, where its
// forms come back to.
func here(r *http.Request) string {
	q := r.URL.Query()
	q.Del("done")
	q.Del("error")
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}
