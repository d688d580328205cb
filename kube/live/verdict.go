package live

import (
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// RowFacts are what the watch holds about a pod beyond the pod itself: its
// node and the Warning events about it. Either may be unknown (the watch
// does not cover nodes or events, or is not allowed to).
type RowFacts struct {
	Node   diag.Ref[corev1.Node]
	Events diag.List[corev1.Event]
	// Nodes are the cluster's nodes, for a pod not scheduled yet (the rules
	// name the nodes behind a scheduler message).
	Nodes diag.List[corev1.Node]
	// ClaimEvents are the Warning events of the pod's claims.
	ClaimEvents diag.List[corev1.Event]
	Now         time.Time
	// Rules judge the pod; nil is the built-in catalogue.
	Rules *diag.Rules
}

// JudgePod makes p's row and judges its health and one-line cause with the
// diagnosis rules (diag.Classify), so the tree and the diagnosis pane never
// disagree: the tree only sees less (no logs). A quiet pod is healthy
// without a walk, which keeps a big healthy cluster cheap.
func JudgePod(p *corev1.Pod, rf RowFacts) PodRow {
	r := podRow(p)
	if diag.Quiet(p) {
		return r
	}
	ns, name := p.Namespace, p.Name
	f := diag.Facts{
		Target: diag.Target{Kind: "pod", Namespace: ns, Name: name},
		Now:    rf.Now, Pod: p, Node: rf.Node, Events: rf.Events,
		Nodes: rf.Nodes, ClaimEvents: rf.ClaimEvents,
	}
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	if p.Spec.NodeName == "" {
		f.Node = diag.Ref[corev1.Node]{}
	} else if f.Node.Name == "" {
		f.Node.Name = p.Spec.NodeName
	}
	v := rf.Rules.Classify(&f)
	r.Rule, r.Health, r.Cause = verdictRow(p, v, r.Status)
	return r
}

// verdictRow turns a verdict into the row's health and probable cause:
// the rule's short name for it (the STATUS column shows kubectl's word).
func verdictRow(p *corev1.Pod, v diag.Verdict, status string) (string, Health, string) {
	switch v.Rule {
	case diag.RuleOK:
		if p.Status.Phase == corev1.PodPending {
			return v.Rule, Pending, ""
		}
		return v.Rule, Healthy, ""
	case diag.RuleNone:
		// Nothing explains it yet. A pod still starting with no warning
		// about it is simply pending; anything else shows its status.
		if p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil && startingOnly(p) {
			return "", Pending, ""
		}
		return v.Rule, Warning, ""
	}
	h := severityHealth(v)
	if strings.EqualFold(v.Short, status) {
		return v.Rule, h, ""
	}
	return v.Rule, h, v.Short
}

// severityHealth is how a verdict's severity shows in the tree.
func severityHealth(v diag.Verdict) Health {
	if v.Rule == diag.RuleOK {
		return Healthy
	}
	return SeverityHealth(v.Severity)
}

// SeverityHealth is how a finding's severity shows in the tree and the
// pane: info is ok, warning a warning, error and critical failing.
func SeverityHealth(s diag.Severity) Health {
	switch s {
	case diag.Info:
		return Healthy
	case diag.Warning:
		return Warning
	}
	return Failing
}

// OnNode is the row as the tree shows it on node n (known false when the
// tree has no row for the node): a quiet pod takes its node's verdict, as
// the diagnosis would give it. Rows the rules judged are returned as they
// are; a quiet row that took an earlier verdict of its node is reset first.
func (r PodRow) OnNode(n NodeRow, known bool) PodRow {
	if r.Rule != "" && !r.NodeJudged {
		return r
	}
	if r.NodeJudged {
		r.Rule, r.Health, r.Cause, r.NodeJudged = "", Healthy, "", false
	}
	if !known || n.QuietRule == "" || n.QuietRule == diag.RuleOK || n.QuietHealth == Healthy {
		return r
	}
	r.Rule, r.Health, r.Cause, r.NodeJudged = n.QuietRule, n.QuietHealth, n.QuietShort, true
	return r
}

// startingOnly: every container not yet running is still being created.
func startingOnly(p *corev1.Pod) bool {
	for _, ss := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range ss {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
				return false
			}
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				return false
			}
		}
	}
	return true
}

// Limits of what the judge keeps, so that an event flood or a cluster of
// broken pods cannot grow it without bound.
const (
	judgeEventsPerPod = 16
	judgeEventPods    = 50_000
	judgeForgotten    = 1024
	// judgeUnscheduledEvery spaces the judging of unscheduled pods again
	// after node changes: they are judged against every node, and a
	// cluster's nodes arrive (and beat) one by one.
	judgeUnscheduledEvery = time.Second
)

// keptPod is a pod the judge holds to judge again: the fields it is found
// by, and the pod itself in protobuf, a third of its size in memory.
type keptPod struct {
	namespace, name, node string
	claims                []string
	data                  []byte
}

// judge keeps what a later change needs to judge a pod again: the pods the
// rules found a problem with (stripped of what no rule reads), the nodes'
// conditions, and the Warning events per pod. A healthy pod is not kept, so
// a big healthy cluster costs nothing here. Its own lock is taken after the
// watcher's, never before.
type judge struct {
	mu       sync.Mutex
	nodes    map[string]*corev1.Node
	nodeKeys map[string]string
	// gone names nodes the watch saw deleted: their pods' node is NotFound.
	gone   map[string]bool
	events map[string][]corev1.Event // by kind/namespace/name (pods and claims)
	// nodeList is nodes as a list, made again after a node changed.
	nodeList []corev1.Node
	pods     map[types.UID]*keptPod
	// unscheduledDirty: a node changed since unscheduled pods were last
	// judged; unscheduledAt is when that was.
	unscheduledDirty bool
	unscheduledAt    time.Time
	// dirty are the event keys (pods and claims) whose events changed
	// since the last flush: their pods are judged again once per frame,
	// however many events arrived.
	dirty map[string]bool
	// forgotten are the latest deleted pods, so that a row judged again
	// just before its pod was deleted is not handed over after it.
	forgotten     map[types.UID]struct{}
	forgottenRing []types.UID
	eventsOn      bool
	rules         *diag.Rules
	now           func() time.Time
	nodesOn       bool
}

func newJudge(nodes, events bool, rules *diag.Rules, now func() time.Time) *judge {
	if now == nil {
		now = time.Now
	}
	return &judge{
		nodes: map[string]*corev1.Node{}, nodeKeys: map[string]string{}, gone: map[string]bool{},
		events: map[string][]corev1.Event{}, pods: map[types.UID]*keptPod{},
		forgotten: map[types.UID]struct{}{}, forgottenRing: make([]types.UID, 0, judgeForgotten),
		nodesOn: nodes, eventsOn: events, rules: rules, now: now, dirty: map[string]bool{},
	}
}

// row judges p and remembers it when it is not healthy.
func (j *judge) row(p *corev1.Pod) PodRow {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rowLocked(p)
}

func (j *judge) rowLocked(p *corev1.Pod) PodRow {
	r := JudgePod(p, j.factsLocked(p))
	// Every pod with a problem is kept: even one whose own status names a
	// cause may be explained better by an event that arrives later (the
	// events informer can deliver after the pods).
	if r.Health == Healthy {
		delete(j.pods, p.UID)
	} else if k := keep(p); k != nil {
		j.pods[p.UID] = k
	}
	return r
}

// keep encodes p for judging it again; nil if it cannot be encoded (then
// it is judged again only when it changes).
func keep(p *corev1.Pod) *keptPod {
	c := *p
	c.ManagedFields, c.Annotations = nil, nil
	data, err := c.Marshal()
	if err != nil {
		return nil
	}
	k := &keptPod{namespace: p.Namespace, name: p.Name, node: p.Spec.NodeName, data: data}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			k.claims = append(k.claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	return k
}

func (j *judge) factsLocked(p *corev1.Pod) RowFacts {
	rf := RowFacts{Now: j.now(), Rules: j.rules}
	if n := p.Spec.NodeName; n != "" && j.nodesOn {
		switch {
		case j.nodes[n] != nil:
			rf.Node = diag.FoundRef(n, j.nodes[n])
		case j.gone[n]:
			rf.Node = diag.Ref[corev1.Node]{Name: n, State: diag.NotFound}
		}
	}
	if j.nodesOn && p.Spec.NodeName == "" {
		if j.nodeList == nil {
			j.nodeList = make([]corev1.Node, 0, len(j.nodes))
			for _, n := range j.nodes {
				j.nodeList = append(j.nodeList, *n)
			}
			sort.Slice(j.nodeList, func(a, b int) bool { return j.nodeList[a].Name < j.nodeList[b].Name })
		}
		rf.Nodes = diag.List[corev1.Node]{State: diag.Found, Items: j.nodeList}
	}
	if j.eventsOn {
		rf.Events = diag.List[corev1.Event]{State: diag.Found, Items: j.events[eventKey("Pod", p.Namespace, p.Name)]}
		rf.ClaimEvents.State = diag.Found
		for _, v := range p.Spec.Volumes {
			if c := v.PersistentVolumeClaim; c != nil {
				rf.ClaimEvents.Items = append(rf.ClaimEvents.Items, j.events[eventKey("PersistentVolumeClaim", p.Namespace, c.ClaimName)]...)
			}
		}
	}
	return rf
}

// forget drops a deleted pod.
func (j *judge) forget(uid types.UID, namespace, name string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.pods, uid)
	delete(j.events, eventKey("Pod", namespace, name))
	if len(j.forgottenRing) == judgeForgotten {
		delete(j.forgotten, j.forgottenRing[0])
		j.forgottenRing = append(j.forgottenRing[:0], j.forgottenRing[1:]...)
	}
	j.forgottenRing = append(j.forgottenRing, uid)
	j.forgotten[uid] = struct{}{}
}

// deleted reports whether the pod was deleted lately, so a row judged
// again is not handed over for a deleted pod.
func (j *judge) deleted(uid types.UID) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, gone := j.forgotten[uid]
	return gone
}

// node records a node's state and judges again the kept pods on it when
// what the rules read of it changed (not its heartbeats).
func (j *judge) node(n *corev1.Node, deleted bool) []PodRow {
	j.mu.Lock()
	defer j.mu.Unlock()
	// A pod not scheduled yet is judged against every node, later
	// (unscheduled), so that a list of nodes does not judge it once a node.
	onIt := func(k *keptPod) bool { return k.node == n.Name }
	if deleted {
		delete(j.nodes, n.Name)
		delete(j.nodeKeys, n.Name)
		j.gone[n.Name] = true
		j.nodeList, j.unscheduledDirty = nil, true
		return j.rejudgeLocked(onIt)
	}
	delete(j.gone, n.Name)
	key := nodeKey(n)
	old, had := j.nodeKeys[n.Name]
	if had && old == key {
		return nil
	}
	j.nodes[n.Name], j.nodeKeys[n.Name] = stripNode(n), key
	j.nodeList, j.unscheduledDirty = nil, true
	return j.rejudgeLocked(onIt)
}

// flush judges again the kept pods whose events changed, and the pods not
// scheduled yet when nodes changed (at most once per
// judgeUnscheduledEvery of wall time, unless force: a resource has just
// synced and the tree is about to hear it is live).
func (j *judge) flush(wall time.Time, force bool) []PodRow {
	j.mu.Lock()
	defer j.mu.Unlock()
	unscheduled := j.unscheduledDirty && (force || wall.Sub(j.unscheduledAt) >= judgeUnscheduledEvery)
	if !unscheduled && len(j.dirty) == 0 {
		return nil
	}
	if unscheduled {
		j.unscheduledDirty, j.unscheduledAt = false, wall
	}
	dirty := j.dirty
	j.dirty = map[string]bool{}
	return j.rejudgeLocked(func(k *keptPod) bool {
		if unscheduled && k.node == "" {
			return true
		}
		if dirty[eventKey("Pod", k.namespace, k.name)] {
			return true
		}
		for _, c := range k.claims {
			if dirty[eventKey("PersistentVolumeClaim", k.namespace, c)] {
				return true
			}
		}
		return false
	})
}

// event records a Warning event about a pod or a claim; the next flush
// judges the pods it is about again.
func (j *judge) event(e *corev1.Event) {
	io := e.InvolvedObject
	if e.Type != corev1.EventTypeWarning || (io.Kind != "Pod" && io.Kind != "PersistentVolumeClaim") {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	key := eventKey(io.Kind, io.Namespace, io.Name)
	evs, ok := j.events[key]
	if !ok && len(j.events) >= judgeEventPods {
		return
	}
	ev := stripEvent(e)
	replaced := false
	for i := range evs {
		if evs[i].UID == ev.UID {
			evs[i], replaced = ev, true
		}
	}
	if !replaced {
		evs = append(evs, ev)
	}
	if len(evs) > judgeEventsPerPod {
		// Newest first, by name among equals, so which are kept does not
		// depend on the order they arrived in.
		sort.Slice(evs, func(a, b int) bool {
			ta, tb := diag.EventLast(&evs[a]), diag.EventLast(&evs[b])
			if !ta.Equal(tb) {
				return ta.After(tb)
			}
			return evs[a].Name < evs[b].Name
		})
		evs = evs[:judgeEventsPerPod]
	}
	j.events[key] = evs
	j.dirty[key] = true
}

func eventKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

func (j *judge) rejudgeLocked(match func(*keptPod) bool) []PodRow {
	var out []PodRow
	for uid, k := range j.pods {
		if !match(k) {
			continue
		}
		var p corev1.Pod
		if err := p.Unmarshal(k.data); err != nil {
			delete(j.pods, uid)
			continue
		}
		out = append(out, j.rowLocked(&p))
	}
	return out
}

// nodeKey is what the rules read of a node, without its heartbeats.
func nodeKey(n *corev1.Node) string {
	var b strings.Builder
	if n.Spec.Unschedulable {
		b.WriteString("unschedulable;")
	}
	for _, t := range n.Spec.Taints {
		b.WriteString(t.Key + "=" + t.Value + ":" + string(t.Effect) + ";")
	}
	for _, c := range n.Status.Conditions {
		b.WriteString(string(c.Type) + "=" + string(c.Status) + "/" + c.Reason + "/" + c.Message + ";")
	}
	return b.String()
}

func stripNode(n *corev1.Node) *corev1.Node {
	c := &corev1.Node{}
	c.Name, c.UID, c.Labels = n.Name, n.UID, n.Labels
	c.Spec.Unschedulable, c.Spec.Taints = n.Spec.Unschedulable, n.Spec.Taints
	c.Status.Conditions = n.Status.Conditions
	c.Status.Allocatable, c.Status.Capacity = n.Status.Allocatable, n.Status.Capacity
	c.Status.NodeInfo = n.Status.NodeInfo
	return c
}

func stripEvent(e *corev1.Event) corev1.Event {
	c := *e
	c.ManagedFields, c.Annotations, c.Labels = nil, nil, nil
	return c
}
