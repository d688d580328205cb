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
				hits = append(hits, w.rolloutChain(wl, hit{
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
				}))
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

// rolloutChain completes a stuck Deployment's finding with what holds it
// up: the failing pod of its newest ReplicaSet and the rule that pod's own
// diagnosis names. Asked about a healthy pod of that Deployment, the
// finding is context (info): the pod itself is fine, and the finding
// leads to the one that is not.
func (w *walk) rolloutChain(wl *Workload, h hit) hit {
	ns := w.vars["Namespace"]
	// A pod of the new ReplicaSet is the rollout's own problem and its
	// findings say why; the chain is for the workload and for pods of older
	// ReplicaSets, which the rollout leaves running.
	oldPod := w.f.Workload == nil && w.f.Rollout != nil && w.pod != nil && !ownedByReplicaSet(w.pod, w.f.Rollout.NewReplicaSet)
	if w.f.Workload == nil && !oldPod {
		return h
	}
	if p, rs := w.rolloutBlocker(wl); p != nil {
		rule, summary := w.blockerRule(p)
		problems := strings.Join(PodProblems(p), "; ")
		h.Evidence = append(h.Evidence, fmt.Sprintf("new replicaset %s: pod %s is not ready (%s)", rs, p.Name, problems))
		if rule == RuleNone {
			h.Vars["Why"] += fmt.Sprintf("; pod %s of the new ReplicaSet %s is not ready (%s)", p.Name, rs, problems)
		} else {
			h.Evidence = append(h.Evidence, fmt.Sprintf("pod %s: %s: %s", p.Name, rule, summary))
			h.Vars["Why"] += fmt.Sprintf("; pod %s of the new ReplicaSet %s fails (%s)", p.Name, rs, rule)
		}
		if w.pod == nil || p.Name != w.pod.Name {
			h.Next = append(h.Next, fmt.Sprintf("Look at pod %s, which holds the rollout up: in the TUI press : and pick \"pod %s/%s\", or run kdoctor diagnose pod/%s -n %s.", p.Name, ns, p.Name, p.Name, ns))
			h.Commands = append(h.Commands, fmt.Sprintf("kdoctor diagnose pod/%s -n %s", p.Name, ns))
		}
	}
	if oldPod && w.podHealthyNow() {
		h.Severity = sev(Info)
		older := "an older ReplicaSet"
		if len(w.f.Owners) > 0 && w.f.Owners[0].Kind == "ReplicaSet" {
			older += " (" + w.f.Owners[0].Name + ")"
		}
		h.Vars["Detail"] = "This pod is Running and Ready: it belongs to " + older + " and keeps serving while the new one fails. " + h.Vars["Detail"]
	}
	return h
}

func ownedByReplicaSet(p *corev1.Pod, rs string) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "ReplicaSet" && o.Name == rs {
			return true
		}
	}
	return false
}

// rolloutBlocker returns the least healthy unready pod of the Deployment's
// newest ReplicaSet, and that ReplicaSet's name.
func (w *walk) rolloutBlocker(wl *Workload) (*corev1.Pod, string) {
	var rs string
	var pods []corev1.Pod
	switch {
	case w.f.Workload == wl && len(w.f.Children) > 0:
		rs = w.f.Children[0].Name // newest first
		for _, p := range w.f.WorkloadPods {
			if ownedByReplicaSet(&p, rs) {
				pods = append(pods, p)
			}
		}
	case w.f.Workload == nil && w.f.Rollout != nil:
		rs, pods = w.f.Rollout.NewReplicaSet, w.f.Rollout.Pods
	}
	var failing []corev1.Pod
	for _, p := range pods {
		if len(PodProblems(&p)) > 0 {
			failing = append(failing, p)
		}
	}
	return WorstPod(failing), rs
}

// blockerRule diagnoses the blocking pod on its own: with the walk's own
// facts when it is the pod examined here, else from its status alone (its
// events and logs were not gathered). The owner chain is left out, so the
// rollout rule does not recurse.
func (w *walk) blockerRule(p *corev1.Pod) (rule, summary string) {
	var sub Facts
	if w.pod != nil && p.Name == w.pod.Name {
		sub = *w.f
		sub.Workload, sub.WorkloadPods, sub.Children = nil, nil, nil
	} else {
		sub = Facts{Pod: p, Now: w.now}
		sub.Events = List[corev1.Event]{State: Unknown, Reason: "not gathered for this pod"}
		sub.Node = Ref[corev1.Node]{Name: p.Spec.NodeName, Reason: "not gathered for this pod"}
	}
	sub.Target = Target{Kind: "pod", Namespace: p.Namespace, Name: p.Name}
	sub.Owners, sub.Rollout = nil, nil
	d := diagnoseSub(&sub)
	return d.RootCause.Rule, d.RootCause.Summary
}

// diagnoseSub is Diagnose, set in init: the rule table cannot refer to
// Diagnose directly, which reads the table (an initialization cycle).
var diagnoseSub func(*Facts) *Diagnosis

func init() { diagnoseSub = Diagnose }
