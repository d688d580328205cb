package diag

import (
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Ranks of the rule families: lower explains more of the failure.
const (
	rankLifecycle = 10
	rankCreate    = 20
	rankSchedule  = 25
	rankImage     = 30
	rankConfig    = 32
	rankInit      = 35
	rankStart     = 38
	rankHook      = 40
	rankProbeKill = 42
	rankCrash     = 45
	rankReadiness = 50
	rankRestarts  = 55
	rankPreStop   = 58
	rankRollout   = 60
	rankService   = 65
	rankNode      = 80
	rankCordoned  = 90
)

// terminatingGrace is how long past its deletionTimestamp a pod may linger
// before it counts as stuck: the kubelet needs a moment to report back.
const terminatingGrace = time.Minute

var lifecycleRules = []*rule{
	{
		ID: "pod.evicted", Severity: Error, Step: StepDescribe, Rank: rankLifecycle,
		Match:   matchEvicted,
		Summary: "Pod {{.Pod}} was evicted from node {{.Node}}: {{.Cause}}",
		Explanation: "The kubelet evicts pods when its node runs short of something pods cannot share " +
			"(memory, disk, process ids), or the pod is removed because a NoExecute taint was put on the node. " +
			"Pods using more than they requested are evicted first. {{.Detail}}",
		NextSteps: []string{
			"An evicted pod is not restarted: its ReplicaSet or StatefulSet creates a new one; delete the Evicted pod object once understood.",
		},
		Commands: []string{
			"{{if .Node}}kubectl describe node {{.Node}}{{end}}",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}}",
		},
	},
	{
		ID: "pod.node-lost", Severity: Critical, Step: StepDescribe, Rank: rankLifecycle,
		Match:   matchNodeLost,
		Summary: "Pod {{.Pod}} is on node {{.Node}}, which the control plane has lost: {{.NodeState}}",
		Explanation: "The kubelet on {{.Node}} no longer reports, or reports that it cannot track its containers, so " +
			"the status shown for the pod may be stale: nobody knows whether its containers still run. Kubernetes " +
			"does not delete such pods on its own, and a StatefulSet will not start a replacement while the old " +
			"pod exists, so its service stays down until the node returns or is removed.",
		NextSteps: []string{
			"Find out why the node stopped reporting: is the machine up, is the kubelet running (journalctl -u kubelet), is the container runtime stuck (PLEG)?",
			"If the machine is gone for good, delete the Node object; its pods are then removed and replaced.",
			"Force-delete the pod only when you know its containers are stopped: for a StatefulSet, two pods with the same identity can corrupt data.",
		},
		Commands: []string{
			"kubectl describe node {{.Node}}",
			"kubectl get pods -A -o wide --field-selector spec.nodeName={{.Node}}",
		},
	},
	{
		ID: "pod.stuck-terminating", Severity: Warning, Step: StepDescribe, Rank: rankLifecycle,
		Match:   matchStuckTerminating,
		Summary: "Pod {{.Pod}} has been terminating for {{.Overdue}} past its grace period{{.Because}}",
		Explanation: "Deleting a pod sets its deletionTimestamp; the kubelet stops the containers and the API " +
			"server removes the object once every finalizer is gone. A pod stays Terminating when a finalizer's " +
			"controller never finishes, when its node is down so no kubelet confirms the stop, or when the " +
			"process ignores SIGTERM and the kill cannot complete.",
		NextSteps: []string{
			"Force deletion only removes the API object; it does not stop containers on an unreachable node. For StatefulSet pods this risks two copies of the same member and data loss.",
		},
		Commands: []string{
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.metadata.finalizers}'",
			"{{if .Node}}kubectl describe node {{.Node}}{{end}}",
		},
	},
}

var lowOnResource = regexp.MustCompile(`low on resource: ([A-Za-z0-9./_-]+)`)

func matchEvicted(w *walk) []hit {
	p := w.pod
	if p == nil || nodeShutdownReason(p) != "" {
		return nil // pod.node-shutdown explains its DisruptionTarget condition
	}
	var h hit
	var msg string
	if p.Status.Reason == "Evicted" {
		msg = p.Status.Message
		h.Evidence = append(h.Evidence, "pod status: reason Evicted: "+oneLine(p.Status.Message))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue &&
			oneOf(c.Reason, "TerminationByKubelet", "DeletionByTaintManager") {
			if c.Message != p.Status.Message {
				h.Evidence = append(h.Evidence, "condition DisruptionTarget=True ("+c.Reason+"): "+oneLine(c.Message))
			} else {
				h.Evidence = append(h.Evidence, "condition DisruptionTarget=True ("+c.Reason+"), same message")
			}
			if msg == "" {
				msg = c.Message
			}
			if c.Reason == "DeletionByTaintManager" {
				msg += " taint"
			}
		}
	}
	evs := w.podEvents("Evicted", "TaintManagerEviction")
	h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
	if len(h.Evidence) == 0 {
		return nil
	}
	for _, e := range evs {
		if msg == "" {
			msg = e.Message
		}
		if e.Reason == "TaintManagerEviction" {
			msg += " taint"
		}
	}
	resourceName := ""
	if m := lowOnResource.FindStringSubmatch(msg); m != nil {
		resourceName = strings.TrimSuffix(m[1], ".")
	} else if containsAny(msg, "ephemeral", "EmptyDir") {
		resourceName = "ephemeral-storage"
	}
	vars := map[string]string{}
	switch {
	case resourceName == "ephemeral-storage" || strings.Contains(resourceName, "fs"):
		vars["Cause"] = "the node ran low on disk (" + resourceName + ")"
		vars["Detail"] = "Disk evictions come from container logs, emptyDir volumes and files written into the container's own filesystem layer."
		h.Next = []string{
			"Set resources.requests and limits for ephemeral-storage on the containers, so usage is accounted and bounded.",
			"Give emptyDir volumes a sizeLimit, and write data to a volume and logs to stdout instead of into the container layer.",
			"Check the node's DiskPressure condition and its ImageGCFailed events: the whole node may be short of disk.",
		}
	case resourceName == "memory":
		vars["Cause"] = "the node ran low on memory"
		vars["Detail"] = "Under memory pressure the kubelet evicts BestEffort pods first, then Burstable pods using most above their request."
		h.Next = []string{
			"Set the memory request near the real usage (and the limit close to it) so the pod is not first in line.",
			"Check the node's MemoryPressure condition and what else runs there.",
		}
	case resourceName == "pids":
		vars["Cause"] = "the node ran out of process ids"
		vars["Detail"] = "A process forking without bound on the node exhausts pids for everyone."
		h.Next = []string{"Find the pod spawning processes on the node; set a pod pids limit on the kubelet."}
	case strings.HasSuffix(msg, "taint"):
		vars["Cause"] = "a NoExecute taint was put on the node"
		vars["Detail"] = "The taint manager deletes pods that do not tolerate a NoExecute taint (node not ready, unreachable, or an admin's taint)."
		h.Next = []string{"Look at the node's taints; add a toleration only if the pod should stay on such a node."}
	default:
		vars["Cause"] = oneLine(msg)
		vars["Detail"] = ""
	}
	h.Vars = vars
	return []hit{h}
}

func (w *walk) nodeReady() *corev1.NodeCondition {
	if w.f.Node.Object == nil {
		return nil
	}
	for i, c := range w.f.Node.Object.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return &w.f.Node.Object.Status.Conditions[i]
		}
	}
	return nil
}

func podTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func matchNodeLost(w *walk) []hit {
	p := w.pod
	if p == nil || p.Spec.NodeName == "" || podTerminal(p) {
		return nil
	}
	var h hit
	state := ""
	if p.Status.Phase == corev1.PodUnknown {
		h.Evidence = append(h.Evidence, "pod phase Unknown: the kubelet stopped reporting the pod's status")
		state = "pod phase Unknown"
	}
	if p.Status.Reason == "NodeLost" {
		h.Evidence = append(h.Evidence, "pod status: reason NodeLost: "+oneLine(p.Status.Message))
		state = "NodeLost"
	}
	switch n := w.f.Node; {
	case n.State == NotFound:
		h.Evidence = append(h.Evidence, "node "+n.Name+" no longer exists")
		state = "the node no longer exists"
	case n.State == Found:
		r := w.nodeReady()
		if r == nil || r.Status == corev1.ConditionTrue {
			if state == "" {
				return nil // the node reports again: the pod's status is current
			}
			break
		}
		// A node that is merely not ready (no CNI yet) still reports its
		// pods; the pod is lost when the kubelet is silent or cannot see
		// its containers, and only if it ever ran there.
		if state == "" && (!w.anyStarted() || !(r.Status == corev1.ConditionUnknown ||
			containsAny(r.Message, "PLEG is not healthy", "container runtime is down", "Kubelet stopped posting")) &&
			len(w.podEvents("NodeNotReady")) == 0) {
			return nil
		}
		line := "node " + n.Name + ": Ready=" + string(r.Status) + " (" + r.Reason + ")"
		if r.Message != "" {
			line += ": " + oneLine(r.Message)
		}
		h.Evidence = append(h.Evidence, line+", for "+w.since(r.LastTransitionTime.Time))
		state = "Ready=" + string(r.Status) + " for " + w.since(r.LastTransitionTime.Time)
		if r.Message != "" {
			state += " (" + oneLine(r.Message) + ")"
		}
		h.Evidence = append(h.Evidence, w.formatEvents(w.podEvents("NodeNotReady"))...)
	case n.State == Unknown:
		evs := w.podEvents("NodeNotReady")
		if len(evs) > 0 {
			h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
			if state == "" {
				state = "the node was reported not ready (" + w.age(evs[len(evs)-1].Last) + ")"
			}
		}
	}
	if state == "" {
		return nil
	}
	h.Vars = map[string]string{"NodeState": state}
	return []hit{h}
}

func matchStuckTerminating(w *walk) []hit {
	p := w.pod
	if p == nil || p.DeletionTimestamp == nil {
		return nil
	}
	over := w.now.Sub(p.DeletionTimestamp.Time)
	if over < terminatingGrace {
		return nil
	}
	h := hit{Evidence: []string{"deletionTimestamp " + p.DeletionTimestamp.UTC().Format(time.RFC3339) + " (" + w.age(p.DeletionTimestamp.Time) + ")"}}
	var because []string
	if len(p.Finalizers) > 0 {
		h.Evidence = append(h.Evidence, "finalizers: "+strings.Join(p.Finalizers, ", "))
		because = append(because, "finalizers "+strings.Join(p.Finalizers, ", ")+" still present")
		h.Next = append(h.Next, "Finalizers are removed by the controller that added them; if it is gone, remove them by hand: kubectl patch pod -n "+
			p.Namespace+" "+p.Name+` --type=merge -p '{"metadata":{"finalizers":null}}'`)
	}
	if r := w.nodeReady(); r != nil && r.Status != corev1.ConditionTrue {
		h.Evidence = append(h.Evidence, "node "+p.Spec.NodeName+": Ready="+string(r.Status)+" ("+r.Reason+")")
		because = append(because, "node "+p.Spec.NodeName+" is not ready")
		h.Next = append(h.Next, "The node is down, so no kubelet confirms the stop: bring the node back, or delete the Node if the machine is gone.")
	} else if w.f.Node.State == NotFound && p.Spec.NodeName != "" {
		because = append(because, "node "+p.Spec.NodeName+" no longer exists")
	}
	for _, c := range w.mainContainers() {
		if c.Status != nil && c.Status.State.Running != nil {
			h.Evidence = append(h.Evidence, c.kind()+" still running")
		}
	}
	if len(because) == 0 {
		h.Next = append(h.Next, "No finalizer and the node is up: the process probably ignores SIGTERM or a preStop hook hangs; check terminationGracePeriodSeconds and the app's signal handling.")
	}
	force := "kubectl delete pod -n " + p.Namespace + " " + p.Name + " --grace-period=0 --force"
	if w.ownedBy("StatefulSet") {
		h.Next = append(h.Next, "This pod belongs to a StatefulSet: force-delete only after making sure its containers are really stopped ("+force+").")
	} else {
		h.Next = append(h.Next, "Last resort: "+force)
	}
	b := ""
	if len(because) > 0 {
		b = ": " + strings.Join(because, "; ")
	}
	h.Vars = map[string]string{"Overdue": shortAge(over), "Because": b}
	return []hit{h}
}

func (w *walk) ownedBy(kind string) bool {
	for _, o := range w.f.Owners {
		if o.Kind == kind {
			return true
		}
	}
	if w.pod != nil {
		for _, r := range w.pod.OwnerReferences {
			if r.Kind == kind {
				return true
			}
		}
	}
	return false
}
