package diag

import (
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// initStuckAfter is how long an init container may run before kdoctor calls
// it stuck: init work (migrations, waiting for a dependency) is usually
// done in seconds, and a wait loop that has not ended after ten minutes is
// waiting for something that is not coming by itself.
const initStuckAfter = 10 * time.Minute

var initWaitRules = []*rule{
	{
		ID: "init.never-finishes", Severity: Error, Step: StepDescribe, Rank: rankInit,
		Match:   matchInitNeverFinishes,
		Summary: "Init container {{.Container}} has been running for {{.For}} without finishing{{.WaitsFor}}, so the app containers never start",
		Explanation: "Init containers must exit 0, one after another, before the app containers start; this one " +
			"neither fails nor finishes, so the pod stays Init:{{.Index}}/{{.Count}} (PodInitializing) and nothing " +
			"restarts it. Such an init container is almost always a wait loop (until nslookup …; until nc -z …) " +
			"for a Service, a DNS name or a database that does not exist, has no ready endpoints, or lives in " +
			"another namespace than the short name assumes. Its current log shows what it is still waiting for.",
		NextSteps: []string{
			"Read what it is waiting for: kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}} (the current log, it has not restarted).",
			"{{if .Target}}Check that {{.Target}} resolves and answers: kubectl get service,endpoints -n {{.TargetNamespace}} {{.TargetShort}}; a Service in another namespace is reached as NAME.NAMESPACE.{{else}}Check the dependency its command waits for: does the Service exist in namespace {{.Namespace}} and have ready endpoints?{{end}}",
			"Give such loops a timeout so the pod fails visibly instead of hanging (timeout 300 sh -c 'until …; do sleep 2; done').",
		},
		Commands: []string{
			"kubectl logs -n {{.Namespace}} {{.Pod}} -c {{.Container}} --tail=20",
			"{{if .TargetShort}}kubectl get service,endpoints -n {{.TargetNamespace}} {{.TargetShort}}{{end}}",
			"{{if .TargetShort}}kubectl get services -A --field-selector metadata.name={{.TargetShort}}{{end}}",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.initContainers[?(@.name==\"{{.Container}}\")].command}'",
		},
	},
}

// waitTarget finds the host a wait loop polls: nslookup HOST, nc -z HOST
// PORT, pg_isready -h HOST, wget/curl URL.
var waitTarget = regexp.MustCompile(`\b(?:nslookup|host|dig)\s+([A-Za-z0-9][A-Za-z0-9.-]*)|nc\s+(?:-\w+\s+)*([A-Za-z0-9][A-Za-z0-9.-]*)\s+\d+|pg_isready\s+(?:-\w+\s+)*-h\s+([A-Za-z0-9][A-Za-z0-9.-]*)|(?:wget|curl)\s+(?:-\S+\s+)*https?://([A-Za-z0-9][A-Za-z0-9.-]*)`)

func matchInitNeverFinishes(w *walk) []hit {
	p := w.pod
	if p == nil || p.DeletionTimestamp != nil || podTerminal(p) || w.podInitialized() {
		return nil
	}
	var hits []hit
	count, index := 0, 0
	for _, c := range w.cs {
		if c.Init && !isSidecar(c) {
			count++
		}
	}
	for _, c := range w.cs {
		if !c.Init || isSidecar(c) {
			continue
		}
		index++
		if c.Status == nil || c.Status.State.Running == nil {
			continue
		}
		running := w.now.Sub(c.Status.State.Running.StartedAt.Time)
		if running <= initStuckAfter {
			continue
		}
		vars := map[string]string{
			"For": duration.HumanDuration(running), "WaitsFor": "", "Target": "", "TargetShort": "", "TargetNamespace": "",
			"Index": itoa(int32(index - 1)), "Count": itoa(int32(count)),
		}
		h := hit{Container: c.Name, Vars: vars, Evidence: []string{w.formatState(c)}}
		cmd := specCommand(c.Spec)
		if cmd != "" {
			h.Evidence = append(h.Evidence, c.kind()+" command: "+oneLine(cmd))
		}
		if m := waitTarget.FindStringSubmatch(cmd); m != nil {
			for _, g := range m[1:] {
				if g != "" {
					vars["Target"] = g
					// name, name.namespace or name.namespace.svc…: the
					// Service is looked up where the name points.
					parts := strings.Split(g, ".")
					vars["TargetShort"], vars["TargetNamespace"] = parts[0], w.vars["Namespace"]
					if len(parts) == 2 || (len(parts) > 2 && parts[2] == "svc") {
						vars["TargetNamespace"] = parts[1]
					}
					vars["WaitsFor"] = ": it is waiting for " + g
					break
				}
			}
		}
		if l := w.f.Log(c.Name, false); l != nil {
			switch {
			case l.State != Found:
				h.Evidence = append(h.Evidence, "logs ("+c.Name+", current): not available ("+orUnknown(l.Reason)+")")
			case strings.TrimSpace(l.Text) == "":
				h.Evidence = append(h.Evidence, "logs ("+c.Name+", current): empty: the loop prints nothing")
			default:
				for _, line := range lastLines(l.Text, 5) {
					h.Evidence = append(h.Evidence, "logs ("+c.Name+", current): "+line)
				}
			}
		}
		for _, s := range w.mainContainers() {
			if s.Status != nil && s.Status.State.Waiting != nil {
				h.Evidence = append(h.Evidence, s.kind()+": waiting "+s.Status.State.Waiting.Reason)
				break
			}
		}
		hits = append(hits, h)
	}
	return hits
}
