package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// The usage columns (m) show what pods and containers use, from
// metrics.k8s.io, against their requests and limits, as kubectl top and
// k9s do. They are polled only while shown, at metrics-server's default
// resolution: a 100k-pod cluster pays nothing for a column nobody looks at.
// A cluster without the API says so once, when the user asks.

// usagePoll is metrics-server's default --metric-resolution: polling more
// often returns the same sample.
const usagePoll = 15 * time.Second

// usageTimeout bounds one poll.
const usageTimeout = 20 * time.Second

// usageView is the root's part: whether the columns show, and which poll
// is current (a toggle or a new watch ends the older polls).
type usageView struct {
	on  bool
	seq int
	// ctx ends with the program (Model.Stop): a poll waiting out its 15s
	// must not outlive it.
	ctx  context.Context
	stop context.CancelFunc
}

type (
	usageMsg struct {
		seq  int
		pods map[types.NamespacedName]*usage.Pod
		err  error
	}
	usageTickMsg struct{ seq int }
)

// fetchUsage polls the scope's pods (one namespace, or all of them and the
// tree keeps what it shows) with the scope's label selector.
func fetchUsage(parent context.Context, c usage.Client, scope live.Scope, seq int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, usageTimeout)
		defer cancel()
		ns := ""
		if len(scope.Namespaces) == 1 {
			ns = scope.Namespaces[0]
		}
		pods, err := usage.Pods(ctx, c, ns, scope.LabelSelector)
		return usageMsg{seq: seq, pods: pods, err: err}
	}
}

func (m *Model) pollUsage() tea.Cmd {
	return fetchUsage(m.usage.ctx, kube.MetricsOf(m.src), m.scope, m.usage.seq)
}

// nextPoll waits usagePoll, or until the program ends (tea.Tick would
// keep its goroutine for the whole wait).
func (m *Model) nextPoll() tea.Cmd {
	ctx, seq := m.usage.ctx, m.usage.seq
	return func() tea.Msg {
		t := time.NewTimer(usagePoll)
		defer t.Stop()
		select {
		case <-t.C:
			return usageTickMsg{seq: seq}
		case <-ctx.Done():
			return nil
		}
	}
}

// toggleUsage shows or hides the usage columns.
func (m *Model) toggleUsage() tea.Cmd {
	m.usage.seq++
	if m.usage.on {
		m.usage.on = false
		m.tree.SetUsage(nil, false)
		m.status = "usage columns hidden"
		return nil
	}
	m.usage.on = true
	m.status = "reading usage from metrics.k8s.io…"
	return m.pollUsage()
}

// restartUsage follows a new watch (namespace, selector or context).
func (m *Model) restartUsage() tea.Cmd {
	if !m.usage.on {
		return nil
	}
	m.usage.seq++
	m.tree.SetUsage(nil, true)
	return m.pollUsage()
}

// usageArrived shows a sample and schedules the next poll. Absent (no API,
// its server down, forbidden) hides the columns with one line saying why;
// another failure keeps the last sample and tries again.
func (m *Model) usageArrived(msg usageMsg) tea.Cmd {
	if msg.seq != m.usage.seq || !m.usage.on {
		return nil
	}
	var absent *usage.Absent
	switch {
	case errors.As(msg.err, &absent):
		m.usage.on = false
		m.tree.SetUsage(nil, false)
		m.status = "no usage columns: " + absent.Reason
		return nil
	case msg.err != nil:
		m.status = "usage: " + kube.Explain(msg.err) + " (trying again)"
	default:
		first := !m.tree.usageShown()
		m.tree.SetUsage(msg.pods, true)
		if first {
			m.status = fmt.Sprintf("usage of %d pods from metrics.k8s.io, refreshed every %s (m hides it)", len(msg.pods), usagePoll)
		}
	}
	return m.nextPoll()
}

func (m *Model) usageTick(msg usageTickMsg) tea.Cmd {
	if msg.seq != m.usage.seq || !m.usage.on {
		return nil
	}
	return m.pollUsage()
}

// usageSum is what the pods of a workload, namespace or node use together.
type usageSum struct {
	cpuMilli, memBytes int64
	pods               int32
}

func (s *usageSum) add(p *usage.Pod) {
	if p == nil {
		return
	}
	for _, c := range p.Containers {
		s.cpuMilli += c.CPUMilli
		s.memBytes += c.MemoryBytes
	}
	s.pods++
}

// usageCells is what one line's usage columns show. It is comparable: the
// line cache keys on it.
type usageCells struct {
	shown bool
	// sum: a workload's, namespace's or node's total, measured against
	// nothing (its % cells stay blank rather than say "-" on every line).
	sum                bool
	cpuMilli, memBytes int64
	// requests and limits to measure against; 0 when some container has
	// none (a sum with a hole in it would mislead).
	cpuReq, cpuLim, memReq, memLim int64
}

// podCells measures a pod's sample against its containers' resources.
func podCells(row *live.PodRow, p *usage.Pod) usageCells {
	if p == nil {
		return usageCells{}
	}
	c := usageCells{shown: true}
	reqOK, limOK := [2]bool{true, true}, [2]bool{true, true}
	for _, u := range p.Containers {
		c.cpuMilli += u.CPUMilli
		c.memBytes += u.MemoryBytes
		cr := containerOf(row, u.Name)
		if cr == nil {
			reqOK, limOK = [2]bool{}, [2]bool{}
			continue
		}
		addRes(&c.cpuReq, int64(cr.CPURequest), &reqOK[0])
		addRes(&c.cpuLim, int64(cr.CPULimit), &limOK[0])
		addRes(&c.memReq, cr.MemRequest, &reqOK[1])
		addRes(&c.memLim, cr.MemLimit, &limOK[1])
	}
	if !reqOK[0] {
		c.cpuReq = 0
	}
	if !limOK[0] {
		c.cpuLim = 0
	}
	if !reqOK[1] {
		c.memReq = 0
	}
	if !limOK[1] {
		c.memLim = 0
	}
	return c
}

func addRes(sum *int64, v int64, ok *bool) {
	if v <= 0 {
		*ok = false
	}
	*sum += v
}

// containerCells measures one container's sample.
func containerCells(cr live.ContainerRow, p *usage.Pod) usageCells {
	if p == nil {
		return usageCells{}
	}
	for _, u := range p.Containers {
		if u.Name == cr.Name {
			return usageCells{shown: true, cpuMilli: u.CPUMilli, memBytes: u.MemoryBytes,
				cpuReq: int64(cr.CPURequest), cpuLim: int64(cr.CPULimit), memReq: cr.MemRequest, memLim: cr.MemLimit}
		}
	}
	return usageCells{}
}

func sumCells(s usageSum) usageCells {
	if s.pods == 0 {
		return usageCells{}
	}
	return usageCells{shown: true, sum: true, cpuMilli: s.cpuMilli, memBytes: s.memBytes}
}

func containerOf(row *live.PodRow, name string) *live.ContainerRow {
	for i := range row.Containers {
		if row.Containers[i].Name == name {
			return &row.Containers[i]
		}
	}
	return nil
}

// usageLayout is how many usage columns fit: usage alone on narrow
// screens, with % of limit from 110 columns, and % of request too from 150.
type usageLayout uint8

const (
	usageNone usageLayout = iota
	usageNarrow
	usageLimits
	usageFull
)

const (
	usageCPUWidth = 7
	usageMemWidth = 8
	usagePctWidth = 5
)

func usageLayoutFor(w int) usageLayout {
	switch {
	case w >= 150:
		return usageFull
	case w >= 110:
		return usageLimits
	}
	return usageNarrow
}

func (u usageLayout) width() int {
	switch u {
	case usageFull:
		return usageCPUWidth + usageMemWidth + 4*usagePctWidth
	case usageLimits:
		return usageCPUWidth + usageMemWidth + 2*usagePctWidth
	case usageNarrow:
		return usageCPUWidth + usageMemWidth
	}
	return 0
}

func (u usageLayout) header() string {
	switch u {
	case usageFull:
		return pad("CPU", usageCPUWidth) + pad("%R", usagePctWidth) + pad("%L", usagePctWidth) +
			pad("MEM", usageMemWidth) + pad("%R", usagePctWidth) + pad("%L", usagePctWidth)
	case usageLimits:
		return pad("CPU", usageCPUWidth) + pad("%L", usagePctWidth) + pad("MEM", usageMemWidth) + pad("%L", usagePctWidth)
	case usageNarrow:
		return pad("CPU", usageCPUWidth) + pad("MEM", usageMemWidth)
	}
	return ""
}

// nearLimitShare is where a cell turns to the warning style: the share of
// a limit the diagnosis's usage rules also start at.
const nearLimitShare = 0.9

// render draws a line's usage columns. Usage at 90% of a limit or more
// takes the warning style, in every layout: on a narrow screen the colour
// is the only sign of the limit.
func (u usageLayout) render(st themes.Styles, c usageCells, base lipgloss.Style) string {
	if u == usageNone {
		return ""
	}
	if !c.shown {
		return base.Render(pad("", u.width()))
	}
	styleFor := func(used, limit int64) lipgloss.Style {
		if limit > 0 && float64(used) >= nearLimitShare*float64(limit) {
			return st.Health[live.Warning]
		}
		return base
	}
	cell := func(s string, w int, style lipgloss.Style) string { return style.Render(pad(s, w)) }
	pct := func(used, of int64) string {
		if c.sum {
			return ""
		}
		return pct(used, of)
	}
	cpuStyle, memStyle := styleFor(c.cpuMilli, c.cpuLim), styleFor(c.memBytes, c.memLim)
	out := cell(formatCPU(c.cpuMilli), usageCPUWidth, cpuStyle)
	if u == usageFull {
		out += cell(pct(c.cpuMilli, c.cpuReq), usagePctWidth, base)
	}
	if u >= usageLimits {
		out += cell(pct(c.cpuMilli, c.cpuLim), usagePctWidth, cpuStyle)
	}
	out += cell(formatMemory(c.memBytes), usageMemWidth, memStyle)
	if u == usageFull {
		out += cell(pct(c.memBytes, c.memReq), usagePctWidth, base)
	}
	if u >= usageLimits {
		out += cell(pct(c.memBytes, c.memLim), usagePctWidth, memStyle)
	}
	return out
}

// formatCPU prints millicores as kubectl top does, in cores from 10.
func formatCPU(m int64) string {
	if m < 10000 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%.1f", float64(m)/1000)
}

// formatMemory prints bytes in Mi, in Gi from 10Gi (kubectl top prints Mi).
func formatMemory(b int64) string {
	const mi, gi = 1 << 20, 1 << 30
	if b < 10*gi {
		return fmt.Sprintf("%dMi", b/mi)
	}
	return fmt.Sprintf("%.1fGi", float64(b)/gi)
}

// pct is used as a share of of, rounded down; "-" without a reference.
func pct(used, of int64) string {
	if of <= 0 {
		return "-"
	}
	p := used * 100 / of
	if p > 999 {
		return ">999"
	}
	return fmt.Sprintf("%d%%", p)
}
