package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/sahilm/fuzzy"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// nodeKind is the level of a tree line.
type nodeKind uint8

const (
	nsNode nodeKind = iota
	workloadNode
	podNode
	containerNode
	k8sNodeNode // a cluster node, in group-by-node mode
)

// line is one visible row of the tree.
type line struct {
	id     string // stable across rebuilds: the cursor follows it
	kind   nodeKind
	depth  int
	label  string
	health kube.Health
	pod    *kube.PodRow // pod and container lines
	ctr    int          // container index for container lines
	count  [4]int       // pods by health under a namespace, workload or node
	open   bool
	match  []int  // matched rune positions in label, for highlighting
	note   string // summary shown in place of pod columns (missing pods, node state)
	node   string // the cluster node of a node line
	ns     string
	wlKind string
	wlName string
}

// PodTree is the pod tree pane: namespace → workload → pod → container (or
// node → pod → container), with health rolled up and problems first. It
// keeps the cursor on the same object across live updates.
type PodTree struct {
	rows      map[types.UID]*kube.PodRow
	workloads map[types.UID]kube.WorkloadRow
	nodes     map[string]kube.NodeRow
	// failedCreate holds the latest FailedCreate message per owner
	// ("ns/replicaset-name"), the reason a workload has no pods.
	failedCreate map[string]string

	collapsed map[string]bool // namespaces, workloads and nodes the user closed
	expanded  map[string]bool // pods the user opened
	lines     []line

	cursorID      string
	cursor, top   int
	width, height int

	filter       string
	problemsOnly bool
	byNode       bool
}

// NewPodTree returns an empty tree.
func NewPodTree() PodTree {
	return PodTree{
		rows: map[types.UID]*kube.PodRow{}, workloads: map[types.UID]kube.WorkloadRow{},
		nodes: map[string]kube.NodeRow{}, failedCreate: map[string]string{},
		collapsed: map[string]bool{}, expanded: map[string]bool{},
	}
}

// Apply merges a watch batch and rebuilds the visible lines.
func (t *PodTree) Apply(b kube.Batch) {
	for i := range b.Pods {
		r := b.Pods[i]
		t.rows[r.UID] = &r
	}
	for _, uid := range b.DeletedPods {
		delete(t.rows, uid)
	}
	for _, w := range b.Workloads {
		t.workloads[w.UID] = w
	}
	for _, uid := range b.DeletedWorkloads {
		delete(t.workloads, uid)
	}
	for _, n := range b.Nodes {
		t.nodes[n.Name] = n
	}
	for _, n := range b.DeletedNodes {
		delete(t.nodes, n)
	}
	for _, e := range b.Events {
		if e.Reason == "FailedCreate" {
			t.failedCreate[e.Namespace+"/"+e.ObjectName] = e.Message
		}
	}
	if len(b.Pods)+len(b.DeletedPods)+len(b.Workloads)+len(b.DeletedWorkloads)+len(b.Nodes)+len(b.DeletedNodes) > 0 {
		t.rebuild()
	}
}

// Counts returns how many pods are in each health state.
func (t *PodTree) Counts() (c [4]int) {
	for _, r := range t.rows {
		c[r.Health]++
	}
	return c
}

// Len is the number of pods held.
func (t *PodTree) Len() int { return len(t.rows) }

// Node returns what is known of a cluster node.
func (t *PodTree) Node(name string) (kube.NodeRow, bool) {
	n, ok := t.nodes[name]
	return n, ok
}

// Pod finds a pod by namespace and name.
func (t *PodTree) Pod(ns, name string) *kube.PodRow {
	for _, r := range t.rows {
		if r.Namespace == ns && r.Name == name {
			return r
		}
	}
	return nil
}

// SetSize sets the pane's size in cells.
func (t *PodTree) SetSize(w, h int) {
	t.width, t.height = w, h
	t.scrollToCursor()
}

// SetFilter sets the fuzzy filter query.
func (t *PodTree) SetFilter(q string) {
	t.filter = q
	t.rebuild()
}

// ToggleProblemsOnly hides or shows healthy pods.
func (t *PodTree) ToggleProblemsOnly() bool {
	t.problemsOnly = !t.problemsOnly
	t.rebuild()
	return t.problemsOnly
}

// ToggleByNode switches between grouping by namespace and by node.
func (t *PodTree) ToggleByNode() bool {
	t.byNode = !t.byNode
	t.rebuild()
	return t.byNode
}

// Selected returns the pod under the cursor (or owning the container under it).
func (t *PodTree) Selected() *kube.PodRow {
	if t.cursor < len(t.lines) {
		return t.lines[t.cursor].pod
	}
	return nil
}

// SelectedLine returns the line under the cursor.
func (t *PodTree) SelectedLine() (line, bool) {
	if t.cursor < len(t.lines) {
		return t.lines[t.cursor], true
	}
	return line{}, false
}

// SelectedContainer names the container under the cursor, if any.
func (t *PodTree) SelectedContainer() string {
	if l, ok := t.SelectedLine(); ok && l.kind == containerNode {
		return l.pod.Containers[l.ctr].Name
	}
	return ""
}

// Select puts the cursor on a pod, opening its namespace and workload.
func (t *PodTree) Select(ns, name string) bool {
	p := t.Pod(ns, name)
	if p == nil {
		return false
	}
	t.filter = ""
	delete(t.collapsed, "ns/"+ns)
	delete(t.collapsed, "wl/"+ns+"/"+p.WorkloadKind+"/"+p.WorkloadName)
	delete(t.collapsed, "node/"+p.Node)
	t.cursorID = "pod/" + string(p.UID)
	t.rebuild()
	return true
}

// Move moves the cursor by delta lines.
func (t *PodTree) Move(delta int) { t.setCursor(t.cursor + delta) }

// MoveTo puts the cursor on an absolute line (negative counts from the end).
func (t *PodTree) MoveTo(i int) {
	if i < 0 {
		i = len(t.lines) + i
	}
	t.setCursor(i)
}

// ClickRow selects the line at a row of the pane (0 is the column header).
func (t *PodTree) ClickRow(row int) {
	if row >= 1 {
		t.setCursor(t.top + row - 1)
	}
}

func (t *PodTree) setCursor(i int) {
	if len(t.lines) == 0 {
		t.cursor, t.cursorID = 0, ""
		return
	}
	t.cursor = max(0, min(i, len(t.lines)-1))
	t.cursorID = t.lines[t.cursor].id
	t.scrollToCursor()
}

func (t *PodTree) rowsVisible() int { return max(1, t.height-1) }

func (t *PodTree) scrollToCursor() {
	if t.height <= 0 {
		return
	}
	h := t.rowsVisible()
	if t.cursor < t.top {
		t.top = t.cursor
	}
	if t.cursor >= t.top+h {
		t.top = t.cursor - h + 1
	}
	t.top = max(0, min(t.top, len(t.lines)-h))
}

// SetOpen opens or closes the node under the cursor.
func (t *PodTree) SetOpen(open bool) {
	l, ok := t.SelectedLine()
	if !ok {
		return
	}
	switch l.kind {
	case podNode:
		t.expanded[l.id] = open
	case containerNode:
		if !open {
			// Closing on a container closes its pod and moves up to it.
			id := "pod/" + string(l.pod.UID)
			t.expanded[id] = false
			t.cursorID = id
		}
	default:
		t.collapsed[l.id] = !open
	}
	t.rebuild()
}

// Toggle flips the node under the cursor.
func (t *PodTree) Toggle() {
	if l, ok := t.SelectedLine(); ok {
		t.SetOpen(!l.open)
	}
}

type wlKey struct{ ns, kind, name string }

// group is a namespace or a node with what sits under it.
type group struct {
	id, label, note string
	kind            nodeKind
	node            string
	health          kube.Health
	count           [4]int
	wls             []wlKey
	pods            map[wlKey][]*kube.PodRow
}

// rebuild recomputes the visible lines from the rows, keeping the cursor on
// the same object and the selection's screen position where possible.
func (t *PodTree) rebuild() {
	screenPos := t.cursor - t.top
	groups, wlHealth, wlCount, wlNote := t.groups()
	filtering := t.filter != ""

	lines := t.lines[:0]
	for _, g := range groups {
		open := filtering || !t.collapsed[g.id]
		lines = append(lines, line{id: g.id, kind: g.kind, label: g.label, health: g.health, count: g.count, open: open, note: g.note, node: g.node, ns: g.label})
		if !open {
			continue
		}
		for _, k := range g.wls {
			pods := g.pods[k]
			depth := 1
			if k.kind != "" {
				wlID := "wl/" + k.ns + "/" + k.kind + "/" + k.name
				wlOpen := filtering || !t.collapsed[wlID]
				lines = append(lines, line{id: wlID, kind: workloadNode, depth: 1, label: k.kind + " " + k.name, health: wlHealth[k],
					count: wlCount[k], open: wlOpen, note: wlNote[k], ns: k.ns, wlKind: k.kind, wlName: k.name})
				if !wlOpen {
					continue
				}
				depth = 2
			}
			for _, p := range pods {
				lines = t.appendPod(lines, p, depth, filtering)
			}
		}
	}
	t.lines = lines

	// Keep the cursor on the same object; if it vanished, stay at the same index.
	idx := -1
	if t.cursorID != "" {
		for i := range t.lines {
			if t.lines[i].id == t.cursorID {
				idx = i
				break
			}
		}
	}
	if len(t.lines) == 0 {
		t.cursor, t.top = 0, 0
		return
	}
	if idx < 0 {
		idx = min(t.cursor, len(t.lines)-1)
	}
	t.cursor = max(idx, 0)
	t.cursorID = t.lines[t.cursor].id
	t.top = t.cursor - screenPos
	t.scrollToCursor()
}

func (t *PodTree) appendPod(lines []line, p *kube.PodRow, depth int, filtering bool) []line {
	podID := "pod/" + string(p.UID)
	open := t.expanded[podID]
	label := p.Name
	if t.byNode {
		label = p.Namespace + "/" + p.Name
	}
	l := line{id: podID, kind: podNode, depth: depth, label: label, health: p.Health, pod: p, open: open, ns: p.Namespace, node: p.Node}
	if filtering {
		l.match = fuzzyPositions(t.filter, label)
	}
	lines = append(lines, l)
	if !open {
		return lines
	}
	for i, c := range p.Containers {
		h := kube.Healthy
		if !c.Ready && !c.Init && p.Health != kube.Healthy {
			h = p.Health
		}
		name := c.Name
		if c.Init {
			name = "init:" + c.Name
		}
		lines = append(lines, line{id: podID + "/" + name, kind: containerNode, depth: depth + 1, label: name, health: h, pod: p, ctr: i, ns: p.Namespace, node: p.Node})
	}
	return lines
}

// groups buckets the matching pods (and workloads with missing pods) by
// namespace or node, sorted worst first.
func (t *PodTree) groups() ([]*group, map[wlKey]kube.Health, map[wlKey][4]int, map[wlKey]string) {
	byID := map[string]*group{}
	var groups []*group
	get := func(id, label string, kind nodeKind) *group {
		g := byID[id]
		if g == nil {
			g = &group{id: id, label: label, kind: kind, pods: map[wlKey][]*kube.PodRow{}}
			byID[id] = g
			groups = append(groups, g)
		}
		return g
	}
	for _, r := range t.matchingRows() {
		var g *group
		k := wlKey{r.Namespace, r.WorkloadKind, r.WorkloadName}
		if t.byNode {
			name := r.Node
			if name == "" {
				name = "(not scheduled)"
			}
			g = get("node/"+name, name, k8sNodeNode)
			g.node = r.Node
			k = wlKey{} // pods sit directly under their node
		} else {
			g = get("ns/"+r.Namespace, r.Namespace, nsNode)
		}
		g.pods[k] = append(g.pods[k], r)
	}
	wlHealth := map[wlKey]kube.Health{}
	wlCount := map[wlKey][4]int{}
	wlNote := map[wlKey]string{}
	if !t.byNode {
		for _, w := range t.missingWorkloads() {
			k := wlKey{w.Namespace, w.Kind, w.Name}
			g := get("ns/"+w.Namespace, w.Namespace, nsNode)
			if _, ok := g.pods[k]; !ok {
				g.pods[k] = nil
			}
			wlHealth[k] = kube.Warning
			note := fmt.Sprintf("%d of %d pods exist", w.Current, w.Desired)
			if msg := t.failedCreateFor(w); msg != "" {
				wlHealth[k] = kube.Failing
				note += " · FailedCreate: " + msg
			}
			wlNote[k] = note
		}
	}
	if t.byNode {
		for _, g := range groups {
			if n, ok := t.nodes[g.node]; ok {
				g.health = n.Health
				g.note = n.Summary()
			}
		}
	}
	for _, g := range groups {
		for k, pods := range g.pods {
			var c [4]int
			h := wlHealth[k]
			for _, p := range pods {
				c[p.Health]++
				h = max(h, p.Health)
			}
			wlHealth[k], wlCount[k] = h, c
			for i := range c {
				g.count[i] += c[i]
			}
			g.health = max(g.health, h)
			g.wls = append(g.wls, k)
			slices.SortFunc(pods, func(a, b *kube.PodRow) int {
				return cmp.Or(cmp.Compare(b.Health, a.Health), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
			})
		}
		slices.SortFunc(g.wls, func(a, b wlKey) int {
			return cmp.Or(cmp.Compare(wlHealth[b], wlHealth[a]), cmp.Compare(boolInt(a.kind == ""), boolInt(b.kind == "")),
				cmp.Compare(a.name, b.name), cmp.Compare(a.kind, b.kind))
		})
	}
	slices.SortFunc(groups, func(a, b *group) int {
		return cmp.Or(cmp.Compare(b.health, a.health), cmp.Compare(a.label, b.label))
	})
	return groups, wlHealth, wlCount, wlNote
}

// missingWorkloads are controllers that want more pods than they have, kept
// when they match the filter: their pods may never have been created, and
// only the workload's events say why.
func (t *PodTree) missingWorkloads() []kube.WorkloadRow {
	var out []kube.WorkloadRow
	for _, w := range t.workloads {
		if w.Missing() == 0 {
			continue
		}
		if t.filter != "" && len(fuzzy.Find(strings.ReplaceAll(t.filter, " ", ""), []string{w.Namespace + " " + w.Name + " " + t.failedCreateFor(w)})) == 0 {
			continue
		}
		out = append(out, w)
	}
	return out
}

// failedCreateFor finds the FailedCreate message of a workload: on itself, or
// for a Deployment on one of its ReplicaSets (named <deployment>-<hash>).
func (t *PodTree) failedCreateFor(w kube.WorkloadRow) string {
	if msg, ok := t.failedCreate[w.Namespace+"/"+w.Name]; ok {
		return msg
	}
	if w.Kind == "Deployment" {
		prefix := w.Namespace + "/" + w.Name + "-"
		for k, msg := range t.failedCreate {
			if strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "-") {
				return msg
			}
		}
	}
	return ""
}

// matchingRows applies problems-only and the fuzzy filter. The filter looks at
// namespace, workload, pod, node, cause and container names together, so
// "pay oom" finds the OOMKilled pod in payments.
func (t *PodTree) matchingRows() []*kube.PodRow {
	rows := make([]*kube.PodRow, 0, len(t.rows))
	for _, r := range t.rows {
		if t.problemsOnly && r.Health == kube.Healthy {
			continue
		}
		rows = append(rows, r)
	}
	if t.filter == "" {
		return rows
	}
	src := make(rowSource, len(rows))
	for i, r := range rows {
		var b strings.Builder
		b.WriteString(r.Namespace + " " + r.WorkloadName + " " + r.Name + " " + r.Node + " " + r.Status + " " + r.Cause)
		for _, c := range r.Containers {
			b.WriteString(" " + c.Name)
		}
		src[i] = b.String()
	}
	found := fuzzy.FindFrom(strings.ReplaceAll(t.filter, " ", ""), src)
	out := make([]*kube.PodRow, 0, len(found))
	for _, m := range found {
		out = append(out, rows[m.Index])
	}
	return out
}

type rowSource []string

func (s rowSource) String(i int) string { return s[i] }
func (s rowSource) Len() int            { return len(s) }

func fuzzyPositions(q, s string) []int {
	m := fuzzy.Find(strings.ReplaceAll(q, " ", ""), []string{s})
	if len(m) == 0 {
		return nil
	}
	return m[0].MatchedIndexes
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
