package diag

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// schedView is the engine's reading of the scheduler's current message for
// an unscheduled pod. The message counts every node of the cluster, once
// per reason, but not every node matters: nodes the pod's own selector,
// affinity or untolerated taints rule out are out anyway, and a pod pinned
// to one node (a DaemonSet pod) can only ever run there. The blocker is
// the reason that stops the nodes that would otherwise take the pod.
type schedView struct {
	msg      string
	evidence []string
	total    int
	reasons  []schedReason
	// pinned are the only nodes the pod may run on, when its spec says so;
	// pinnedBy says how.
	pinned   []string
	pinnedBy string
	// allBlocked: every node is NotReady, unreachable or cordoned (or there
	// are none); sched.no-nodes says so.
	allBlocked bool
	// blocked: some reason stops a node the pod could use; then the
	// reasons marked out are context, not the cause.
	blocked bool
	// counts are evidence lines naming every reason with its count and
	// its role; empty for a message with a single reason.
	counts []string
}

// Scheduler reasons that mean a node condition (the node lifecycle
// controller's NoSchedule taints, kubernetes/kubernetes
// pkg/controller/nodelifecycle) or a cordon, with the node rule that
// explains them. The NodeUnschedulable plugin writes "node(s) were
// unschedulable"; newer TaintToleration messages name the taint.
var schedNodeRules = []struct {
	text, rule   string
	condition    corev1.NodeConditionType
	taint        string
	unscheduable bool
}{
	{"node.kubernetes.io/memory-pressure", "node.memory-pressure", corev1.NodeMemoryPressure, "node.kubernetes.io/memory-pressure", false},
	{"node.kubernetes.io/disk-pressure", "node.disk-pressure", corev1.NodeDiskPressure, "node.kubernetes.io/disk-pressure", false},
	{"node.kubernetes.io/pid-pressure", "node.pid-pressure", corev1.NodePIDPressure, "node.kubernetes.io/pid-pressure", false},
	{"node.kubernetes.io/network-unavailable", "node.network-unavailable", corev1.NodeNetworkUnavailable, "node.kubernetes.io/network-unavailable", false},
	{"node.kubernetes.io/unschedulable", "node.cordoned", "", corev1.TaintNodeUnschedulable, true},
	{"were unschedulable", "node.cordoned", "", corev1.TaintNodeUnschedulable, true},
	{"node.kubernetes.io/not-ready", "node.not-ready", corev1.NodeReady, corev1.TaintNodeNotReady, false},
	{"node.kubernetes.io/unreachable", "node.not-ready", corev1.NodeReady, corev1.TaintNodeUnreachable, false},
}

// nodeRuleOf returns the index into schedNodeRules for a reason, or -1.
func nodeRuleOf(text string) int {
	for i, n := range schedNodeRules {
		if strings.Contains(text, n.text) {
			return i
		}
	}
	return -1
}

// schedView reads the scheduling message once per walk; nil when the pod
// is not waiting for the scheduler.
func (w *walk) schedView() *schedView {
	if w.schedDone {
		return w.sched
	}
	w.schedDone = true
	msg, evidence := w.schedulingMessage()
	if msg == "" {
		return nil
	}
	v := &schedView{msg: msg, evidence: evidence}
	v.total, v.reasons = parseSchedulerMessage(msg)
	v.pinned, v.pinnedBy = w.pinnedNodes()
	w.judgeReasons(v)
	w.sched = v
	return v
}

// pinnedNodes returns the nodes the pod may only run on: the DaemonSet
// controller gives each of its pods a required node affinity
// "matchFields metadata.name In [NODE]" (pkg/controller/daemon/util), and
// a nodeSelector on kubernetes.io/hostname does the same by label.
func (w *walk) pinnedNodes() ([]string, string) {
	p := w.pod
	by := "its required node affinity"
	for _, o := range w.f.Owners {
		if o.Kind == "DaemonSet" {
			by = "DaemonSet " + o.Name + "'s node affinity"
		}
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		var names []string
		terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		// Terms are ORed: the pod is pinned only when every term names nodes.
		for _, t := range terms {
			found := false
			for _, f := range t.MatchFields {
				if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn {
					names = append(names, f.Values...)
					found = true
				}
			}
			if !found {
				names = nil
				break
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			return names, fmt.Sprintf("%s (matchFields metadata.name In [%s])", by, strings.Join(names, ", "))
		}
	}
	if host := p.Spec.NodeSelector[corev1.LabelHostname]; host != "" {
		name := host
		for _, n := range w.f.Nodes.Items {
			if n.Labels[corev1.LabelHostname] == host {
				name = n.Name
			}
		}
		return []string{name}, "its nodeSelector " + corev1.LabelHostname + "=" + host
	}
	return nil, ""
}

func (w *walk) nodeObject(name string) *corev1.Node {
	for i := range w.f.Nodes.Items {
		if w.f.Nodes.Items[i].Name == name {
			return &w.f.Nodes.Items[i]
		}
	}
	return nil
}

// nodeHas reports whether a node shows what a node-condition reason
// says: the taint, the cordon, or the condition itself.
func nodeHas(n *corev1.Node, i int) bool {
	nr := schedNodeRules[i]
	if nr.unscheduable && n.Spec.Unschedulable {
		return true
	}
	for _, t := range n.Spec.Taints {
		if t.Key == nr.taint {
			return true
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type != nr.condition || nr.condition == "" {
			continue
		}
		// Ready is bad when not True; the pressure conditions when True.
		if c.Type == corev1.NodeReady {
			return c.Status != corev1.ConditionTrue
		}
		return c.Status == corev1.ConditionTrue
	}
	return false
}

// taintKey returns the key of the taint a reason names, or "".
func taintKey(text string) string {
	m := taintText.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	key := strings.Trim(m[1], "{}")
	if i := strings.IndexAny(key, ":="); i >= 0 {
		key = key[:i]
	}
	return strings.TrimSpace(key)
}

// outOfScope says why nodes counted under r are out anyway for any pod
// (its own constraints rule them out), or "".
func outOfScope(r schedReason) string {
	switch {
	case r.class == schedSelector:
		return "the pod's own nodeSelector/affinity rules them out"
	case r.class == schedTaint:
		return "they carry a taint the pod does not tolerate"
	case strings.Contains(r.text, "volume node affinity conflict"):
		return "the pod's volumes are bound to another node"
	}
	return ""
}

// judgeReasons marks each reason blocking or out, and names the nodes
// behind node-condition reasons.
func (w *walk) judgeReasons(v *schedView) {
	blocked, other, unavailable := 0, 0, false
	for _, r := range v.reasons {
		switch {
		case r.class == schedNoNodes:
			blocked += max(r.count, 0)
			unavailable = true
		case r.class == schedTaint && containsAny(r.text, "node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"):
			blocked += max(r.count, 0)
		default:
			other++
		}
	}
	v.allBlocked = v.total == 0 || (unavailable && ((v.total > 0 && blocked >= v.total) || other == 0))

	for i := range v.reasons {
		r := &v.reasons[i]
		r.nodeRule = nodeRuleOf(r.text)
		if r.nodeRule >= 0 {
			r.nodes = w.nodesWith(r.nodeRule, v.pinned)
		}
	}
	if len(v.pinned) > 0 {
		w.judgePinned(v)
	} else {
		for i := range v.reasons {
			r := &v.reasons[i]
			if r.nodeRule >= 0 {
				continue // a node's condition is a node problem, not the pod's constraint
			}
			r.why = outOfScope(*r)
			r.out = r.why != ""
		}
	}
	for _, r := range v.reasons {
		if !r.out {
			v.blocked = true
		}
	}
	if !v.blocked {
		// Every counted reason is one of the pod's own constraints: then
		// they are the cause (no node is left to take it).
		for i := range v.reasons {
			v.reasons[i].out, v.reasons[i].why = false, ""
		}
	}
	// Name the counts when some of them were set aside: then the reader
	// sees why the largest count is not the answer.
	anyOut := false
	for _, r := range v.reasons {
		anyOut = anyOut || r.out
	}
	if anyOut || len(v.pinned) > 0 {
		v.counts = v.countLines()
	}
}

// judgePinned keeps only the reasons that can be about the pod's own
// node(s). The scheduler's count covers every node; since Kubernetes 1.24
// the NodeAffinity PreFilter returns the pinned node set and the other
// nodes are reported as "didn't match Pod's node affinity/selector" (later
// "didn't satisfy plugin(s) [NodeAffinity]"); older schedulers ran every
// filter on every node and counted whatever failed first there.
func (w *walk) judgePinned(v *schedView) {
	k := len(v.pinned)
	where := strings.Join(v.pinned, ", ")
	sibling := w.pod != nil && w.isDaemonSetPod() && w.hostPorts() != "(none found in the spec)"
	var cand []int
	for i := range v.reasons {
		r := &v.reasons[i]
		switch {
		case r.class == schedSelector || strings.Contains(r.text, "volume node affinity conflict"):
			r.out, r.why = true, "other nodes: the pod may only run on "+where
			continue
		case r.nodeRule >= 0 || r.class == schedTaint:
			// Checkable against the pinned node itself.
			if !w.pinnedNodeMayHave(v.pinned, *r) {
				r.out, r.why = true, "not about "+where+": it shows no such taint or condition"
				continue
			}
		}
		cand = append(cand, i)
	}
	sum := 0
	for _, i := range cand {
		sum += max(v.reasons[i].count, 0)
	}
	if sum <= k {
		return
	}
	// More nodes counted than the pod may use: a reason counting more than
	// k nodes is mostly about the other nodes; keep those within k.
	var small []int
	for _, i := range cand {
		if c := v.reasons[i].count; c >= 0 && c <= k {
			small = append(small, i)
		}
	}
	if len(small) == 0 {
		return
	}
	for _, i := range cand {
		if slicesContains(small, i) {
			continue
		}
		r := &v.reasons[i]
		r.out = true
		r.why = fmt.Sprintf("other nodes: the pod may only run on %s, and %d node(s) are more than that", where, r.count)
		if r.class == schedPorts && sibling {
			r.why = "other nodes: they run this DaemonSet's own pods, which hold the same host ports"
		}
	}
}

func slicesContains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (w *walk) isDaemonSetPod() bool {
	for _, o := range w.f.Owners {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// pinnedNodeMayHave reports whether a taint or node-condition reason can
// be about one of the pinned nodes; true when the nodes are not known.
func (w *walk) pinnedNodeMayHave(pinned []string, r schedReason) bool {
	for _, name := range pinned {
		n := w.nodeObject(name)
		if n == nil {
			return true
		}
		if r.nodeRule >= 0 && nodeHas(n, r.nodeRule) {
			return true
		}
		if key := taintKey(r.text); r.nodeRule < 0 && key != "" {
			for _, t := range n.Spec.Taints {
				if t.Key == key {
					return true
				}
			}
		}
	}
	return false
}

// nodesWith names the nodes that show a node-condition reason: among the
// pinned nodes when the pod is pinned, else among all nodes.
func (w *walk) nodesWith(i int, pinned []string) []string {
	var out []string
	for _, n := range w.f.Nodes.Items {
		if len(pinned) > 0 && !containsString(pinned, n.Name) {
			continue
		}
		if nodeHas(&n, i) {
			out = append(out, n.Name)
		}
	}
	return out
}

func containsString(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (v *schedView) countLines() []string {
	var out []string
	if len(v.pinned) > 0 {
		out = append(out, fmt.Sprintf("the pod may only run on %s, pinned by %s: the scheduler's count covers every node, only the reason for %s matters",
			strings.Join(v.pinned, ", "), v.pinnedBy, strings.Join(v.pinned, ", ")))
	}
	var blocking, out2 []string
	for _, r := range v.reasons {
		s := r.text
		if r.count >= 0 {
			s = fmt.Sprintf("%d %s", r.count, r.text)
		}
		if r.out {
			out2 = append(out2, s+" ("+r.why+")")
		} else {
			blocking = append(blocking, s)
		}
	}
	total := "of all nodes"
	if v.total >= 0 {
		total = fmt.Sprintf("of %d nodes", v.total)
	}
	if len(blocking) > 0 {
		out = append(out, "scheduler's count "+total+", blocking: "+strings.Join(blocking, "; "))
	}
	if len(out2) > 0 {
		out = append(out, "out anyway: "+strings.Join(out2, "; "))
	}
	return out
}
