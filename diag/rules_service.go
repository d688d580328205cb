package diag

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

var serviceRules = []*rule{
	{
		ID: "service.no-endpoints", Severity: Error, Step: StepEvents, Rank: rankService,
		Match:   matchNoEndpoints,
		Summary: "Service {{.Service}} has no ready endpoints: {{.Why}}",
		Explanation: "A Service sends traffic only to ready pods matching its selector ({{.Selector}}). With none " +
			"ready, connections to it are refused or time out. Either the matching pods fail their readiness " +
			"probe, or the selector matches no running pod (a label typo).",
		NextSteps: []string{
			"Compare the Service's selector with the pods' labels, and make the matching pods ready (see the findings above).",
		},
		Commands: []string{
			"kubectl get endpoints -n {{.Namespace}} {{.Service}}",
			"kubectl get pods -n {{.Namespace}} -l {{.Selector}}",
			"kubectl describe service -n {{.Namespace}} {{.Service}}",
		},
	},
	{
		ID: "rollout.stuck", Severity: Error, Step: StepDescribe, Rank: rankRollout,
		Match:   matchRolloutStuck,
		Summary: "The rollout of {{.Workload}} is stuck: {{.Why}}",
		Explanation: "{{.Detail}} Until the new pods become ready the old ones keep serving (if any are left), " +
			"and the rollout does not complete by itself.",
		NextSteps: []string{
			"Fix what keeps the new pods from becoming ready (the findings above); the rollout then resumes.",
			"To go back meanwhile: kubectl rollout undo {{.Workload}} -n {{.Namespace}}.",
		},
		Commands: []string{
			"kubectl rollout status {{.Workload}} -n {{.Namespace}}",
			"kubectl rollout history {{.Workload}} -n {{.Namespace}}",
		},
	},
}

func formatSelector(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}

func matchNoEndpoints(w *walk) []hit {
	var hits []hit
	for _, sf := range w.f.Services.Items {
		svc := sf.Service
		if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		ready, notReady := 0, 0
		switch sf.Endpoints.State {
		case Unknown:
			continue
		case Found:
			for _, s := range sf.Endpoints.Object.Subsets {
				ready += len(s.Addresses)
				notReady += len(s.NotReadyAddresses)
			}
		}
		if ready > 0 {
			continue
		}
		sel := formatSelector(svc.Spec.Selector)
		h := hit{Vars: map[string]string{"Service": svc.Name, "Selector": sel}}
		line := fmt.Sprintf("service %s (selector %s): 0 ready endpoints", svc.Name, sel)
		if notReady > 0 {
			line += fmt.Sprintf(", %d not ready", notReady)
		}
		if sf.Endpoints.State == NotFound {
			line += " (no Endpoints object)"
		}
		h.Evidence = append(h.Evidence, line)
		switch {
		case notReady > 0 || (w.pod != nil && !podTerminal(w.pod)):
			h.Vars["Why"] = "its pods are not ready"
		default:
			h.Vars["Why"] = "its selector matches no running pod"
		}
		hits = append(hits, h)
	}
	return hits
}

func matchRolloutStuck(w *walk) []hit {
	var hits []hit
	for _, wl := range w.workloads("Deployment") {
		d := wl.Deployment
		if d == nil {
			continue
		}
		for _, c := range d.Status.Conditions {
			if c.Type == "Progressing" && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
				hits = append(hits, hit{
					Rank: w.workloadRank(wl),
					Evidence: []string{
						fmt.Sprintf("deployment %s condition Progressing=False (%s): %s", d.Name, c.Reason, oneLine(c.Message)),
						fmt.Sprintf("deployment %s: %d desired, %d updated, %d ready, %d available", d.Name, replicas(d.Spec.Replicas),
							d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas),
					},
					Vars: map[string]string{
						"Workload": "deployment/" + d.Name,
						"Why":      fmt.Sprintf("no progress within progressDeadlineSeconds (%d updated of %d, %d available)", d.Status.UpdatedReplicas, replicas(d.Spec.Replicas), d.Status.AvailableReplicas),
						"Detail":   "A Deployment reports ProgressDeadlineExceeded when its new ReplicaSet has not brought up available pods within progressDeadlineSeconds.",
					},
				})
			}
		}
	}
	for _, wl := range w.workloads("StatefulSet") {
		s := wl.StatefulSet
		if s == nil || s.Status.UpdateRevision == "" || s.Status.UpdateRevision == s.Status.CurrentRevision {
			continue
		}
		want := replicas(s.Spec.Replicas)
		if s.Status.UpdatedReplicas >= want || s.Status.ReadyReplicas >= want {
			continue
		}
		// For a pod target, only say so when this pod is the one in the way.
		if w.f.Workload == nil && (w.pod == nil || len(PodProblems(w.pod)) == 0) {
			continue
		}
		blocker := ""
		if w.pod != nil {
			blocker = " behind pod " + w.pod.Name
		}
		hits = append(hits, hit{
			Rank: w.workloadRank(wl),
			Evidence: []string{
				fmt.Sprintf("statefulset %s: revision %s → %s, %d of %d updated, %d ready", s.Name, s.Status.CurrentRevision,
					s.Status.UpdateRevision, s.Status.UpdatedReplicas, want, s.Status.ReadyReplicas),
			},
			Vars: map[string]string{
				"Workload": "statefulset/" + s.Name,
				"Why":      fmt.Sprintf("%d of %d pods updated, blocked%s", s.Status.UpdatedReplicas, want, blocker),
				"Detail": "A StatefulSet updates its pods one at a time, in order, and waits for each to be Running and Ready; " +
					"one pod that keeps failing stops the update of all pods after it. With podManagementPolicy OrderedReady, " +
					"a pod stuck on the broken revision may also need deleting by hand after the fix.",
			},
		})
	}
	return hits
}

// workloadRank puts a stuck rollout first when the workload itself is the
// target: asked about a StatefulSet, "its rollout is stuck" is the answer
// and the crashing pod the reason; asked about the pod, the crash is.
func (w *walk) workloadRank(wl *Workload) int {
	if w.f.Workload == wl {
		return rankCreate + 1 // pods that were never created explain it better
	}
	return 0
}
