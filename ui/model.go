// Package ui is kdoctor's terminal interface: a bubbletea root model that
// routes messages and owns focus, size and the watch lifecycle, and plain
// child models (the pod tree, the detail pane, dialogs) that it lays out.
package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	kubeaction "github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// Minimum usable terminal size; below it the screen says how big it must be.
const (
	MinWidth  = 60
	MinHeight = 12
)

// Options configures the model.
type Options struct {
	// Ctx bounds everything the UI starts; cancelling it stops the watches.
	Ctx    context.Context
	Source kube.Source
	Scope  live.Scope
	// Connect opens another kubeconfig context (the ":" palette); nil
	// disables context switching (the demo).
	Connect func(context string) (kube.Source, error)
	// Contexts lists the kubeconfig's contexts for the palette.
	Contexts []string
	// Styles is the theme; ThemeFixed means --theme was given, so the
	// terminal's background does not change it.
	Styles     themes.Styles
	ThemeFixed bool
	// Now is the clock for ages (tests pin it).
	Now func() time.Time
	// Watch starts the watch of a scope; tests may replace it.
	Watch func(ctx context.Context, client k8s.Interface, scope live.Scope) *live.Watcher
	// SessionLog records every change and shell; nil records nothing.
	SessionLog *kubeaction.SessionLog
	// LogTail is how many lines a logs pane fetches first (default 500);
	// LogBuffer how many it keeps (default kubeaction.DefaultLogLines).
	LogTail   int64
	LogBuffer int
	// Rules diagnoses the selected pod: the built-in catalogue plus the
	// team's rules; nil is the built-in catalogue alone.
	Rules *diag.Rules
	// OnKey, when set, sees every key press first. Tests inject a crash
	// through it; the product leaves it nil (no environment is read).
	OnKey func(tea.KeyPressMsg)
}

// focus says which widget receives keys.
type focus uint8

const (
	focusTree focus = iota
	focusDetail
	focusFilter
	focusPalette
	focusDialog
	focusLogSearch
)

// Model is the root bubbletea model.
type Model struct {
	opts   Options
	src    kube.Source
	scope  live.Scope
	keys   KeyMap
	help   help.Model
	styles themes.Styles

	tree PodTree
	feed EventFeed
	// fit remembers lines already fitted to the screen.
	fit    *frameCache[fitKey]
	detail DetailPane
	filter textinput.Model
	pal    palette
	dlg    dialog
	focus  focus

	width, height int
	showHelp      bool
	wide          bool // detail pane beside the tree rather than below

	// The current watch; gen tells its messages from a replaced watch's.
	gen       int
	watch     *live.Watcher
	stopWatch context.CancelFunc
	state     live.ConnState
	received  int
	watchErr  error
	resources []live.ResourceState
	ended     bool

	seq    int // request counter for the detail pane
	status string

	// knownNS are the namespaces seen in this session, for the palette.
	knownNS     map[string]bool
	actions     *kubeaction.Actions
	diag        *diag.Diagnosis // the diagnosis shown, for y and w
	diagTarget  diag.Target
	diagLoading bool
	logs        logView
	drainLines  []string
	drainEvents <-chan drainEventMsg
	drainCancel context.CancelFunc
}

// Messages that enter the model. Every async result arrives as one of these.
type (
	watchStartedMsg struct {
		gen    int
		w      *live.Watcher
		cancel context.CancelFunc
	}
	batchMsg struct {
		gen int
		b   live.Batch
	}
	watchEndedMsg struct{ gen int }
	clockMsg      time.Time
	statusMsg     string
	describeMsg   struct {
		seq  int
		text string
		err  error
	}
	sourceMsg struct {
		src kube.Source
		err error
		ctx string
	}
)

// New builds the root model.
func New(opts Options) Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	if opts.LogTail == 0 {
		opts.LogTail = 500
	}
	if opts.LogBuffer == 0 {
		opts.LogBuffer = kubeaction.DefaultLogLines
	}
	if opts.Watch == nil {
		rules, now := opts.Rules, opts.Now
		opts.Watch = func(ctx context.Context, c k8s.Interface, scope live.Scope) *live.Watcher {
			wo := live.AllResources
			wo.Rules, wo.Now = rules, now
			return live.Watch(ctx, c, scope, wo)
		}
	}
	fi := textinput.New()
	fi.Prompt = "/"
	fi.Placeholder = "filter: namespace, workload, pod, node, cause"
	m := Model{
		opts: opts, src: opts.Source, scope: opts.Scope, keys: DefaultKeyMap().forSource(opts.Source.Info()), help: help.New(), styles: opts.Styles,
		tree: NewPodTree(), feed: NewEventFeed(), fit: &frameCache[fitKey]{}, detail: newDetailPane(), filter: fi, pal: newPalette(),
		gen: 1, logs: newLogView(), knownNS: map[string]bool{},
	}
	m.actions = newActions(opts.Source, opts.SessionLog)
	m.help.Styles = m.styles.Help
	return m
}

// Init starts the watch and asks the terminal for its background.
func (m Model) Init() tea.Cmd {
	// Init has a value receiver: the first watch uses the generation New set.
	cmds := []tea.Cmd{m.watchCmd(), tickClock()}
	if !m.opts.ThemeFixed {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// startWatch replaces the watch with one for the current source and scope.
func (m *Model) startWatch() tea.Cmd {
	m.gen++
	return m.watchCmd()
}

// watchCmd starts a watch in a command, so the model never starts goroutines
// from Update itself.
func (m Model) watchCmd() tea.Cmd {
	gen, src, scope, parent, start := m.gen, m.src, m.scope, m.opts.Ctx, m.opts.Watch
	return func() tea.Msg {
		ctx, cancel := context.WithCancel(parent)
		return watchStartedMsg{gen: gen, w: start(ctx, src.Client(), scope), cancel: cancel}
	}
}

// waitBatch turns the next watch batch into a message. Only this command
// reads the channel, so no goroutine ever touches the model.
func waitBatch(gen int, w *live.Watcher) tea.Cmd {
	return func() tea.Msg {
		b, ok := <-w.Batches()
		if !ok {
			return watchEndedMsg{gen: gen}
		}
		return batchMsg{gen: gen, b: b}
	}
}

// tickClock refreshes ages once a second.
func tickClock() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return clockMsg(t) })
}

// newActions builds the one-key actions for a source: exec needs the REST
// config a real cluster has and the demo has not.
func newActions(src kube.Source, log *kubeaction.SessionLog) *kubeaction.Actions {
	if c, ok := src.(*kube.Cluster); ok {
		a := kubeaction.NewActions(src, c.Config, log)
		a.User = c.User
		return a
	}
	return kubeaction.NewActions(src, nil, log)
}

// Stop cancels the running watch, log stream and drain, and waits for the
// watch's goroutines.
func (m Model) Stop() {
	m.closeLogs()
	if m.drainCancel != nil {
		m.drainCancel()
	}
	if m.stopWatch != nil {
		m.stopWatch()
		<-m.watch.Done()
	}
}

// Update routes a message: window and data messages to whoever needs them,
// keys in a fixed order (quit, dialog, help, palette/filter, focused pane).
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.BackgroundColorMsg:
		if !m.opts.ThemeFixed {
			m.styles = themes.Default(msg.IsDark())
			m.help.Styles = m.styles.Help
			m.refreshDetail()
		}
		return m, nil
	case watchStartedMsg:
		if msg.gen != m.gen {
			msg.cancel() // a newer scope was chosen meanwhile
			return m, nil
		}
		if m.stopWatch != nil {
			m.stopWatch()
		}
		m.watch, m.stopWatch = msg.w, msg.cancel
		m.state, m.received, m.ended = live.Syncing, 0, false
		return m, waitBatch(msg.gen, msg.w)
	case batchMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m, tea.Batch(m.applyBatch(msg.b), waitBatch(msg.gen, m.watch))
	case watchEndedMsg:
		if msg.gen == m.gen {
			m.ended = true
		}
		return m, nil
	case filterDoneMsg:
		m.tree.FinishFilter(msg)
		return m, nil
	case clockMsg:
		return m, tickClock()
	case statusMsg:
		m.status = string(msg)
		return m, nil
	case describeMsg:
		if msg.seq == m.detail.seq {
			m.showDescribe(msg)
		}
		return m, nil
	case diagnosisMsg:
		if msg.seq == m.detail.seq && m.detail.kind == paneDiagnosis {
			m.showDiagnosis(msg)
		}
		return m, nil
	case writtenMsg:
		if msg.err != nil {
			m.status = "could not write the diagnosis: " + msg.err.Error()
		} else {
			m.status = "diagnosis written to " + msg.path
		}
		return m, nil
	case logStreamMsg:
		return m, m.logStreamOpened(msg)
	case logChunkMsg:
		return m, m.logChunk(msg)
	case accessMsg:
		return m, m.accessAnswered(msg)
	case nodeResultMsg:
		if msg.err != nil {
			m.status = fmt.Sprintf("%s failed: %s", msg.act, kube.Explain(msg.err))
		} else {
			m.status = clean(msg.res.Message)
		}
		return m, nil
	case drainPlanMsg:
		m.drainPlanned(msg)
		return m, nil
	case drainEventMsg:
		return m, m.drainEvent(msg)
	case execDoneMsg:
		m.execDone(msg)
		return m, nil
	case sourceMsg:
		return m, m.switchSource(msg)
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.MouseWheelMsg:
		if m.focus == focusDetail {
			return m, m.detail.Update(msg)
		}
		switch msg.Button {
		case tea.MouseWheelUp:
			m.tree.Move(-3)
		case tea.MouseWheelDown:
			m.tree.Move(3)
		}
		return m, nil
	case tea.MouseClickMsg:
		// The tree starts below the two header lines.
		if msg.Button == tea.MouseLeft && msg.X < m.tree.width && msg.Y >= 2 && msg.Y < 2+m.tree.height {
			m.tree.ClickRow(msg.Y - 2)
			m.focus = focusTree
		}
		return m, nil
	}
	return m.updateFocused(msg)
}

// updateFocused hands other messages (cursor blink, …) to the focused input.
func (m Model) updateFocused(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.focus {
	case focusFilter:
		m.filter, cmd = m.filter.Update(msg)
	case focusPalette:
		cmd = m.pal.update(msg)
	case focusDialog:
		cmd = m.dlg.update(msg)
	case focusLogSearch:
		m.logs.search, cmd = m.logs.search.Update(msg)
	}
	return m, cmd
}

func (m *Model) applyBatch(b live.Batch) tea.Cmd {
	for i := range b.Pods {
		m.knownNS[b.Pods[i].Namespace] = true
	}
	m.tree.Apply(b)
	m.feed.Apply(b.Events)
	m.state, m.received, m.watchErr = b.State, b.Received, b.Err
	if b.Resources != nil {
		m.resources = b.Resources
	}
	if m.detail.kind == paneEvents && len(b.Events) > 0 {
		m.refreshDetail()
	}
	// The diagnosis follows its pod: a restart or a new status walks again.
	if m.detail.kind == paneDiagnosis && !m.diagLoading && m.diagTarget.Kind == "pod" {
		for _, r := range b.Pods {
			if r.Namespace == m.diagTarget.Namespace && r.Name == m.diagTarget.Name {
				m.detail.status = "pod changed: walking again…"
				return m.runDiagnosis()
			}
		}
	}
	return nil
}

func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	// A status line answers the last key; the next key starts afresh.
	m.status = ""
	if m.opts.OnKey != nil {
		m.opts.OnKey(msg)
	}
	switch m.focus {
	case focusDialog:
		return m.dialogKey(msg)
	case focusFilter:
		return m.filterKey(msg)
	case focusPalette:
		return m.paletteKey(msg)
	case focusLogSearch:
		return m.logSearchKey(msg)
	}
	if m.showHelp {
		m.showHelp = false // any key closes the help; q still quits
		if key.Matches(msg, m.keys.Quit) {
			return m, tea.Quit
		}
		return m, nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return m, nil
	case key.Matches(msg, k.Command):
		m.focus = focusPalette
		return m, m.pal.open(m.paletteItems())
	case key.Matches(msg, k.Back):
		return m.back()
	}
	if m.focus == focusDetail {
		if m.detail.kind == paneLogs {
			if cmd, ok := m.logsKey(msg); ok {
				return m, cmd
			}
		}
		if cmd, ok := m.detailKey(msg); ok {
			return m, cmd
		}
	}
	return m.treeKey(msg)
}

// back is esc: clear the filter, leave the pane, close the pane — one step
// per press, so esc never throws away more than the user meant.
func (m Model) back() (tea.Model, tea.Cmd) {
	switch {
	case m.detail.kind == paneDrain && m.drainCancel != nil:
		m.drainCancel()
		m.status = "cancelling the drain… (pods already evicted stay evicted; the node stays cordoned)"
	case m.focus == focusDetail:
		m.focus = focusTree
	case m.detail.kind != paneNone:
		m.closeLogs()
		m.detail.kind = paneNone
		m.layout()
	case m.filter.Value() != "":
		m.filter.SetValue("")
		m.tree.SetFilter("")
	}
	return m, nil
}

func (m Model) filterKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "esc":
		m.filter.SetValue("")
		m.filter.Blur()
		m.focus = focusTree
		m.tree.SetFilter("")
		return m, nil
	case "enter", "down", "up":
		m.filter.Blur()
		m.focus = focusTree
		if msg.String() != "enter" {
			return m.treeKey(msg)
		}
		if m.filter.Value() != "" {
			m.tree.SelectFirstPod()
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(msg)
	return m, tea.Batch(cmd, m.tree.Filter(m.filter.Value()))
}

func (m Model) treeKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Up):
		m.tree.Move(-1)
	case key.Matches(msg, k.Down):
		m.tree.Move(1)
	case key.Matches(msg, k.PageUp):
		m.tree.Move(-m.tree.rowsVisible() + 1)
	case key.Matches(msg, k.PageDown):
		m.tree.Move(m.tree.rowsVisible() - 1)
	case key.Matches(msg, k.Top):
		m.tree.MoveTo(0)
	case key.Matches(msg, k.Bottom):
		m.tree.MoveTo(-1)
	case key.Matches(msg, k.Expand):
		m.tree.SetOpen(true)
	case key.Matches(msg, k.Collapse):
		m.tree.SetOpen(false)
	case key.Matches(msg, k.Toggle):
		m.tree.Toggle()
	case key.Matches(msg, k.Filter):
		m.focus = focusFilter
		return m, m.filter.Focus()
	case key.Matches(msg, k.ProblemsOnly):
		if m.tree.ToggleProblemsOnly() {
			m.status = "showing problems only (! shows all)"
		} else {
			m.status = "showing all pods"
		}
	case key.Matches(msg, k.ByNode):
		if m.tree.ToggleByNode() {
			m.status = "grouped by node (n groups by namespace)"
		} else {
			m.status = "grouped by namespace"
		}
	default:
		return m.actionKey(msg)
	}
	return m, nil
}

// detailKey scrolls the focused pane; it reports false for keys it leaves
// to the tree (the one-key actions work from the pane too).
func (m *Model) detailKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown):
		return m.detail.Update(msg), true
	case key.Matches(msg, k.Top):
		m.detail.vp.GotoTop()
		return nil, true
	case key.Matches(msg, k.Bottom):
		m.detail.vp.GotoBottom()
		return nil, true
	}
	return nil, false
}

// actionKey runs the one-key actions on the selection.
func (m Model) actionKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	sel := m.selection()
	switch {
	case key.Matches(msg, k.Describe):
		if sel.pod == "" && sel.node == "" {
			return m, m.say("select a pod (or a node in group-by-node view) to describe")
		}
		return m, m.openDescribe(sel)
	case key.Matches(msg, k.Events):
		m.closeLogs()
		m.openEvents(sel)
		return m, nil
	case key.Matches(msg, k.Diagnose):
		m.closeLogs()
		if sel.pod != "" {
			return m, m.openDiagnosis(sel, diag.Target{Kind: "pod", Namespace: sel.namespace, Name: sel.pod})
		}
		if l, ok := m.tree.SelectedLine(); ok && l.kind == workloadNode {
			kind := strings.ToLower(l.bkt.key.kind)
			s := subject{namespace: l.bkt.key.ns, pod: l.bkt.key.kind + "/" + l.bkt.key.name}
			return m, m.openDiagnosis(s, diag.Target{Kind: kind, Namespace: l.bkt.key.ns, Name: l.bkt.key.name})
		}
		if l, ok := m.tree.SelectedLine(); ok && (l.kind == nsNode || l.kind == k8sNodeNode) {
			m.tree.Toggle()
			return m, nil
		}
		return m, m.say("select a pod or a workload to diagnose")
	case key.Matches(msg, k.Logs), key.Matches(msg, k.Previous):
		if sel.pod == "" {
			return m, m.say("select a pod (or one of its containers) to read its logs")
		}
		return m, m.openLogs(sel, key.Matches(msg, k.Previous))
	case key.Matches(msg, k.Shell):
		return m, m.requestAction(actShell, sel)
	case key.Matches(msg, k.Cordon):
		return m, m.requestAction(actCordon, sel)
	case key.Matches(msg, k.Uncordon):
		return m, m.requestAction(actUncordon, sel)
	case key.Matches(msg, k.Drain):
		return m, m.requestAction(actDrain, sel)
	case key.Matches(msg, k.Copy):
		return m, m.copyDiagnosis()
	case key.Matches(msg, k.Write):
		return m, m.writeDiagnosis()
	}
	return m, nil
}

// selection is the subject under the cursor.
func (m Model) selection() subject {
	l, ok := m.tree.SelectedLine()
	if !ok {
		return subject{}
	}
	s := subject{namespace: l.namespace(), node: l.nodeName()}
	if l.pod != nil {
		s.namespace, s.pod, s.node = l.pod.Namespace, l.pod.Name, l.pod.Node
		s.container = m.tree.SelectedContainer()
	}
	return s
}

func (m Model) say(s string) tea.Cmd { return func() tea.Msg { return statusMsg(s) } }

func (m *Model) openDescribe(s subject) tea.Cmd {
	m.seq++
	m.detail.Open(paneDescribe, s, m.seq, "describing…")
	m.focus = focusDetail
	m.layout()
	seq, client := m.seq, m.src.Client()
	kind, ns, name := "Pod", s.namespace, s.pod
	if s.pod == "" {
		kind, ns, name = "Node", "", s.node
	}
	return func() tea.Msg {
		text, err := kubeaction.Describe(client, kind, ns, name)
		return describeMsg{seq: seq, text: text, err: err}
	}
}

func (m *Model) showDescribe(msg describeMsg) {
	if msg.err != nil {
		m.detail.status = "describe failed: " + kube.Explain(msg.err)
		m.detail.SetContent("", "", false)
		return
	}
	m.detail.status = "kubectl describe"
	text := clean(msg.text)
	m.detail.SetContent(m.styles.App.Render(text), text, false)
}

func (m *Model) openEvents(s subject) {
	m.seq++
	m.detail.Open(paneEvents, s, m.seq, "")
	if s.pod == "" && s.node == "" {
		m.detail.title = "Events · Warning events in scope"
	}
	m.focus = focusDetail
	m.layout()
	m.refreshDetail()
}

// refreshDetail recomputes content that is derived from model state.
func (m *Model) refreshDetail() {
	if m.detail.kind != paneEvents {
		return
	}
	s := m.detail.subject
	var filter func(live.EventRow) bool
	if s.pod != "" {
		filter = func(e live.EventRow) bool {
			return (e.Namespace == s.namespace && e.ObjectName == s.pod) || (e.ObjectKind == "Node" && e.ObjectName == s.node)
		}
	}
	groups := m.feed.Groups(filter)
	styled, plain := renderEvents(m.styles, groups, m.opts.Now())
	m.detail.status = fmt.Sprintf("%d groups · warnings, newest first", len(groups))
	m.detail.SetContent(styled, plain, false)
}

// layout hands each child its size; computed once per resize or pane change.
func (m *Model) layout() {
	m.help.SetWidth(m.width)
	m.filter.SetWidth(max(10, m.width-4))
	m.pal.setWidth(m.width)
	body := max(1, m.height-4) // two header lines, status line, help line
	m.wide = m.width >= 140
	switch {
	case m.detail.kind == paneNone:
		m.tree.SetSize(m.width, body)
	case m.wide:
		tw := m.width * 11 / 20
		m.tree.SetSize(tw, body)
		m.detail.SetSize(m.width-tw-1, body)
	default:
		th := max(4, body*2/5)
		m.tree.SetSize(m.width, th)
		m.detail.SetSize(m.width, body-th-1)
	}
}

// View draws the screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "kdoctor"
	return v
}

func (m Model) render() string {
	st := m.styles
	if m.width == 0 {
		return ""
	}
	if m.width < MinWidth || m.height < MinHeight {
		return st.Error.Render(ansi.Wordwrap(fmt.Sprintf("kdoctor needs a terminal of at least %d×%d (this one is %d×%d)", MinWidth, MinHeight, m.width, m.height), m.width, ""))
	}
	body := max(1, m.height-4)
	m.fit.begin()
	var main string
	switch {
	case m.showHelp:
		main = st.Title.Render("Keys") + "  " + st.Muted.Render("(any key closes this)") + "\n\n" + helpView(st, m.paneKeys().FullHelp(), m.width)
	case m.focus == focusDialog:
		main = m.dlg.view(st, m.width, body)
	case m.focus == focusPalette:
		main = m.pal.view(st, m.width, body)
	case m.detail.kind == paneNone:
		main = m.tree.View(st, m.opts.Now())
	case m.wide:
		tree := box(m.fit, m.tree.View(st, m.opts.Now()), m.tree.width, body)
		sep := st.Border.Render(strings.TrimSuffix(strings.Repeat("│\n", body), "\n"))
		main = lipgloss.JoinHorizontal(lipgloss.Top, tree, sep, m.detail.View(st, m.width-m.tree.width-1))
	default:
		tree := box(m.fit, m.tree.View(st, m.opts.Now()), m.width, m.tree.height)
		main = tree + "\n" + st.Border.Render(strings.Repeat("─", m.width)) + "\n" + m.detail.View(st, m.width)
	}
	var b strings.Builder
	b.WriteString(m.headerView())
	b.WriteByte('\n')
	b.WriteString(box(m.fit, main, m.width, body))
	b.WriteByte('\n')
	b.WriteString(m.statusView())
	b.WriteByte('\n')
	b.WriteString(m.help.ShortHelpView(m.paneKeys().ShortHelp()))
	return b.String()
}

// fitKey is a line and the width it is fitted to.
type fitKey struct {
	line string
	w    int
}

// box clips or pads s to exactly w×h cells. Measuring a line walks its
// grapheme clusters, which was most of a frame's cost; fitted lines are
// remembered in c.
func box(c *frameCache[fitKey], s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = fitLine(c, l, w)
	}
	return strings.Join(lines, "\n")
}

func fitLine(c *frameCache[fitKey], l string, w int) string {
	k := fitKey{l, w}
	if out, ok := c.get(k); ok {
		return out
	}
	out := l
	n := ansi.StringWidth(out)
	if n > w {
		out = ansi.Truncate(out, w, "")
		n = ansi.StringWidth(out)
	}
	if n < w {
		out += strings.Repeat(" ", w-n)
	}
	c.put(k, out)
	return out
}

func (m Model) paneKeys() help.KeyMap {
	switch {
	case m.focus == focusDialog:
		return m.keys.dialogHelp()
	case m.focus == focusDetail && m.detail.kind == paneLogs:
		return m.keys.logsHelp()
	case m.focus == focusDetail:
		return m.keys.detailHelp()
	}
	return m.keys.treeHelp()
}

func (m Model) headerView() string {
	st := m.styles
	info := m.src.Info()
	var parts []string
	if info.Demo {
		parts = append(parts, st.Badge.Render(" DEMO "))
	}
	if info.ReadOnly {
		parts = append(parts, st.Badge.Render(" READ-ONLY "))
	}
	parts = append(parts, st.Title.Render("kdoctor"))
	parts = append(parts, st.HeaderKey.Render("ctx ")+st.Header.Render(clean(info.Context)))
	scope := "all namespaces"
	if len(m.scope.Namespaces) > 0 {
		scope = strings.Join(m.scope.Namespaces, ",")
	}
	parts = append(parts, st.HeaderKey.Render("ns ")+st.Header.Render(scope))
	parts = append(parts, m.stateView())
	c := m.tree.Counts()
	counts := fmt.Sprintf("%s %d failing  %s %d warning  %s %d pending  %s %d ok",
		healthSymbol[live.Failing], c[live.Failing], healthSymbol[live.Warning], c[live.Warning],
		healthSymbol[live.Pending], c[live.Pending], healthSymbol[live.Healthy], c[live.Healthy])
	line1 := strings.Join(parts, st.Muted.Render(" │ "))
	line2 := st.Header.Render(counts) + st.Muted.Render("  ") + st.HeaderKey.Render(clean(info.Server))
	if u := m.unavailable(); u != "" {
		line2 = st.Header.Render(counts) + "  " + st.Health[live.Warning].Render(u)
	}
	return ansi.Truncate(line1, m.width, "…") + "\n" + ansi.Truncate(line2, m.width, "…")
}

// unavailable explains watched resources the user may not read.
func (m Model) unavailable() string {
	var out []string
	for _, r := range m.resources {
		if r.State != live.Forbidden || r.Resource == live.ResPods {
			continue
		}
		what := map[string]string{
			live.ResNodes:     "node conditions unavailable",
			live.ResEvents:    "events feed unavailable",
			live.ResWorkloads: "workloads without pods not shown",
		}[r.Resource]
		out = append(out, r.Resource+": forbidden — "+what)
	}
	return strings.Join(out, "; ")
}

func (m Model) stateView() string {
	st := m.styles
	switch {
	case m.ended:
		return st.Error.Render("watch stopped")
	case m.state == live.Syncing:
		return st.Health[live.Pending].Render(fmt.Sprintf("syncing… %d objects", m.received))
	case m.state == live.Live:
		return st.Health[live.Healthy].Render("● live")
	case m.state == live.Reconnecting:
		return st.Health[live.Warning].Render("reconnecting (showing last known state): " + kube.Explain(m.watchErr))
	default:
		return st.Error.Render("forbidden: " + kube.Explain(m.watchErr))
	}
}

func (m Model) statusView() string {
	st := m.styles
	if m.focus == focusFilter || (m.filter.Value() != "" && m.status == "") {
		return ansi.Truncate(m.filter.View(), m.width, "…")
	}
	if m.focus == focusLogSearch {
		return ansi.Truncate(m.logs.search.View(), m.width, "…")
	}
	s := m.status
	if s == "" {
		if p := m.tree.Selected(); p != nil {
			s = p.Namespace + "/" + p.Name
			if p.Cause != "" {
				s += " — " + p.Cause
			}
		}
	}
	return st.StatusLine.Render(ansi.Truncate(clean(s), m.width, "…"))
}
