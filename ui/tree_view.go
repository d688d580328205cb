package ui

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

var healthSymbol = [4]string{"✔", "…", "▲", "✖"}

// View renders the visible window of the tree. Only the lines on screen are
// styled, so the cost does not grow with the number of pods, and a line
// whose inputs did not change since the last frame is not styled again.
func (t *PodTree) View(st themes.Styles, now time.Time) string {
	if t.height <= 0 || t.width <= 0 {
		return ""
	}
	var b strings.Builder
	cols := newColumns(t.width, t.showUsage)
	c := t.cache.begin(st, cols)
	b.WriteString(c.header(st, cols))
	styled := c.styled()
	shown := 1
	for i := t.top; i < len(t.lines) && shown < t.height; i++ {
		b.WriteByte('\n')
		l, selected := t.lines[i], i == t.cursor
		k := renderKey{l: l, selected: selected, filter: t.filter, count: l.count(), note: l.note()}
		if l.kind == podNode {
			k.age = age(now, l.pod.Created)
		}
		if cols.usage != usageNone {
			k.use = t.usageCells(l)
		}
		out, ok := styled.get(k)
		if !ok {
			out = t.renderLine(st, cols, l, selected, now, k.use)
			styled.put(k, out)
		}
		b.WriteString(out)
		shown++
	}
	if len(t.lines) == 0 && t.height > 1 {
		b.WriteString("\n" + st.Muted.Render(t.emptyMessage()))
	}
	return b.String()
}

// renderKey is everything a styled line depends on besides the styles and
// the width: rows are immutable (a change brings a new *PodRow), and the
// counts and notes of namespace and workload lines are copied in.
type renderKey struct {
	l        line
	selected bool
	filter   string
	age      string
	count    [4]int
	note     string
	use      usageCells
}

// lineCache holds the styled lines of the last frame (see frameCache),
// valid for one set of styles and one width, and the styled header.
type lineCache struct {
	styles     themes.Styles
	cols       columns
	headerText string
	lines      frameCache[renderKey]
}

// begin starts a frame; entries survive only for the same styles and width.
func (c *lineCache) begin(st themes.Styles, cols columns) *lineCache {
	if c == nil {
		return nil
	}
	if cols != c.cols || !reflect.DeepEqual(st, c.styles) {
		c.styles, c.cols, c.headerText = st, cols, ""
		c.lines.reset()
	}
	c.lines.begin()
	return c
}

func (c *lineCache) header(st themes.Styles, cols columns) string {
	if c == nil {
		return st.Muted.Render(cols.header())
	}
	if c.headerText == "" {
		c.headerText = st.Muted.Render(cols.header())
	}
	return c.headerText
}

// styled returns the frame cache of styled lines (nil for no cache).
func (c *lineCache) styled() *frameCache[renderKey] {
	if c == nil {
		return nil
	}
	return &c.lines
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
	// usage are the usage columns, last, when shown (m); the others are
	// laid out in what they leave.
	usage usageLayout
}

func newColumns(w int, usage bool) columns {
	if !usage {
		return layoutColumns(w)
	}
	u := usageLayoutFor(w)
	c := layoutColumns(w - u.width())
	c.usage = u
	return c
}

func layoutColumns(w int) columns {
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
	return s + c.usage.header()
}

// use is the line's usage cells, which View already computed for the
// cache key.
func (t *PodTree) renderLine(st themes.Styles, c columns, l line, selected bool, now time.Time, use usageCells) string {
	indent := strings.Repeat("  ", int(l.depth))
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
	label := ansi.Truncate(clean(l.label()), nameW, "…")

	var nameStyle lipgloss.Style
	switch l.kind {
	case nsNode, k8sNodeNode:
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
	var match []int
	if t.filter != "" && l.kind == podNode && !selected {
		// Highlight only what is on screen: scoring every row would cost
		// what the filter saves.
		match = fuzzyPositions(t.filter, label)
	}
	if len(match) > 0 {
		name = highlight(label, match, nameStyle, st.Match)
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
	case nsNode, workloadNode, k8sNodeNode:
		summary := summaryText(l.count())
		if note := clean(l.note()); note != "" {
			if l.count() == ([4]int{}) {
				summary = note
			} else {
				summary += " · " + note
			}
		}
		out += cell(summary, c.width-c.name, hs)
		out += c.usage.render(st, use, base)
	case podNode:
		p := l.pod
		out += cell(fmt.Sprintf("%d/%d", p.Ready, p.Total), c.ready, base)
		status := p.Status
		if c.merged && p.Cause != "" {
			status += " · " + p.Cause
		}
		out += cell(status, c.status, hs)
		out += cell(fmt.Sprint(p.Restarts), c.restarts, base)
		out += cell(age(now, p.Created), c.age, base)
		out += cell(p.Node, c.node, base)
		out += cell(p.Cause, c.cause, hs)
		out += c.usage.render(st, use, base)
	case containerNode:
		ctr := l.pod.Containers[l.ctr]
		ready := "no"
		if ctr.Ready {
			ready = "yes"
		}
		out += cell(ready, c.ready, base)
		out += cell(ctr.State, c.status+c.restarts+c.age, base)
		if c.usage != usageNone {
			out += base.Render(pad("", c.node+c.cause)) + c.usage.render(st, use, base)
		}
	}
	return out
}

// usageCells is what a line's usage columns show.
func (t *PodTree) usageCells(l line) usageCells {
	switch l.kind {
	case nsNode, k8sNodeNode:
		return sumCells(l.grp.use)
	case workloadNode:
		return sumCells(l.bkt.use)
	}
	it := t.rows[l.pod.UID]
	if it == nil {
		return usageCells{}
	}
	if l.kind == podNode {
		return podCells(l.pod, it.use)
	}
	return containerCells(l.pod.Containers[l.ctr], it.use)
}

func summaryText(c [4]int) string {
	total := c[0] + c[1] + c[2] + c[3]
	noun := "pods"
	if total == 1 {
		noun = "pod"
	}
	parts := []string{fmt.Sprintf("%d %s", total, noun)}
	if c[live.Failing] > 0 {
		parts = append(parts, fmt.Sprintf("%d failing", c[live.Failing]))
	}
	if c[live.Warning] > 0 {
		parts = append(parts, fmt.Sprintf("%d warning", c[live.Warning]))
	}
	if c[live.Pending] > 0 {
		parts = append(parts, fmt.Sprintf("%d pending", c[live.Pending]))
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
