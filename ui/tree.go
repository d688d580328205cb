package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/sahilm/fuzzy"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// nodeKind is the level of a tree line.
type nodeKind uint8

const (
	nsNode nodeKind = iota
	workloadNode
	podNode
	containerNode
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
	count  [4]int       // pods by health under a namespace or workload
	open   bool
	match  []int // matched rune positions in label, for highlighting
}

// PodTree is the pod tree pane: namespace → workload → pod → container, with
// health rolled up and problems first. It keeps the cursor on the same object
// across live updates.
type PodTree struct {
	rows      map[types.UID]*kube.PodRow
	collapsed map[string]bool // namespaces and workloads the user closed
	expanded  map[string]bool // pods the user opened
	lines     []line

	cursorID      string
	cursor, top   int
	width, height int

	filter       string
	problemsOnly bool
}

// NewPodTree returns an empty tree.
func NewPodTree() PodTree {
	return PodTree{rows: map[types.UID]*kube.PodRow{}, collapsed: map[string]bool{}, expanded: map[string]bool{}}
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
	t.rebuild()
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

// Selected returns the pod under the cursor (or owning the container under it).
func (t *PodTree) Selected() *kube.PodRow {
	if t.cursor < len(t.lines) {
		return t.lines[t.cursor].pod
	}
	return nil
}

// Move moves the cursor by delta lines.
func (t *PodTree) Move(delta int) {
	t.setCursor(t.cursor + delta)
}

// MoveTo puts the cursor on an absolute line (negative counts from the end).
func (t *PodTree) MoveTo(i int) {
	if i < 0 {
		i = len(t.lines) + i
	}
	t.setCursor(i)
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

func (t *PodTree) scrollToCursor() {
	if t.height <= 0 {
		return
	}
	if t.cursor < t.top {
		t.top = t.cursor
	}
	if t.cursor >= t.top+t.height {
		t.top = t.cursor - t.height + 1
	}
	t.top = max(0, min(t.top, len(t.lines)-t.height))
}

// SetOpen opens or closes the node under the cursor.
func (t *PodTree) SetOpen(open bool) {
	if t.cursor >= len(t.lines) {
		return
	}
	l := t.lines[t.cursor]
	switch l.kind {
	case podNode:
		t.expanded[l.id] = open
	case containerNode:
		if !open {
			// Closing on a container closes its pod and moves up to it.
			t.expanded["pod/"+string(l.pod.UID)] = false
			t.cursorID = "pod/" + string(l.pod.UID)
		}
	default:
		t.collapsed[l.id] = !open
	}
	t.rebuild()
}

// Toggle flips the node under the cursor.
func (t *PodTree) Toggle() {
	if t.cursor < len(t.lines) {
		t.SetOpen(!t.lines[t.cursor].open)
	}
}

type wlKey struct{ ns, kind, name string }

// rebuild recomputes the visible lines from the rows, keeping the cursor on
// the same object and the selection's screen position where possible.
func (t *PodTree) rebuild() {
	screenPos := t.cursor - t.top
	matches := t.matchingRows()

	byNS := map[string]map[wlKey][]*kube.PodRow{}
	for _, r := range matches {
		wls := byNS[r.Namespace]
		if wls == nil {
			wls = map[wlKey][]*kube.PodRow{}
			byNS[r.Namespace] = wls
		}
		k := wlKey{r.Namespace, r.WorkloadKind, r.WorkloadName}
		wls[k] = append(wls[k], r)
	}

	type nsGroup struct {
		name   string
		health kube.Health
		count  [4]int
		wls    []wlKey
	}
	var groups []nsGroup
	wlHealth := map[wlKey]kube.Health{}
	wlCount := map[wlKey][4]int{}
	for ns, wls := range byNS {
		g := nsGroup{name: ns}
		for k, pods := range wls {
			var c [4]int
			h := kube.Healthy
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
				return cmp.Or(cmp.Compare(b.Health, a.Health), cmp.Compare(a.Name, b.Name))
			})
		}
		slices.SortFunc(g.wls, func(a, b wlKey) int {
			return cmp.Or(cmp.Compare(wlHealth[b], wlHealth[a]), cmp.Compare(boolInt(a.kind == ""), boolInt(b.kind == "")), cmp.Compare(a.name, b.name), cmp.Compare(a.kind, b.kind))
		})
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b nsGroup) int {
		return cmp.Or(cmp.Compare(b.health, a.health), cmp.Compare(a.name, b.name))
	})

	filtering := t.filter != ""
	lines := t.lines[:0]
	for _, g := range groups {
		nsID := "ns/" + g.name
		nsOpen := filtering || !t.collapsed[nsID]
		lines = append(lines, line{id: nsID, kind: nsNode, label: g.name, health: g.health, count: g.count, open: nsOpen})
		if !nsOpen {
			continue
		}
		for _, k := range g.wls {
			pods := byNS[g.name][k]
			depth := 1
			if k.kind != "" {
				wlID := "wl/" + k.ns + "/" + k.kind + "/" + k.name
				wlOpen := filtering || !t.collapsed[wlID]
				lines = append(lines, line{id: wlID, kind: workloadNode, depth: 1, label: k.kind + " " + k.name, health: wlHealth[k], count: wlCount[k], open: wlOpen})
				if !wlOpen {
					continue
				}
				depth = 2
			}
			for _, p := range pods {
				podID := "pod/" + string(p.UID)
				open := t.expanded[podID]
				l := line{id: podID, kind: podNode, depth: depth, label: p.Name, health: p.Health, pod: p, open: open}
				if filtering {
					l.match = fuzzyPositions(t.filter, p.Name)
				}
				lines = append(lines, l)
				if open {
					for i, c := range p.Containers {
						h := kube.Healthy
						if !c.Ready && !c.Init {
							h = p.Health
						}
						label := c.Name
						if c.Init {
							label = "init:" + c.Name
						}
						lines = append(lines, line{id: podID + "/" + label, kind: containerNode, depth: depth + 1, label: label, health: h, pod: p, ctr: i})
					}
				}
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
	if idx < 0 {
		idx = min(t.cursor, len(t.lines)-1)
	}
	if len(t.lines) == 0 {
		t.cursor, t.top = 0, 0
		return
	}
	t.cursor = max(idx, 0)
	t.cursorID = t.lines[t.cursor].id
	t.top = t.cursor - screenPos
	t.scrollToCursor()
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

var healthSymbol = [4]string{"✔", "…", "▲", "✖"}

// View renders the visible window of the tree. Only the lines on screen are
// styled, so the cost does not grow with the number of pods.
func (t *PodTree) View(st themes.Styles, now time.Time) string {
	if t.height <= 0 || t.width <= 0 {
		return ""
	}
	var b strings.Builder
	cols := newColumns(t.width)
	b.WriteString(st.Muted.Render(cols.header()))
	shown := 1
	for i := t.top; i < len(t.lines) && shown < t.height; i++ {
		b.WriteByte('\n')
		b.WriteString(t.renderLine(st, cols, t.lines[i], i == t.cursor, now))
		shown++
	}
	if len(t.lines) == 0 && t.height > 1 {
		b.WriteString("\n" + st.Muted.Render(t.emptyMessage()))
	}
	return b.String()
}

func (t *PodTree) emptyMessage() string {
	switch {
	case t.filter != "":
		return fmt.Sprintf("  no pod matches %q (esc clears the filter)", t.filter)
	case t.problemsOnly && len(t.rows) > 0:
		return "  no problems: every pod is healthy (! shows all pods)"
	}
	return "  no pods yet"
}

// columns lays out the table for a width: the name column takes what the
// fixed columns leave. Below 120 cells the probable cause replaces the
// status word for unhealthy pods (it says more), and the node column goes.
type columns struct {
	width, name, ready, status, restarts, age, node, cause int
	merged                                                 bool
}

func newColumns(w int) columns {
	c := columns{width: w, ready: 6, restarts: 9, age: 6}
	if w < 120 {
		c.merged = true
		c.restarts, c.age = 5, 5
		rest := w - c.ready - c.restarts - c.age
		c.status = max(27, rest*2/5)
		c.name = max(rest-c.status, 16)
		return c
	}
	c.status = 18
	rest := w - c.ready - c.status - c.restarts - c.age
	if w >= 150 {
		c.node = 24
		rest -= c.node
	}
	c.name = min(50, rest*11/20)
	c.cause = rest - c.name
	return c
}

func (c columns) header() string {
	status := "STATUS"
	if c.merged {
		status = "STATUS / PROBABLE CAUSE"
	}
	restarts := "RESTARTS"
	if c.restarts < 9 {
		restarts = "RST"
	}
	s := pad("NAME", c.name) + pad("READY", c.ready) + pad(status, c.status) + pad(restarts, c.restarts) + pad("AGE", c.age)
	if c.node > 0 {
		s += pad("NODE", c.node)
	}
	if c.cause > 0 {
		s += pad("PROBABLE CAUSE", c.cause)
	}
	return s
}

func (t *PodTree) renderLine(st themes.Styles, c columns, l line, selected bool, now time.Time) string {
	indent := strings.Repeat("  ", l.depth)
	marker := "  "
	switch {
	case l.kind == containerNode:
		marker = "· "
	case l.open:
		marker = "▾ "
	default:
		marker = "▸ "
	}
	sym := healthSymbol[l.health]
	prefix := indent + marker + sym + " "
	nameW := max(c.name-lipgloss.Width(prefix)-1, 4)
	label := ansi.Truncate(l.label, nameW, "…")

	var nameStyle lipgloss.Style
	switch l.kind {
	case nsNode:
		nameStyle = st.Namespace
	case workloadNode:
		nameStyle = st.Workload
	case podNode:
		nameStyle = st.Pod
	default:
		nameStyle = st.Container
	}
	hs := st.Health[l.health]
	if selected {
		nameStyle, hs = st.Selected, st.Selected
	}
	var name string
	if len(l.match) > 0 && !selected {
		name = highlight(label, l.match, nameStyle, st.Match)
	} else {
		name = nameStyle.Render(label)
	}
	cell := func(s string, w int, style lipgloss.Style) string {
		if w <= 0 {
			return ""
		}
		return style.Render(pad(ansi.Truncate(s, w-1, "…"), w))
	}
	base := st.App
	if selected {
		base = st.Selected
	}
	out := hs.Render(indent+marker+sym+" ") + name + base.Render(strings.Repeat(" ", max(0, c.name-lipgloss.Width(prefix)-lipgloss.Width(label))))

	switch l.kind {
	case nsNode, workloadNode:
		summary := summaryText(l.count)
		out += cell(summary, c.width-c.name, hs)
	case podNode:
		p := l.pod
		out += cell(fmt.Sprintf("%d/%d", p.Ready, p.Total), c.ready, base)
		status := p.Status
		if c.merged && p.Cause != "" {
			status = p.Cause
		}
		out += cell(status, c.status, hs)
		out += cell(fmt.Sprint(p.Restarts), c.restarts, base)
		out += cell(age(now, p.Created), c.age, base)
		out += cell(p.Node, c.node, base)
		out += cell(p.Cause, c.cause, hs)
	case containerNode:
		ctr := l.pod.Containers[l.ctr]
		ready := "no"
		if ctr.Ready {
			ready = "yes"
		}
		out += cell(ready, c.ready, base)
		out += cell(ctr.State, c.status+c.restarts+c.age, base)
	}
	return out
}

func summaryText(c [4]int) string {
	total := c[0] + c[1] + c[2] + c[3]
	noun := "pods"
	if total == 1 {
		noun = "pod"
	}
	parts := []string{fmt.Sprintf("%d %s", total, noun)}
	if c[kube.Failing] > 0 {
		parts = append(parts, fmt.Sprintf("%d failing", c[kube.Failing]))
	}
	if c[kube.Warning] > 0 {
		parts = append(parts, fmt.Sprintf("%d warning", c[kube.Warning]))
	}
	if c[kube.Pending] > 0 {
		parts = append(parts, fmt.Sprintf("%d pending", c[kube.Pending]))
	}
	return strings.Join(parts, " · ")
}

func highlight(s string, idx []int, base, match lipgloss.Style) string {
	set := map[int]bool{}
	for _, i := range idx {
		set[i] = true
	}
	var b strings.Builder
	for i, r := range []rune(s) {
		if set[i] {
			b.WriteString(match.Render(string(r)))
		} else {
			b.WriteString(base.Render(string(r)))
		}
	}
	return b.String()
}

func pad(s string, w int) string {
	if n := lipgloss.Width(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// age prints a duration the way kubectl's AGE column does.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
