package diag

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Node rules look at the node the pod is bound to: its conditions (current
// truth) and its recent events (what happened lately, weaker evidence).
var nodeRules = []*rule{
	{
		ID: "node.not-ready", Severity: Critical, Step: StepNode, Rank: rankNode,
		Match:   both(matchNodeNotReady, schedNodeMatcher("node.not-ready")),
		Summary: "Node {{.Node}} {{.State}}: {{.Why}}",
		Explanation: "A node is Ready when its kubelet reports in and its container runtime and network plugin " +
			"work. {{.Detail}} Pods on a NotReady node are not started or restarted, and after a while they " +
			"are evicted to other nodes (except where nothing replaces them).",
		NextSteps: []string{
			"On the node: systemctl status kubelet containerd (or docker); journalctl -u kubelet --since '1 hour ago'.",
		},
		Commands: []string{
			"kubectl describe node {{.Node}}",
			"kubectl get pods -A -o wide --field-selector spec.nodeName={{.Node}}",
		},
	},
	{
		ID: "node.disk-pressure", Severity: Error, Step: StepNode, Rank: rankNode + 1,
		Match: both(nodeConditionMatcher(corev1.NodeDiskPressure, []string{"ImageGCFailed", "FreeDiskSpaceFailed", "EvictionThresholdMet"},
			[]string{"ephemeral-storage", "nodefs", "imagefs", "garbage collect", "disk"}), schedNodeMatcher("node.disk-pressure")),
		Summary: "Node {{.Node}} is short of disk{{.Since}}",
		Explanation: "The kubelet keeps free space on the node's root and image filesystems above its eviction " +
			"thresholds (nodefs.available, imagefs.available). When image garbage collection cannot free enough " +
			"(ImageGCFailed: running containers' images and writable layers cannot be removed), the node gets " +
			"DiskPressure, takes no new pods and evicts pods, those using most ephemeral storage first.",
		NextSteps: []string{
			"Find what fills the disk: container logs, emptyDir and hostPath data, writable layers (du -sh /var/lib/containerd /var/lib/docker /var/log/pods).",
			"Set ephemeral-storage requests/limits and emptyDir sizeLimit on pods; give the node a bigger disk for images.",
		},
		Commands: []string{"kubectl describe node {{.Node}}"},
	},
	{
		ID: "node.memory-pressure", Severity: Error, Step: StepNode, Rank: rankNode + 1,
		Match: both(nodeConditionMatcher(corev1.NodeMemoryPressure, []string{"SystemOOM", "EvictionThresholdMet"},
			[]string{"memory", "OOM"}), schedNodeMatcher("node.memory-pressure")),
		Summary: "Node {{.Node}} is short of memory{{.Since}}",
		Explanation: "The node's free memory fell below the kubelet's eviction threshold (memory.available), or " +
			"the kernel's OOM killer fired for the whole node (SystemOOM). Limits may add up to more than the " +
			"node has (overcommit): requests are what the scheduler reserves, limits are not. This differs from " +
			"a container's own OOMKilled, which is about its limit.",
		NextSteps: []string{
			"See which pods use most memory on the node (kubectl top pods -A --sort-by=memory) and set requests close to real usage so the scheduler spreads them.",
		},
		Commands: []string{
			"kubectl describe node {{.Node}}",
			"kubectl top node {{.Node}}",
		},
	},
	{
		ID: "node.pid-pressure", Severity: Error, Step: StepNode, Rank: rankNode + 1,
		Match:   both(nodeConditionMatcher(corev1.NodePIDPressure, []string{"EvictionThresholdMet"}, []string{"pid"}), schedNodeMatcher("node.pid-pressure")),
		Summary: "Node {{.Node}} is running out of process ids{{.Since}}",
		Explanation: "Processes on the node are close to the pid limit; new processes and containers fail. A " +
			"pod that forks without bound (a fork bomb, a leak of child processes) is the usual cause.",
		NextSteps: []string{"Find the pod with the most processes on the node; set the kubelet's podPidsLimit."},
		Commands:  []string{"kubectl describe node {{.Node}}"},
	},
	{
		ID: "node.network-unavailable", Severity: Error, Step: StepNode, Rank: rankNode + 1,
		Match:   both(nodeConditionMatcher(corev1.NodeNetworkUnavailable, nil, nil), schedNodeMatcher("node.network-unavailable")),
		Summary: "Node {{.Node}} has no pod network{{.Since}}",
		Explanation: "The node's pod network route or CNI setup is missing, so pods there cannot talk to pods " +
			"elsewhere. On clouds the route controller may have failed to create the route (a route table " +
			"quota is a known case); otherwise the CNI plugin has not configured the node. {{.Message}}",
		NextSteps: []string{"Check the cloud's route table (quota) and the route controller's events, and the CNI pod on this node."},
		Commands:  []string{"kubectl describe node {{.Node}}", "kubectl get events -A --field-selector involvedObject.name={{.Node}}"},
	},
	{
		ID: "node.cordoned", Severity: Warning, Step: StepNode, Rank: rankCordoned,
		Match:   both(matchCordoned, schedNodeMatcher("node.cordoned")),
		Summary: "Node {{.Node}} is cordoned (SchedulingDisabled)",
		Explanation: "spec.unschedulable is set, usually by kubectl cordon or drain before maintenance: running " +
			"pods stay, but no new pod lands there, and a drain may evict them soon.",
		NextSteps: []string{"If maintenance is over, uncordon it: kubectl uncordon {{.Node}}."},
		Commands:  []string{"kubectl get node {{.Node}}"},
	},
}

// both runs two matchers of one rule: a node rule sees the pod's own node,
// and, for a pod the scheduler cannot place, the nodes its message blames.
func both(a, b func(*walk) []hit) func(*walk) []hit {
	return func(w *walk) []hit { return append(a(w), b(w)...) }
}

func (w *walk) nodeCondition(t corev1.NodeConditionType) *corev1.NodeCondition {
	if w.f.Node.Object == nil {
		return nil
	}
	for i, c := range w.f.Node.Object.Status.Conditions {
		if c.Type == t {
			return &w.f.Node.Object.Status.Conditions[i]
		}
	}
	return nil
}

func (w *walk) nodeEvents(reasons []string, words []string) []event {
	var out []event
	for _, e := range w.nevs {
		if w.recent(e.Last) && oneOf(e.Reason, reasons...) && (e.Reason != "EvictionThresholdMet" || containsAny(e.Message, words...)) {
			out = append(out, e)
		}
	}
	return out
}

func conditionLine(node string, c *corev1.NodeCondition, age string) string {
	s := fmt.Sprintf("node %s: %s=%s", node, c.Type, c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + oneLine(c.Message)
	}
	if age != "" {
		s += ", for " + age
	}
	return s
}

// nodeConditionMatcher matches a pressure condition that is True now, or
// recent node events of the same kind (then as a warning: the condition
// may have cleared, the trouble may come back).
func nodeConditionMatcher(t corev1.NodeConditionType, reasons, words []string) func(*walk) []hit {
	return func(w *walk) []hit {
		c := w.nodeCondition(t)
		evs := w.nodeEvents(reasons, words)
		active := c != nil && c.Status == corev1.ConditionTrue
		if !active && len(evs) == 0 {
			return nil
		}
		h := hit{Vars: map[string]string{"Since": "", "Message": ""}}
		if active {
			h.Evidence = append(h.Evidence, conditionLine(w.f.Node.Name, c, w.since(c.LastTransitionTime.Time)))
			h.Vars["Since"] = " (" + string(t) + " for " + w.since(c.LastTransitionTime.Time) + ")"
			h.Vars["Message"] = oneLine(c.Message)
		} else {
			h.Severity = sev(Warning)
			h.Vars["Since"] = " (recent events; " + string(t) + " is not set now)"
		}
		h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
		return []hit{h}
	}
}

func matchNodeNotReady(w *walk) []hit {
	n := w.f.Node
	if n.Object == nil {
		return nil
	}
	r := w.nodeReady()
	var evs []event
	for _, e := range w.nevs {
		if w.recent(e.Last) && (oneOf(e.Reason, "NodeNotReady", "ContainerGCFailed") || containsAny(e.Message, "PLEG is not healthy", "container runtime is down")) {
			evs = append(evs, e)
		}
	}
	notReady := r != nil && r.Status != corev1.ConditionTrue
	if !notReady && len(evs) == 0 {
		return nil
	}
	h := hit{Vars: map[string]string{}}
	msg := ""
	if notReady {
		h.Evidence = append(h.Evidence, conditionLine(n.Name, r, w.since(r.LastTransitionTime.Time)))
		h.Vars["State"] = "is NotReady (Ready=" + string(r.Status) + " for " + w.since(r.LastTransitionTime.Time) + ")"
		msg = r.Reason + " " + r.Message
	} else {
		h.Severity = sev(Warning)
		h.Vars["State"] = "is Ready now but was recently unhealthy"
	}
	h.Evidence = append(h.Evidence, w.formatEvents(evs)...)
	for _, e := range evs {
		msg += " " + e.Message
	}
	switch {
	case containsAny(msg, "PLEG is not healthy"):
		h.Vars["Why"] = "PLEG is not healthy: the container runtime stopped answering the kubelet in time"
		h.Vars["Detail"] = "PLEG (the kubelet's pod lifecycle event generator) relists containers through the runtime; when the runtime hangs (docker ps hanging, too many containers, an overloaded node), the kubelet reports NotReady."
		h.Next = append(h.Next, "Restart the runtime and then the kubelet on the node (systemctl restart containerd kubelet); look for a container that hangs the runtime.")
	case containsAny(msg, "container runtime is down", "DockerDaemonNotReady", "container runtime status check may not have completed", "ContainerGCFailed"):
		h.Vars["Why"] = "the container runtime is down or not answering"
		h.Vars["Detail"] = "The kubelet cannot talk to containerd/docker."
		h.Next = append(h.Next, "Check and restart the runtime on the node: systemctl status containerd; journalctl -u containerd.")
	case containsAny(msg, "NetworkPluginNotReady", "cni config uninitialized", "cni plugin not initialized", "network plugin is not ready"):
		h.Vars["Why"] = "the network plugin is not ready (CNI not initialized)"
		h.Vars["Detail"] = "The runtime has no working CNI configuration, so no pod network can be set up."
		h.Next = append(h.Next, "Check the CNI daemonset pod on the node and /etc/cni/net.d on the node.")
	case r != nil && (r.Status == corev1.ConditionUnknown || containsAny(msg, "Kubelet stopped posting node status", "NodeStatusUnknown")):
		h.Vars["Why"] = "the kubelet stopped posting node status"
		h.Vars["Detail"] = "The control plane has not heard from the kubelet: the machine is down, unreachable, or the kubelet is dead."
		h.Next = append(h.Next, "Check the machine is up and reachable, then the kubelet (systemctl status kubelet).")
	default:
		h.Vars["Why"] = oneLine(msg)
		if h.Vars["Why"] == "" {
			h.Vars["Why"] = "see the node's conditions"
		}
		h.Vars["Detail"] = ""
	}
	return []hit{h}
}

func matchCordoned(w *walk) []hit {
	n := w.f.Node.Object
	if n == nil || !n.Spec.Unschedulable {
		return nil
	}
	h := hit{Evidence: []string{"node " + n.Name + ": spec.unschedulable=true"}}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeUnschedulable {
			h.Evidence = append(h.Evidence, "node "+n.Name+": taint "+formatTaint(t))
		}
	}
	return []hit{h}
}
