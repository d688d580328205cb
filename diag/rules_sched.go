package diag

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The scheduler's FailedScheduling message counts the nodes per reason:
//
//	0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
//	4 Insufficient memory. preemption: 0/5 nodes are available: ...
//
// Older schedulers wrote "had taint {k: v}, that the pod didn't tolerate"
// and "didn't match node selector"; messages without the node count come
// from plugins ("pod has unbound immediate PersistentVolumeClaims").
var schedulingRules = []*rule{
	{
		ID: "sched.insufficient-resources", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   schedMatcher(schedInsufficient),
		Summary: "Pod {{.Pod}} cannot be scheduled: {{if .OnNode}}its node {{.OnNode}} lacks{{else}}{{.Nodes}} node(s) lack{{end}} {{.Resources}} for its requests ({{.Requests}})",
		Explanation: "The scheduler places a pod only on a node whose allocatable capacity minus what other pods " +
			"already requested covers the pod's requests. {{.Fit}}",
		NextSteps: []string{
			"Lower the pod's requests if they are larger than it really uses, or add nodes (or bigger ones) to the cluster.",
			"Free capacity spread thinly over many nodes does not help a big pod (fragmentation): fewer, larger nodes fit large pods better.",
		},
		Commands: []string{
			"kubectl describe nodes | grep -A 8 'Allocated resources'",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[*].resources}'",
		},
	},
	{
		ID: "sched.node-selector-mismatch", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   schedMatcher(schedSelector),
		Summary: "Pod {{.Pod}} cannot be scheduled: {{.Nodes}} node(s) do not match its node selector/affinity{{.Selector}}",
		Explanation: "A nodeSelector or required node affinity limits the pod to nodes with certain labels; " +
			"no schedulable node carries them. Either the labels are mistyped in the pod, or the nodes were " +
			"never labelled.",
		NextSteps: []string{
			"Compare the pod's nodeSelector/affinity with the nodes' labels; fix the pod spec, or label a node (kubectl label node NODE key=value).",
		},
		Commands: []string{
			"kubectl get nodes --show-labels",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.nodeSelector}{\"\\n\"}{.spec.affinity}'",
		},
	},
	{
		ID: "sched.untolerated-taint", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   schedMatcher(schedTaint),
		Summary: "Pod {{.Pod}} cannot be scheduled: {{.Nodes}} node(s) have taint {{.Taint}} that it does not tolerate",
		Explanation: "A taint keeps pods off a node unless they carry a matching toleration. Taints mark nodes " +
			"reserved for some workloads (GPU, control plane) or nodes with a problem.",
		NextSteps: []string{
			"If the pod belongs on those nodes, add a toleration for {{.Taint}}; otherwise remove the taint if it is left over (kubectl taint node NODE KEY-).",
		},
		Commands: []string{
			"kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints",
			"{{if .TaintedNode}}kubectl describe node {{.TaintedNode}}{{end}}",
		},
	},
	{
		ID: "sched.no-nodes", Severity: Critical, Step: StepEvents, Rank: rankSchedule,
		Match:   schedMatcher(schedNoNodes),
		Summary: "Pod {{.Pod}} cannot be scheduled: {{.Why}}",
		Explanation: "The scheduler found no node that may take pods at all: the cluster has none, or every " +
			"node is NotReady, unreachable or cordoned (SchedulingDisabled).",
		NextSteps: []string{
			"Check the nodes: a NotReady node needs its kubelet and runtime looked at; a cordoned one can be uncordoned (kubectl uncordon NODE) once maintenance is over.",
		},
		Commands: []string{"kubectl get nodes -o wide"},
	},
	{
		ID: "sched.host-port-conflict", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   schedMatcher(schedPorts),
		Summary: "Pod {{.Pod}} cannot be scheduled: {{if .OnNode}}its node {{.OnNode}} already uses{{else}}{{.Nodes}} node(s) already use{{end}} its host port(s) {{.Ports}}",
		Explanation: "A hostPort reserves the port on the node's own address, so only one pod per node can use it; " +
			"with more replicas than nodes, the rest stay Pending.",
		NextSteps: []string{"Expose the pod through a Service instead of a hostPort, or run at most one replica per node (a DaemonSet)."},
		Commands: []string{
			"kubectl get pods -A -o jsonpath='{range .items[*]}{.spec.nodeName}{\" \"}{.metadata.namespace}/{.metadata.name}{\" \"}{.spec.containers[*].ports[*].hostPort}{\"\\n\"}{end}'",
		},
	},
	{
		ID: "sched.pvc-unbound", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:   schedMatcher(schedPVC),
		Summary: "Pod {{.Pod}} cannot be scheduled: its PersistentVolumeClaim {{.Claims}} is not bound",
		Explanation: "A pod with a claim using immediate binding waits until the claim is bound to a volume. " +
			"The claim stays Pending when its StorageClass does not exist, the provisioner is not running or " +
			"failing, or no existing PersistentVolume matches its size and access mode.",
		NextSteps: []string{"Look at the claim's events: they name the provisioner's error. Check that its StorageClass exists and its provisioner pods run."},
		Commands: []string{
			"{{if .Claim}}kubectl describe pvc -n {{.Namespace}} {{.Claim}}{{end}}",
			"kubectl get storageclass",
		},
	},
	{
		ID: "sched.other", Severity: Error, Step: StepEvents, Rank: rankSchedule,
		Match:       schedMatcher(schedOther),
		Summary:     "Pod {{.Pod}} cannot be scheduled: {{.Reason}}",
		Explanation: "The scheduler gave a reason kdoctor has no specific advice for; its message is shown verbatim.",
		NextSteps:   []string{"Read the scheduler's message: it names the plugin or constraint (pod affinity, topology spread, volume node affinity, scheduling gates) that rules each node out."},
		Commands:    []string{"kubectl describe pod -n {{.Namespace}} {{.Pod}}"},
	},
}

type schedClass int

const (
	schedOther schedClass = iota
	schedInsufficient
	schedSelector
	schedTaint
	schedNoNodes
	schedPorts
	schedPVC
	// schedNodeCondition: a taint the node lifecycle controller puts on a
	// node with a condition (memory/disk/pid pressure, no network).
	schedNodeCondition
)

// schedReason is one "N reason" part of a scheduler message.
type schedReason struct {
	count int // nodes; -1 when the message does not count them
	text  string
	class schedClass
	// out: the nodes counted here are out anyway (why says how), so the
	// reason is context, not the blocker. See schedView.
	out bool
	why string
	// nodeRule indexes schedNodeRules when the reason is a node condition
	// or a cordon, else -1; nodes names the nodes that show it.
	nodeRule int
	nodes    []string
}

var (
	nodesAvailable = regexp.MustCompile(`(\d+)/(\d+) nodes are available`)
	countedReason  = regexp.MustCompile(`^(\d+) (.+)$`)
	taintText      = regexp.MustCompile(`taints? (\{[^}]*\})`)
	insufficient   = regexp.MustCompile(`Insufficient ([A-Za-z0-9./_-]+)`)
)

// parseSchedulerMessage splits a FailedScheduling message into its reasons,
// dropping the "preemption:" tail that newer schedulers append.
func parseSchedulerMessage(msg string) (total int, reasons []schedReason) {
	msg = strings.TrimSpace(msg)
	if i := strings.Index(msg, " preemption:"); i >= 0 {
		msg = msg[:i]
	}
	total = -1
	m := nodesAvailable.FindStringSubmatchIndex(msg)
	if m == nil {
		return total, []schedReason{{count: -1, text: strings.TrimSuffix(msg, "."), class: classifySched(msg)}}
	}
	total, _ = strconv.Atoi(msg[m[4]:m[5]])
	rest := strings.TrimSpace(strings.TrimPrefix(msg[m[1]:], ":"))
	rest = strings.TrimSuffix(rest, ".")
	// Reasons are joined by ", " but a taint ({k: v}, that the pod didn't
	// tolerate) holds commas too: a part that does not start with a count
	// continues the previous reason.
	var parts []string
	for _, p := range strings.Split(rest, ", ") {
		if len(parts) > 0 && !countedReason.MatchString(p) {
			parts[len(parts)-1] += ", " + p
			continue
		}
		parts = append(parts, p)
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		r := schedReason{count: -1, text: p}
		if cm := countedReason.FindStringSubmatch(p); cm != nil {
			r.count, _ = strconv.Atoi(cm[1])
			r.text = cm[2]
		}
		r.class = classifySched(r.text)
		reasons = append(reasons, r)
	}
	if total == 0 && len(reasons) == 0 {
		reasons = append(reasons, schedReason{count: 0, text: "no nodes in the cluster", class: schedNoNodes})
	}
	return total, reasons
}

func classifySched(text string) schedClass {
	switch {
	case strings.Contains(text, "didn't match pod topology spread constraints"):
		return schedTopology
	case strings.Contains(text, "Insufficient ") || strings.Contains(text, "Too many pods"):
		return schedInsufficient
	case containsAny(text, "didn't match Pod's node affinity", "didn't match node selector", "node affinity/selector") ||
		(strings.Contains(text, "didn't satisfy plugin") && strings.Contains(text, "NodeAffinity")):
		// Since Kubernetes 1.31 the nodes a PreFilter (NodeAffinity's
		// matchFields) left out read "didn't satisfy plugin(s) [NodeAffinity]".
		return schedSelector
	case containsAny(text, "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/unschedulable"):
		return schedNoNodes
	case containsAny(text, "node.kubernetes.io/memory-pressure", "node.kubernetes.io/disk-pressure",
		"node.kubernetes.io/pid-pressure", "node.kubernetes.io/network-unavailable"):
		return schedNodeCondition
	case containsAny(text, "untolerated taint", "that the pod didn't tolerate", "had taint"):
		return schedTaint
	case containsAny(text, "were unschedulable", "node(s) were not ready", "no nodes available to schedule"):
		return schedNoNodes
	case strings.Contains(text, "didn't have free ports"):
		return schedPorts
	case containsAny(text, "unbound immediate PersistentVolumeClaims", "persistentvolumeclaim", "unbound PersistentVolumeClaim"):
		return schedPVC
	}
	return schedOther
}

// schedulingMessage returns the current reason the pod is unscheduled: the
// PodScheduled condition, or the newest FailedScheduling event. A pod that
// is bound to a node has no such reason, whatever old events say.
func (w *walk) schedulingMessage() (msg string, evidence []string) {
	p := w.pod
	if p == nil || p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending || p.DeletionTimestamp != nil {
		return "", nil
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			evidence = append(evidence, fmt.Sprintf("condition PodScheduled=False (%s): %s", c.Reason, oneLine(c.Message)))
			msg = c.Message
			if c.Reason == "SchedulingGated" && msg == "" {
				msg = "Scheduling is blocked due to non-empty scheduling gates"
			}
		}
	}
	var evs []event
	for _, e := range w.evs {
		if e.OnPod && e.Reason == "FailedScheduling" {
			evs = append(evs, e)
		}
	}
	if e, ok := newest(evs); ok {
		evidence = append(evidence, w.formatEvent(e))
		if msg == "" {
			msg = e.Message
		}
	}
	return msg, evidence
}

// schedMatcher returns the matcher for one class of scheduler reasons.
// Reasons whose nodes are out anyway (see schedView) give no finding while
// another reason blocks the nodes that could take the pod; they are named
// with their counts in the evidence. Node conditions and cordons behind a
// reason are reported by the node rules, naming the node.
func schedMatcher(class schedClass) func(*walk) []hit {
	return func(w *walk) []hit {
		v := w.schedView()
		if v == nil {
			return nil
		}
		return w.schedHits(class, v)
	}
}

// Weights of scheduling hits: every node unavailable says it all; a
// blocker ranks before reasons that only describe nodes out anyway.
const (
	weightNoNodes = 20000
	weightBlocker = 10000
)

func (w *walk) schedHits(class schedClass, v *schedView) []hit {
	evidence := append(append([]string{}, v.evidence...), v.counts...)
	if class == schedNoNodes {
		if !v.allBlocked {
			return nil
		}
		why := "there are no nodes in the cluster"
		if v.total != 0 {
			var parts []string
			for _, r := range v.reasons {
				if r.class == schedNoNodes {
					parts = append(parts, r.text)
				}
			}
			why = "every node is unavailable (" + strings.Join(parts, "; ") + ")"
		}
		return []hit{{Evidence: evidence, Vars: map[string]string{"Why": why}, Weight: weightNoNodes}}
	}

	var hits []hit
	for _, r := range v.reasons {
		rc := r.class
		// A node-condition taint whose node cannot be named stays a taint.
		if rc == schedNodeCondition && len(r.nodes) == 0 {
			rc = schedTaint
		}
		if rc != class || (r.out && v.blocked) {
			continue
		}
		h := hit{Evidence: evidence, Weight: r.count, Vars: map[string]string{"Nodes": nodeCount(r.count), "Reason": r.text, "OnNode": ""}}
		if v.blocked && !r.out && len(v.reasons) > 1 {
			h.Weight = weightBlocker + r.count
		}
		if len(v.pinned) > 0 && !r.out {
			h.Vars["OnNode"] = strings.Join(v.pinned, ", ")
		}
		switch class {
		case schedInsufficient:
			w.insufficientVars(&h, r.text, v.pinned)
		case schedSelector:
			h.Vars["Selector"] = w.selectorText()
		case schedTaint:
			taint := r.text
			if m := taintText.FindStringSubmatch(r.text); m != nil {
				taint = m[1]
			}
			h.Vars["Taint"] = taint
			h.Vars["TaintedNode"] = w.nodeWithTaint(taint)
			// The control-plane taint is expected and rarely the point.
			if containsAny(taint, "node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master") {
				h.Weight = 0
			}
		case schedPorts:
			h.Vars["Ports"] = w.hostPorts()
			if len(v.pinned) > 0 {
				h.Next = append(h.Next, "The pod can only run on "+h.Vars["OnNode"]+": find the pod that holds the port there (kubectl get pods -A -o wide --field-selector spec.nodeName="+v.pinned[0]+") and move it, or change the port.")
			}
		case schedPVC:
			w.pvcVars(&h)
		case schedOther:
			h.Vars["Reason"] = r.text
		}
		hits = append(hits, h)
	}
	return hits
}

// schedNodeMatcher reports a node condition or cordon that keeps an
// unscheduled pod off its nodes, naming the node(s): the scheduler only
// says "had untolerated taint {node.kubernetes.io/memory-pressure: }" or
// "node(s) were unschedulable", but the fix is the node's, not a
// toleration on the pod.
func schedNodeMatcher(ruleID string) func(*walk) []hit {
	return func(w *walk) []hit {
		v := w.schedView()
		if v == nil || v.allBlocked {
			return nil
		}
		var hits []hit
		for _, r := range v.reasons {
			if r.nodeRule < 0 || schedNodeRules[r.nodeRule].rule != ruleID || len(r.nodes) == 0 || (r.out && v.blocked) {
				continue
			}
			nr := schedNodeRules[r.nodeRule]
			evidence := append(append([]string{}, v.evidence...), v.counts...)
			node := w.nodeObject(r.nodes[0])
			h := hit{
				Rank:     rankSchedule,
				Severity: sev(Error),
				Weight:   weightBlocker + r.count,
				Vars: map[string]string{
					"Node": r.nodes[0], "Since": "", "Message": "",
					"State": "is NotReady", "Why": "see the node's conditions", "Detail": "",
				},
			}
			for _, name := range r.nodes {
				n := w.nodeObject(name)
				if nr.unscheduable && n.Spec.Unschedulable {
					evidence = append(evidence, "node "+name+": spec.unschedulable=true")
				}
				for _, t := range n.Spec.Taints {
					if t.Key == nr.taint {
						evidence = append(evidence, "node "+name+": taint "+formatTaint(t))
					}
				}
				for i := range n.Status.Conditions {
					if c := &n.Status.Conditions[i]; nr.condition != "" && c.Type == nr.condition {
						evidence = append(evidence, conditionLine(name, c, w.since(c.LastTransitionTime.Time)))
					}
				}
			}
			h.Evidence = evidence
			for i := range node.Status.Conditions {
				c := &node.Status.Conditions[i]
				if nr.condition == "" || c.Type != nr.condition {
					continue
				}
				h.Vars["Since"] = " (" + string(c.Type) + "=" + string(c.Status) + " for " + w.since(c.LastTransitionTime.Time) + ")"
				h.Vars["Message"] = oneLine(c.Message)
				if c.Type == corev1.NodeReady {
					h.Vars["State"] = "is NotReady (Ready=" + string(c.Status) + " for " + w.since(c.LastTransitionTime.Time) + ")"
					h.Vars["Why"] = oneLine(c.Reason + ": " + c.Message)
				}
			}
			who := "pod " + w.pod.Name
			if len(r.nodes) > 1 {
				who += fmt.Sprintf(" (and %d more node(s): %s)", len(r.nodes)-1, strings.Join(r.nodes[1:], ", "))
			}
			if len(v.pinned) > 0 {
				h.Next = append(h.Next, fmt.Sprintf("%s may only run on %s (%s): it stays Pending until the node takes pods again; a toleration would only hide the problem.", who, strings.Join(v.pinned, ", "), v.pinnedBy))
			} else {
				h.Next = append(h.Next, fmt.Sprintf("The scheduler keeps %s off this node because of the node's own state (a condition or a cordon), not because of the pod: fix the node rather than adding a toleration.", who))
			}
			for _, o := range v.reasons {
				if strings.Contains(o.text, "volume node affinity conflict") {
					h.Next = append(h.Next, "The pod's PersistentVolume is bound to a node (a local volume's nodeAffinity), so the pod cannot move elsewhere: uncordon the node, or recreate the claim on another node if the data can be rebuilt.")
					h.Commands = append(h.Commands, "kubectl get pv -o custom-columns=NAME:.metadata.name,CLAIM:.spec.claimRef.name,NODES:.spec.nodeAffinity.required.nodeSelectorTerms[*].matchExpressions[*].values")
					break
				}
			}
			hits = append(hits, h)
		}
		return hits
	}
}

func nodeCount(n int) string {
	if n < 0 {
		return "all"
	}
	return strconv.Itoa(n)
}

func (w *walk) insufficientVars(h *hit, text string, pinned []string) {
	var names []string
	for _, m := range insufficient.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	if strings.Contains(text, "Too many pods") {
		names = append(names, "pod slots (Too many pods)")
	}
	h.Vars["Resources"] = strings.Join(names, ", ")
	req := podRequests(&w.pod.Spec)
	h.Vars["Requests"] = formatResources(req)
	if len(req) == 0 {
		h.Vars["Requests"] = "none set"
	}
	h.Vars["Fit"] = ""
	if w.f.Nodes.State != Found || len(w.f.Nodes.Items) == 0 {
		return
	}
	// Say whether any node could ever hold the pod: too big for every node
	// is a sizing problem, otherwise the nodes are just full.
	var fits []string
	for _, n := range names {
		rn := corev1.ResourceName(n)
		want, ok := req[rn]
		if !ok {
			continue
		}
		var largest resource.Quantity
		largestNode := ""
		for _, node := range w.f.Nodes.Items {
			if len(pinned) > 0 && !containsString(pinned, node.Name) {
				continue // a pinned pod can only use its own node(s)
			}
			if !matchesNodeSelector(node.Labels, w.pod.Spec.NodeSelector) {
				continue // nodes its nodeSelector rules out are no yardstick
			}
			if q, ok := node.Status.Allocatable[rn]; ok && q.Cmp(largest) > 0 {
				largest, largestNode = q.DeepCopy(), node.Name
			}
		}
		if len(pinned) > 0 && largestNode != "" {
			if want.Cmp(largest) > 0 {
				fits = append(fits, fmt.Sprintf("The pod requests %s %s but its node %s has only %s allocatable: it can never fit there.", n, humanQuantity(rn, want), largestNode, humanQuantity(rn, largest)))
			} else {
				fits = append(fits, fmt.Sprintf("The pod requests %s %s and its node %s has %s allocatable: the pods already running there have requested the rest.", n, humanQuantity(rn, want), largestNode, humanQuantity(rn, largest)))
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("pod requests %s %s; its node %s has %s %s allocatable", n, humanQuantity(rn, want), largestNode, n, humanQuantity(rn, largest)))
			continue
		}
		if largestNode == "" {
			fits = append(fits, fmt.Sprintf("No node offers %s at all.", n))
		} else if want.Cmp(largest) > 0 {
			fits = append(fits, fmt.Sprintf("The pod requests %s %s but the largest node (%s) has only %s allocatable: it fits on no node even when empty.", n, humanQuantity(rn, want), largestNode, humanQuantity(rn, largest)))
		} else {
			fits = append(fits, fmt.Sprintf("The pod requests %s %s and the largest node (%s) has %s allocatable: the nodes are big enough but already full.", n, humanQuantity(rn, want), largestNode, humanQuantity(rn, largest)))
		}
		h.Evidence = append(h.Evidence, fmt.Sprintf("pod requests %s %s; largest node %s has %s %s allocatable", n, humanQuantity(rn, want), largestNode, n, humanQuantity(rn, largest)))
	}
	h.Vars["Fit"] = strings.Join(fits, " ")
	if len(pinned) > 0 {
		h.Next = append(h.Next, "The pod can only run on "+strings.Join(pinned, ", ")+": make room there (see what runs on it: kubectl describe node "+pinned[0]+"), lower the pod's requests, or give it a higher priorityClassName so the scheduler may preempt lower-priority pods on that node.")
		h.Commands = append(h.Commands, "kubectl describe node "+pinned[0])
	}
}

func (w *walk) selectorText() string {
	var parts []string
	keys := make([]string, 0, len(w.pod.Spec.NodeSelector))
	for k := range w.pod.Spec.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+w.pod.Spec.NodeSelector[k])
	}
	if a := w.pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, e := range t.MatchExpressions {
				parts = append(parts, fmt.Sprintf("%s %s %s", e.Key, e.Operator, strings.Join(e.Values, ",")))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// nodeWithTaint names a node carrying the taint, when the nodes are known.
func (w *walk) nodeWithTaint(taint string) string {
	key := strings.Trim(taint, "{}")
	if i := strings.IndexAny(key, ":="); i >= 0 {
		key = key[:i]
	}
	key = strings.TrimSpace(key)
	for _, n := range w.f.Nodes.Items {
		for _, t := range n.Spec.Taints {
			if t.Key == key {
				return n.Name
			}
		}
	}
	return ""
}

func (w *walk) hostPorts() string {
	var ports []string
	for _, c := range w.pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				ports = append(ports, fmt.Sprintf("%d/%s (container %s)", p.HostPort, orTCP(p.Protocol), c.Name))
			}
		}
	}
	if len(ports) == 0 {
		return "(none found in the spec)"
	}
	return strings.Join(ports, ", ")
}

func orTCP(p corev1.Protocol) string {
	if p == "" {
		return "TCP"
	}
	return string(p)
}

func (w *walk) pvcVars(h *hit) {
	var claims []string
	h.Vars["Claim"] = ""
	for _, name := range References(&w.pod.Spec).PVCs {
		ref, _ := findRef(w.f.PVCs, name)
		desc := name
		switch {
		case ref.State == NotFound:
			desc += " (does not exist)"
			h.Evidence = append(h.Evidence, "persistentvolumeclaim "+name+": not found")
		case ref.Object != nil:
			pvc := ref.Object
			sc := "default StorageClass"
			if pvc.Spec.StorageClassName != nil {
				sc = "StorageClass " + quote(*pvc.Spec.StorageClassName)
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("persistentvolumeclaim %s: phase %s, %s", name, pvc.Status.Phase, sc))
			if pvc.Status.Phase == corev1.ClaimBound {
				continue
			}
			desc += " (" + string(pvc.Status.Phase) + ", " + sc + ")"
		case ref.State == Unknown && ref.Reason != "":
			h.Evidence = append(h.Evidence, "persistentvolumeclaim "+name+": unknown ("+ref.Reason+")")
		}
		if h.Vars["Claim"] == "" {
			h.Vars["Claim"] = name
		}
		claims = append(claims, desc)
	}
	if len(claims) == 0 {
		claims = append(claims, "(see the pod's volumes)")
	}
	h.Vars["Claims"] = strings.Join(claims, ", ")
}

// quote puts API text in double quotes as it is, without Go escaping
// (Windows paths keep single backslashes).
func quote(s string) string { return `"` + s + `"` }

// humanQuantity renders byte quantities in Gi/Mi ("14.1Gi" rather than
// "14745240Ki"); other quantities as the API writes them.
func humanQuantity(name corev1.ResourceName, q resource.Quantity) string {
	if name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage && !strings.HasPrefix(string(name), "hugepages-") {
		return q.String()
	}
	b := float64(q.Value())
	switch {
	case b >= 1<<30:
		return strconv.FormatFloat(b/(1<<30), 'f', 1, 64) + "Gi"
	case b >= 1<<20:
		return strconv.FormatFloat(b/(1<<20), 'f', 0, 64) + "Mi"
	}
	return q.String()
}

// matchesNodeSelector reports whether node labels satisfy a nodeSelector.
func matchesNodeSelector(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
