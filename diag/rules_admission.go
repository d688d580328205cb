package diag

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet ends pods the scheduler placed: it shuts them down before its
// node powers off (pkg/kubelet/nodeshutdown), and it refuses to admit a pod
// whose needs its node cannot meet after all (pkg/kubelet/lifecycle,
// kubelet.go rejectPod: phase Failed, message "Pod was rejected: …").
// Neither pod is retried on that node; its controller makes a new one.
var admissionRules = []*rule{
	{
		ID: "pod.node-shutdown", Severity: Warning, Step: StepDescribe, Rank: rankLifecycle,
		Match:   matchNodeShutdown,
		Summary: "Pod {{.Pod}} {{.What}} node {{.Node}} was shutting down",
		Explanation: "With graceful node shutdown the kubelet notices that its machine is about to power off " +
			"(a reboot, maintenance, a spot/preemptible instance reclaimed) and stops the pods first, within " +
			"shutdownGracePeriod; pods arriving meanwhile are rejected. These pods are marked Failed and are not " +
			"restarted: a Deployment, ReplicaSet or StatefulSet makes replacements, a bare pod is simply gone. " +
			"The Failed pod objects stay until someone deletes them or the pod garbage collector does.",
		NextSteps: []string{
			"Check that the workload's replacement pods run elsewhere; if the node was reclaimed on purpose, nothing is broken.",
			"If the shutdowns are unexpected, find out why node {{.Node}} powered off (its events, the cloud provider's instance history).",
			"Clean up the Failed pods once understood: kubectl delete pods -n {{.Namespace}} --field-selector status.phase=Failed.",
		},
		Commands: []string{
			"kubectl get pods -n {{.Namespace}} --field-selector status.phase=Failed -o wide",
			"{{if .Node}}kubectl describe node {{.Node}}{{end}}",
		},
	},
	{
		ID: "pod.admission-rejected", Severity: Error, Step: StepDescribe, Rank: rankLifecycle,
		Match:   matchAdmissionRejected,
		Summary: "The kubelet on {{.Node}} rejected pod {{.Pod}} the scheduler had placed there: {{.Short}}",
		Explanation: "The scheduler chose node {{.Node}}, but when the pod arrived the kubelet's own admission " +
			"check failed ({{.Reason}}), so the pod failed without running a container. This is not a scheduling " +
			"failure: the scheduler and the kubelet disagreed about the node. {{.Detail}}",
		NextSteps: []string{
			"The kubelet does not retry a rejected pod; its controller creates a new one. Delete the Failed pod once understood.",
		},
		Commands: []string{
			"kubectl describe node {{.Node}}",
			"kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={{.Node}}",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.nodeName}{\" \"}{.spec.schedulerName}{\"\\n\"}'",
			"kubectl get events -n {{.Namespace}} --field-selector involvedObject.name={{.Pod}}",
		},
	},
}

// nodeShutdownReason returns why the kubelet's node shutdown manager ended
// the pod ("terminated" or "rejected"), or "" when it did not. Reasons and
// messages: "Terminated" / "Pod was terminated in response to imminent node
// shutdown." and "NodeShutdown" / "Pod was rejected as the node is shutting
// down." (1.21+); "Shutdown" / "Node is shutting, evicting pods" (1.20).
func nodeShutdownReason(p *corev1.Pod) string {
	if p.Status.Phase != corev1.PodFailed {
		return ""
	}
	msg := p.Status.Message
	switch {
	case p.Status.Reason == "NodeShutdown" || strings.Contains(msg, "node is shutting down"):
		return "rejected"
	case (p.Status.Reason == "Terminated" || p.Status.Reason == "Shutdown") &&
		containsAny(msg, "imminent node shutdown", "Node is shutting"):
		return "terminated"
	}
	return ""
}

func matchNodeShutdown(w *walk) []hit {
	p := w.pod
	if p == nil {
		return nil
	}
	kind := nodeShutdownReason(p)
	if kind == "" {
		return nil
	}
	h := hit{Evidence: []string{"pod status: phase Failed, reason " + p.Status.Reason + ": " + oneLine(p.Status.Message)}}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			h.Evidence = append(h.Evidence, fmt.Sprintf("condition DisruptionTarget=True (%s): %s", c.Reason, oneLine(c.Message)))
		}
	}
	for _, c := range w.cs {
		if t, _ := c.lastTermination(); t != nil {
			h.Evidence = append(h.Evidence, w.formatTermination(c, t, true))
		}
	}
	what := "was stopped because"
	if kind == "rejected" {
		what = "was rejected because"
	}
	if r := w.nodeReady(); r != nil {
		h.Evidence = append(h.Evidence, fmt.Sprintf("node %s now: Ready=%s (%s) since %s", p.Spec.NodeName, r.Status, r.Reason, w.age(r.LastTransitionTime.Time)))
	}
	for _, e := range w.nevs {
		if oneOf(e.Reason, "Rebooted", "Shutdown", "NodeNotReady", "Starting", "NodeReady") {
			h.Evidence = append(h.Evidence, w.formatEvent(e))
		}
	}
	h.Vars = map[string]string{"What": what}
	return []hit{h}
}

// kubeletRejection is the message the kubelet gives a rejected pod.
const kubeletRejection = "Pod was rejected: "

var (
	resourceShortfall = regexp.MustCompile(`Node didn't have enough resource: ([^,]+), requested: (\d+), used: (\d+), capacity: (\d+)`)
	devicesShortfall  = regexp.MustCompile(`requested number of devices unavailable for (\S+)\. Requested: (\d+), Available: (\d+)`)
)

func matchAdmissionRejected(w *walk) []hit {
	p := w.pod
	if p == nil || p.Status.Phase != corev1.PodFailed || nodeShutdownReason(p) != "" || p.Spec.NodeName == "" {
		return nil
	}
	reason, msg := p.Status.Reason, p.Status.Message
	rejected := strings.HasPrefix(msg, kubeletRejection) || strings.HasPrefix(reason, "OutOf") ||
		oneOf(reason, "NodeAffinity", "UnexpectedAdmissionError", "TopologyAffinityError", "SMTAlignmentError", "NodePorts", "PodToleratesNodeTaints")
	if !rejected || reason == "Evicted" {
		return nil
	}
	h := hit{Evidence: []string{"pod status: phase Failed, reason " + reason + ": " + oneLine(msg)}}
	h.Evidence = append(h.Evidence, w.formatEvents(w.podEvents(reason))...)
	// A kubelet restart is the usual reason its view differs from the
	// scheduler's: show it when the node reports one.
	for _, e := range w.nevs {
		if e.Reason == "Starting" && w.recent(e.Last) {
			h.Evidence = append(h.Evidence, w.formatEvent(e))
		}
	}
	text := strings.TrimPrefix(msg, kubeletRejection)
	vars := map[string]string{"Reason": reason, "Short": shortMessage(text), "Detail": ""}
	switch {
	case strings.HasPrefix(reason, "OutOf"):
		res := strings.TrimPrefix(reason, "OutOf")
		if m := resourceShortfall.FindStringSubmatch(text); m != nil {
			res = m[1]
			vars["Short"] = fmt.Sprintf("not enough %s (requested %s, used %s, capacity %s)", m[1], m[2], m[3], m[4])
		}
		vars["Detail"] = "The kubelet counts the requests of the pods it runs against the node's allocatable; the " +
			"scheduler's view was stale or wrong: the kubelet restarted and its allocatable changed, pods were " +
			"bound with spec.nodeName (which skips the scheduler), or another scheduler placed pods at the same time. " +
			"For an extended resource such as a GPU, a kubelet restart leaves it at 0 until the device plugin registers again."
		w.nodeResourceEvidence(&h, corev1.ResourceName(res))
		h.Next = append(h.Next, "Compare the node's allocatable "+res+" with what its pods request (kubectl describe node "+p.Spec.NodeName+"); if the pod set spec.nodeName itself, let the scheduler place it instead.")
		if strings.Contains(res, "/") {
			h.Next = append(h.Next, "Check the device plugin pod for "+res+" on node "+p.Spec.NodeName+": after a kubelet restart it must register again before pods asking for "+res+" are admitted.")
		}
	case reason == "UnexpectedAdmissionError":
		vars["Detail"] = "A resource manager of the kubelet (device, CPU, memory or topology manager) failed to " +
			"allocate what the pod asked for. For devices this is typically the device plugin not registered again " +
			"after a kubelet restart, or devices it reports as unhealthy."
		if m := devicesShortfall.FindStringSubmatch(text); m != nil {
			vars["Short"] = fmt.Sprintf("no %s device available to allocate (requested %s, available %s)", m[1], m[2], m[3])
			w.nodeResourceEvidence(&h, corev1.ResourceName(m[1]))
			h.Next = append(h.Next, "Check the device plugin pod for "+m[1]+" on node "+p.Spec.NodeName+" (running, registered, devices healthy) and restart it if the kubelet restarted after it.")
		}
	case reason == "NodeAffinity":
		vars["Detail"] = "The kubelet checks nodeSelector and required node affinity again on arrival: the node's " +
			"labels changed after the pod was bound, or the pod was bound with spec.nodeName to a node it does not match."
		h.Evidence = append(h.Evidence, "pod node selector/affinity:"+strings.TrimPrefix(w.selectorText(), " "))
		if n := w.f.Node.Object; n != nil {
			h.Evidence = append(h.Evidence, fmt.Sprintf("node %s labels: %s", n.Name, formatLabels(n.Labels)))
		}
		h.Next = append(h.Next, "Compare the pod's nodeSelector/affinity with node "+p.Spec.NodeName+"'s labels; restore the label or fix the selector.")
	}
	h.Vars = vars
	return []hit{h}
}

// nodeResourceEvidence adds the node's allocatable of one resource and the
// pod's request of it.
func (w *walk) nodeResourceEvidence(h *hit, res corev1.ResourceName) {
	req := podRequests(&w.pod.Spec)
	line := "pod requests " + string(res)
	if q, ok := req[res]; ok {
		line += " " + humanQuantity(res, q)
	} else {
		line += ": none"
	}
	if n := w.f.Node.Object; n != nil {
		if q, ok := n.Status.Allocatable[res]; ok {
			line += fmt.Sprintf("; node %s allocatable %s now", n.Name, humanQuantity(res, q))
		} else {
			line += fmt.Sprintf("; node %s reports no allocatable %s now", n.Name, res)
		}
	}
	h.Evidence = append(h.Evidence, line)
}

func formatLabels(l map[string]string) string {
	if len(l) == 0 {
		return "(none)"
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ", ")
}
