package ui

import (
	"context"
	"fmt"
	"io"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/kube"
	kubeaction "github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// logView is the state of the logs pane: one stream at a time, its lines in
// a bounded ring so memory stays flat however long a follow runs.
type logView struct {
	stream     *kubeaction.LogStream
	ring       *kubeaction.LogRing
	opts       kubeaction.LogOptions
	containers []string
	ends       []string
	skipped    int64
	wrap       bool
	timestamps bool
	noFollow   bool // the user turned following off
	search     textinput.Model
	query      string
	match      int // line index of the current match, -1 none
}

func newLogView() logView {
	in := textinput.New()
	in.Prompt = "search: "
	return logView{wrap: true, search: in, match: -1}
}

type (
	logStreamMsg struct {
		seq    int
		stream *kubeaction.LogStream
		err    error
	}
	logChunkMsg struct {
		seq   int
		chunk kubeaction.LogChunk
		err   error
	}
)

// openLogs opens the logs pane on the selection: previous asks for the
// crashed instance (`kubectl logs --previous`), else the current one is
// followed.
func (m *Model) openLogs(s subject, previous bool) tea.Cmd {
	m.closeLogs()
	m.seq++
	kind := "logs"
	if previous {
		kind = "logs --previous"
	}
	m.detail.Open(paneLogs, s, m.seq, "opening "+kind+"…")
	m.focus = focusDetail
	m.layout()
	m.logs.containers = nil
	if p := m.tree.Pod(s.namespace, s.pod); p != nil {
		for _, c := range p.Containers {
			m.logs.containers = append(m.logs.containers, c.Name)
		}
	}
	m.logs.opts = kubeaction.LogOptions{
		Container: s.container, Previous: previous, Follow: !previous && !m.logs.noFollow,
		TailLines: m.opts.LogTail, Timestamps: m.logs.timestamps, BufferLines: m.opts.LogBuffer,
	}
	m.logs.ring = kubeaction.NewLogRing(m.opts.LogBuffer, 0)
	m.logs.ends, m.logs.skipped, m.logs.match = nil, 0, -1
	m.renderLogs()
	seq, acts, opts, parent := m.seq, m.actions, m.logs.opts, m.opts.Ctx
	return func() tea.Msg {
		st, err := acts.Logs(parent, s.namespace, s.pod, opts)
		return logStreamMsg{seq: seq, stream: st, err: err}
	}
}

// closeLogs stops a running stream; its goroutines end with it.
func (m *Model) closeLogs() {
	if m.logs.stream != nil {
		st := m.logs.stream
		m.logs.stream = nil
		st.Close()
	}
}

func nextChunk(seq int, st *kubeaction.LogStream) tea.Cmd {
	return func() tea.Msg {
		c, err := st.Next(context.Background())
		return logChunkMsg{seq: seq, chunk: c, err: err}
	}
}

func (m *Model) logStreamOpened(msg logStreamMsg) tea.Cmd {
	if msg.seq != m.detail.seq || m.detail.kind != paneLogs {
		if msg.stream != nil {
			msg.stream.Close()
		}
		return nil
	}
	if msg.err != nil {
		m.detail.status = "logs unavailable: " + kube.Explain(msg.err)
		m.renderLogs()
		return nil
	}
	m.logs.stream = msg.stream
	m.logs.containers = append([]string(nil), msg.stream.Containers...)
	if m.detail.subject.container == "" && len(msg.stream.Containers) == 1 {
		m.detail.subject.container = msg.stream.Containers[0]
	}
	m.renderLogs()
	return nextChunk(msg.seq, msg.stream)
}

func (m *Model) logChunk(msg logChunkMsg) tea.Cmd {
	if msg.seq != m.detail.seq || m.logs.stream == nil {
		return nil
	}
	if msg.err != nil {
		if msg.err != io.EOF && msg.err != context.Canceled {
			m.logs.ends = append(m.logs.ends, "stream error: "+kube.Explain(msg.err))
		}
		m.renderLogs()
		return nil
	}
	c := msg.chunk
	m.logs.ring.AppendAll(c.Lines)
	m.logs.skipped += c.Skipped
	for _, e := range c.Ended {
		if e.Status != kubeaction.LogComplete && e.Status != kubeaction.LogStopped {
			m.logs.ends = append(m.logs.ends, e.Message)
		}
	}
	m.renderLogs()
	if c.Done {
		return nil
	}
	return nextChunk(msg.seq, m.logs.stream)
}

// renderLogs redraws the pane from the ring.
func (m *Model) renderLogs() {
	if m.detail.kind != paneLogs {
		return
	}
	st, lv := m.styles, &m.logs
	lines := lv.ring.Lines()
	dropped := lv.ring.Dropped() + lv.skipped
	var styled, plain strings.Builder
	if dropped > 0 {
		note := fmt.Sprintf("… %d earlier lines skipped (the pane keeps the last %d)", dropped, lv.ring.Cap())
		styled.WriteString(st.Muted.Render(note) + "\n")
	}
	q := strings.ToLower(lv.query)
	for i, l := range lines {
		text := clean(l.String())
		if lv.timestamps && !l.Time.IsZero() {
			text = l.Time.UTC().Format("2006-01-02T15:04:05.000Z") + " " + text
		}
		plain.WriteString(text + "\n")
		if q != "" && strings.Contains(strings.ToLower(text), q) {
			style := st.Match
			if i == lv.match {
				style = st.Selected
			}
			text = highlightAll(text, q, st.App, style)
		} else {
			text = st.App.Render(text)
		}
		styled.WriteString(text + "\n")
	}
	for _, e := range lv.ends {
		styled.WriteString(st.Health[live.Warning].Render("▲ "+clean(e)) + "\n")
	}
	if len(lines) == 0 && len(lv.ends) == 0 {
		styled.WriteString(st.Muted.Render("(no lines yet)") + "\n")
	}
	m.detail.vp.SoftWrap = lv.wrap
	// The end of a log is what matters in an incident (a crash's last words):
	// stay at the bottom unless the reader scrolled up or is searching.
	follow := lv.match < 0
	m.detail.SetContent(styled.String(), plain.String(), follow)
	mode := "current"
	if lv.opts.Previous {
		mode = "previous instance"
	}
	parts := []string{mode}
	if lv.opts.Follow && lv.stream != nil {
		parts = append(parts, "following")
	}
	if lv.wrap {
		parts = append(parts, "wrap")
	}
	if lv.timestamps {
		parts = append(parts, "timestamps")
	}
	parts = append(parts, fmt.Sprintf("%d lines", len(lines)))
	if len(lv.containers) > 1 {
		parts = append(parts, "tab: "+strings.Join(lv.containers, "/"))
	}
	if lv.query != "" {
		parts = append(parts, "search "+lv.query)
	}
	m.detail.status = strings.Join(parts, " · ")
}

func highlightAll(text, q string, base, match lipgloss.Style) string {
	lower := strings.ToLower(text)
	var b strings.Builder
	for {
		i := strings.Index(lower, q)
		if i < 0 || q == "" {
			b.WriteString(base.Render(text))
			return b.String()
		}
		b.WriteString(base.Render(text[:i]) + match.Render(text[i:i+len(q)]))
		text, lower = text[i+len(q):], lower[i+len(q):]
	}
}

// logsKey handles the logs pane's own keys; false leaves the key to others.
func (m *Model) logsKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k, lv := m.keys, &m.logs
	s := m.detail.subject
	switch {
	case key.Matches(msg, k.Previous):
		return m.openLogs(s, !lv.opts.Previous), true
	case key.Matches(msg, k.Follow):
		if lv.opts.Previous {
			m.status = "a previous instance has ended: there is nothing to follow"
			return nil, true
		}
		// Off: a snapshot the reader can study; on: new lines keep coming.
		lv.noFollow = !lv.noFollow
		return m.openLogs(s, false), true
	case key.Matches(msg, k.Wrap):
		lv.wrap = !lv.wrap
		m.renderLogs()
		return nil, true
	case key.Matches(msg, k.Timestamps):
		lv.timestamps = !lv.timestamps
		return m.openLogs(s, lv.opts.Previous), true
	case key.Matches(msg, k.NextContainer):
		if len(lv.containers) < 2 {
			m.status = "this pod has one container"
			return nil, true
		}
		next := lv.containers[0]
		for i, c := range lv.containers {
			if c == s.container {
				next = lv.containers[(i+1)%len(lv.containers)]
			}
		}
		s.container = next
		return m.openLogs(s, lv.opts.Previous), true
	case key.Matches(msg, k.Search):
		m.focus = focusLogSearch
		lv.search.SetValue(lv.query)
		return lv.search.Focus(), true
	case key.Matches(msg, k.NextMatch):
		m.nextMatch()
		return nil, true
	}
	return nil, false
}

func (m Model) logSearchKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	lv := &m.logs
	switch msg.String() {
	case "esc":
		lv.search.Blur()
		lv.query, lv.match = "", -1
		m.focus = focusDetail
		m.renderLogs()
		return m, nil
	case "enter":
		lv.search.Blur()
		m.focus = focusDetail
		lv.query, lv.match = lv.search.Value(), -1
		m.nextMatch()
		return m, nil
	}
	var cmd tea.Cmd
	lv.search, cmd = lv.search.Update(msg)
	return m, cmd
}

// nextMatch moves to the next line containing the search, wrapping around.
func (m *Model) nextMatch() {
	lv := &m.logs
	if lv.query == "" {
		m.status = "no search: press / to search the log"
		return
	}
	lines := lv.ring.Lines()
	q := strings.ToLower(lv.query)
	for n := 1; n <= len(lines); n++ {
		i := (lv.match + n) % len(lines)
		if strings.Contains(strings.ToLower(lines[i].String()), q) {
			lv.match = i
			m.renderLogs()
			m.detail.vp.SetYOffset(m.visualRow(i))
			return
		}
	}
	m.status = fmt.Sprintf("%q not found in the %d lines held", lv.query, len(lines))
	lv.match = -1
	m.renderLogs()
}

// visualRow converts a log line index into the viewport's row offset, which
// counts wrapped rows when wrapping is on; one row of context stays above.
func (m *Model) visualRow(i int) int {
	lines := strings.Split(m.detail.vp.GetContent(), "\n")
	if m.logs.ring.Dropped()+m.logs.skipped > 0 {
		i++ // the "lines skipped" note comes first
	}
	w := max(1, m.detail.vp.Width())
	row := 0
	for n := 0; n < i && n < len(lines); n++ {
		h := 1
		if m.logs.wrap {
			h = max(1, (ansi.StringWidth(lines[n])+w-1)/w)
		}
		row += h
	}
	return max(0, row-1)
}
