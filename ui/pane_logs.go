package ui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// logsPane streams one container's log (or all of a pod's, tagged), or
// every container of a workload's pods merged (like stern), into a bounded
// ring, so memory stays flat however long a follow runs. It owns the stream
// and closes it when it is replaced or closed.
type logsPane struct {
	frame
	env        *paneEnv
	id, req    int
	subj       subject
	stream     *action.LogStream
	ring       *action.LogRing
	opts       action.LogOptions
	containers []string
	ends       []string
	skipped    int64
	wrap       bool
	timestamps bool
	noFollow   bool // the user turned following off
	search     textSearch
	// notes are the lines before the log (lines skipped); ends come after.
	notes int
	// workload: the subject is a workload whose pods' logs are merged.
	workload bool
	// podColour numbers the pods of a workload stream in order of
	// appearance, for their colour; lineColour is each rendered log line's
	// (-1 for kdoctor's own notes).
	podColour  map[string]int
	lineColour []int
}

// maxEnds bounds the stream-end messages kept: a workload followed for
// hours sees pods come and go.
const maxEnds = 50

type (
	logStreamMsg struct {
		reply
		stream *action.LogStream
		err    error
	}
	logChunkMsg struct {
		reply
		chunk action.LogChunk
		err   error
	}
)

// drop closes a stream that opened for a pane that is gone.
func (m logStreamMsg) drop() {
	if m.stream != nil {
		m.stream.Close()
	}
}

// newLogsPane opens the logs of a pod, or of every pod of a workload:
// previous asks for the crashed instances (`kubectl logs --previous`), else
// the current ones are followed. containers are the pod's, as the tree
// knows them, for tab.
func newLogsPane(env *paneEnv, id int, s subject, containers []string, previous bool) (*logsPane, tea.Cmd) {
	p := &logsPane{env: env, id: id, subj: s, containers: containers, wrap: true, search: newTextSearch(), workload: !s.isPod()}
	p.frame = newFrame(env, "")
	p.restyle()
	p.lineStyle = p.styleLine
	return p, p.open(previous)
}

// hasWorkloadLogs says whether l on the subject's row opens its pods' logs merged.
func hasWorkloadLogs(s subject) bool { return slices.Contains(action.WorkloadLogKinds, s.kind) }

func (p *logsPane) Kind() paneKind   { return paneLogs }
func (p *logsPane) Subject() subject { return p.subj }
func (p *logsPane) Typing() bool     { return p.search.typing }
func (p *logsPane) View() string     { return p.view(p.search.footer()) }

func (p *logsPane) ShortHelp() []key.Binding  { return p.help().ShortHelp() }
func (p *logsPane) FullHelp() [][]key.Binding { return p.help().FullHelp() }
func (p *logsPane) help() paneKeys {
	k := p.env.keys
	if p.workload {
		// Every container of every pod is merged already: no tab.
		return k.paneHelp(k.Previous, k.Follow, k.Wrap, k.Timestamps, k.Search, k.NextMatch, k.PrevMatch)
	}
	return k.paneHelp(k.Previous, k.Follow, k.Wrap, k.Timestamps, k.NextContainer, k.Search, k.NextMatch, k.PrevMatch)
}

// Close stops the stream; its goroutines end with it.
func (p *logsPane) Close() {
	if p.stream != nil {
		st := p.stream
		p.stream = nil
		st.Close()
	}
}

// open (re)starts the stream for the pane's subject with the current
// toggles. A new target or instance starts without a search.
func (p *logsPane) open(previous bool) tea.Cmd {
	p.Close()
	p.req++
	p.opts = action.LogOptions{
		Container: p.subj.container, Previous: previous, Follow: !previous && !p.noFollow,
		TailLines: p.env.logTail, Timestamps: p.timestamps, BufferLines: p.env.logBuffer,
	}
	p.title = "Logs · " + p.subj.String()
	switch {
	case p.workload:
		p.title += " · all pods"
	case p.subj.container != "":
		p.title += " · " + p.subj.container
	}
	p.ring = action.NewLogRing(p.env.logBuffer, 0)
	p.ends, p.skipped = nil, 0
	p.podColour = map[string]int{}
	p.render()
	what := "logs"
	if previous {
		what = "logs --previous"
	}
	p.status = "opening " + what + "…"
	r, acts, opts, parent, s := reply{p.id, p.req}, p.env.actions, p.opts, p.env.ctx, p.subj
	if p.workload {
		// The stream lists and watches the workload's pods itself; this
		// command only resolves the workload and starts it.
		return func() tea.Msg {
			st, err := acts.WorkloadLogs(parent, s.kind, s.namespace, s.name, action.WorkloadLogOptions{LogOptions: opts})
			return logStreamMsg{reply: r, stream: st, err: err}
		}
	}
	return func() tea.Msg {
		st, err := acts.Logs(parent, s.namespace, s.name, opts)
		return logStreamMsg{reply: r, stream: st, err: err}
	}
}

func nextChunk(r reply, st *action.LogStream) tea.Cmd {
	return func() tea.Msg {
		c, err := st.Next(context.Background())
		return logChunkMsg{reply: r, chunk: c, err: err}
	}
}

func (p *logsPane) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case logStreamMsg:
		if msg.reply != (reply{p.id, p.req}) {
			return nil, false // the root closes it
		}
		if msg.err != nil {
			p.render()
			p.status = "logs unavailable: " + kube.Explain(msg.err)
			return nil, true
		}
		p.stream = msg.stream
		// The tree's list names every container (init ones too) for tab; the
		// stream's names only those it reads.
		if len(p.containers) == 0 {
			p.containers = append([]string(nil), msg.stream.Containers...)
		}
		if p.subj.container == "" && len(msg.stream.Containers) == 1 {
			p.subj.container = msg.stream.Containers[0]
			p.title += " · " + p.subj.container
		}
		p.render()
		return nextChunk(msg.reply, msg.stream), true
	case logChunkMsg:
		if msg.reply != (reply{p.id, p.req}) || p.stream == nil {
			return nil, msg.pane == p.id
		}
		if msg.err != nil {
			if msg.err != io.EOF && msg.err != context.Canceled {
				p.ends = append(p.ends, "stream error: "+kube.Explain(msg.err))
			}
			p.render()
			return nil, true
		}
		c := msg.chunk
		p.ring.AppendAll(c.Lines)
		p.skipped += c.Skipped
		for _, e := range c.Ended {
			if e.Status != action.LogComplete && e.Status != action.LogStopped {
				p.ends = append(p.ends, e.Message)
			}
		}
		if len(p.ends) > maxEnds {
			p.ends = append(p.ends[:0], p.ends[len(p.ends)-maxEnds:]...)
		}
		p.render()
		if c.Done {
			return nil, true
		}
		return nextChunk(msg.reply, p.stream), true
	case restyleMsg:
		p.restyle()
		return nil, true
	case tea.MouseWheelMsg:
		return nil, p.mouse(msg)
	}
	return p.search.update(msg), false
}

func (p *logsPane) Key(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if p.search.typing {
		cmd, run := p.search.key(msg)
		if run {
			p.highlight()
		}
		return cmd, true
	}
	k := p.env.keys
	switch {
	case key.Matches(msg, k.Previous):
		return p.open(!p.opts.Previous), true
	case key.Matches(msg, k.Follow):
		if p.opts.Previous {
			return say("a previous instance has ended: there is nothing to follow"), true
		}
		// Off: a snapshot the reader can study; on: new lines keep coming.
		p.noFollow = !p.noFollow
		return p.open(false), true
	case key.Matches(msg, k.Wrap):
		p.wrap = !p.wrap
		p.render()
		return nil, true
	case key.Matches(msg, k.Timestamps):
		p.timestamps = !p.timestamps
		return p.open(p.opts.Previous), true
	case key.Matches(msg, k.NextContainer):
		if p.workload {
			return say("every container of every pod is merged here; open a pod (→) and press l to read one container"), true
		}
		if len(p.containers) < 2 {
			return say("this pod has one container"), true
		}
		next := p.containers[0]
		for i, c := range p.containers {
			if c == p.subj.container {
				next = p.containers[(i+1)%len(p.containers)]
			}
		}
		p.subj.container = next
		p.search.reset()
		return p.open(p.opts.Previous), true
	case key.Matches(msg, k.Search):
		return p.search.start(), true
	case key.Matches(msg, k.NextMatch), key.Matches(msg, k.PrevMatch):
		if p.search.query == "" {
			return say("no search: press / to search the log"), true
		}
		if p.search.count == 0 {
			return say(p.search.summary()), true
		}
		if key.Matches(msg, k.NextMatch) {
			p.search.step(&p.vp, 1)
		} else {
			p.search.step(&p.vp, -1)
		}
		p.status = p.statusLine()
		return nil, true
	}
	return nil, p.scroll(k, msg)
}

// highlight marks the search's matches and scrolls to the nearest.
func (p *logsPane) highlight() {
	p.search.highlight(&p.vp, p.plain)
	p.status = p.statusLine()
}

// styleLine colours the notes before the log and the ends after it, and
// in a workload's stream each pod's lines in a colour of its own.
func (p *logsPane) styleLine(i int) lipgloss.Style {
	st := p.st
	switch {
	case i < p.notes:
		return st.Muted
	case i >= p.notes+p.ring.Len():
		if len(p.ends) == 0 {
			return st.Muted
		}
		return st.Health[live.Warning]
	}
	if j := i - p.notes; j < len(p.lineColour) {
		if c := p.lineColour[j]; c < 0 {
			return st.Muted
		} else if p.workload {
			pal := podPalette(st)
			return pal[c%len(pal)]
		}
	}
	return st.App
}

// podPalette is the rotation of the theme's colours that tells a
// workload's pods apart (stern colours each pod); every line also names
// its pod, so a mono theme loses nothing but colour. Bold is dropped so a
// pod's lines do not read as warnings.
func podPalette(st *themes.Styles) []lipgloss.Style {
	return []lipgloss.Style{
		st.App,
		st.Health[live.Healthy],
		st.Title.Bold(false),
		st.Health[live.Pending],
		st.Health[live.Warning].Bold(false),
	}
}

// render redraws the pane from the ring.
func (p *logsPane) render() {
	lines := p.ring.Lines()
	dropped := p.ring.Dropped() + p.skipped
	var b strings.Builder
	p.notes = 0
	if dropped > 0 {
		fmt.Fprintf(&b, "… %d earlier lines skipped (the pane keeps the last %d)\n", dropped, p.ring.Cap())
		p.notes = 1
	}
	p.lineColour = p.lineColour[:0]
	for _, l := range lines {
		colour := 0
		switch {
		case l.Note:
			colour = -1
		case l.Pod != "":
			c, ok := p.podColour[l.Pod]
			if !ok {
				c = len(p.podColour)
				p.podColour[l.Pod] = c
			}
			colour = c
		}
		p.lineColour = append(p.lineColour, colour)
		text := clean(l.String())
		if p.timestamps && !l.Time.IsZero() {
			text = l.Time.UTC().Format("2006-01-02T15:04:05.000Z") + " " + text
		}
		// One log line is one line of the pane (wrapping aside).
		b.WriteString(strings.ReplaceAll(text, "\n", " ⏎ ") + "\n")
	}
	for _, e := range p.ends {
		b.WriteString("▲ " + strings.ReplaceAll(clean(e), "\n", " ") + "\n")
	}
	if len(lines) == 0 && len(p.ends) == 0 {
		b.WriteString(p.emptyText() + "\n")
	}
	p.vp.SoftWrap = p.wrap
	// The end of a log is what matters in an incident (a crash's last words):
	// stay at the bottom unless the reader scrolled up or is searching.
	p.setText(b.String(), p.search.query == "")
	if p.search.query != "" {
		// New lines keep the matches marked without moving the reader.
		top := p.vp.YOffset()
		p.search.highlight(&p.vp, p.plain)
		p.vp.SetYOffset(top)
	}
	p.status = p.statusLine()
}

// emptyText says why there is nothing to show.
func (p *logsPane) emptyText() string {
	switch {
	case p.stream == nil:
		return "(waiting for the log…)"
	case p.workload && p.opts.Previous:
		return "(no previous instance of any container of these pods has written anything)"
	case p.workload && p.opts.Follow:
		return "(no lines yet from the workload's pods; new lines, and pods that start, appear here)"
	case p.workload:
		return "(the workload's pods have written nothing to their logs)"
	case p.opts.Previous:
		return "(the previous instance wrote nothing to its log before it ended)"
	case p.opts.Follow:
		return "(no lines yet: the container has written nothing; new lines appear here)"
	}
	return "(the container has written nothing to its log)"
}

func (p *logsPane) statusLine() string {
	mode := "current"
	if p.opts.Previous {
		mode = "previous instance"
	}
	parts := []string{mode}
	// A search leads: it is what the reader is doing now, and a narrow
	// pane cuts the end of this line.
	if s := p.search.summary(); s != "" {
		parts = []string{s, mode}
	}
	if p.opts.Follow && p.stream != nil {
		parts = append(parts, "following")
	}
	if p.wrap {
		parts = append(parts, "wrap")
	}
	if p.timestamps {
		parts = append(parts, "timestamps")
	}
	parts = append(parts, fmt.Sprintf("%d lines", p.ring.Len()))
	if p.workload && p.stream != nil {
		pods := p.stream.Pods()
		what := fmt.Sprintf("%d pods", pods.Streaming)
		if pods.Streaming == 1 {
			what = "1 pod"
		}
		if pods.Waiting > 0 {
			what += fmt.Sprintf(" (+%d waiting: at most %d at once)", pods.Waiting, pods.Max)
		}
		parts = append(parts, what)
	}
	if len(p.containers) > 1 {
		parts = append(parts, "tab: "+strings.Join(p.containers, "/"))
	}
	return strings.Join(parts, " · ")
}
