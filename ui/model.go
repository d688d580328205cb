// Package ui is kdoctor's terminal interface. The root Model (this file)
// owns focus, layout, the watch's lifecycle and key routing (dialog →
// inputs → global keys → the pane in front → the tree); the pod tree
// (tree.go) and the detail panes (pane.go's interface: diagnosis, logs,
// describe/YAML, events, drain, one file each) own their own state and
// messages; the palette and the dialog are overlays. Async work enters only
// through tea.Cmd and messages; no goroutine touches a model. It draws
// cluster data only through clean (diag.Printable's policy) and never calls
// the API itself: kube/ and its rooms do.
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
	"github.com/kdoctor-dev/kdoctor/kube/action"
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
	SessionLog *action.SessionLog
	// LogTail is how many lines a logs pane fetches first (default 500);
	// LogBuffer how many it keeps (default action.DefaultLogLines).
	LogTail   int64
	LogBuffer int
	// Rules diagnoses the selected pod: the built-in catalogue plus the
	// team's rules; nil is the built-in catalogue alone.
	Rules *diag.Rules
	// DebugImage is the image of the debug containers s offers (kdoctor's
	// --debug-image or the config's debug.image, checked by the caller);
	// empty is action.DefaultDebugImage.
	DebugImage string
	// NoMouse leaves the mouse to the terminal (text selection) instead of
	// scrolling and selecting with it.
	NoMouse bool
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
	filter textinput.Model
	pal    palette
	dlg    dialog
	focus  focus

	// pane is the detail pane in front (nil: the tree alone); env is what
	// panes read from the root; paneSeq names each pane opened, so results
	// for a pane that was replaced are told apart.
	pane    pane
	env     *paneEnv
	paneSeq int
	// drain is a drain in progress; it outlives its pane.
	drain *drainRun
	// usage polls metrics.k8s.io while the tree's usage columns show.
	usage usageView

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

	status string

	// knownNS are the namespaces seen in this session, for the palette.
	knownNS map[string]bool
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
	sourceMsg     struct {
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
		opts.LogBuffer = action.DefaultLogLines
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
		tree: NewPodTree(), feed: NewEventFeed(), fit: &frameCache[fitKey]{}, filter: fi, pal: newPalette(),
		gen: 1, knownNS: map[string]bool{},
	}
	m.env = &paneEnv{ctx: opts.Ctx, src: opts.Source, actions: newActions(opts.Source, opts.SessionLog), styles: opts.Styles,
		keys: m.keys, now: opts.Now, rules: opts.Rules, logTail: opts.LogTail, logBuffer: opts.LogBuffer, debugImage: opts.DebugImage}
	m.help.Styles = m.styles.Help
	m.usage.ctx, m.usage.stop = context.WithCancel(opts.Ctx)
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
	return tea.Batch(m.watchCmd(), m.restartUsage())
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
func newActions(src kube.Source, log *action.SessionLog) *action.Actions {
	if c, ok := src.(*kube.Cluster); ok {
		a := action.NewActions(src, c.Config, log)
		a.User = c.User
		return a
	}
	return action.NewActions(src, nil, log)
}

// Stop cancels the running watch, the pane's work and a drain, and waits
// for the watch's goroutines.
func (m Model) Stop() {
	if m.usage.stop != nil {
		m.usage.stop()
	}
	if m.pane != nil {
		m.pane.Close()
	}
	if m.drain != nil {
		m.drain.cancel()
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
			m.env.styles = m.styles
			if m.pane != nil {
				m.pane.Update(restyleMsg{})
			}
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
	case usageMsg:
		return m, m.usageArrived(msg)
	case usageTickMsg:
		return m, m.usageTick(msg)
	case statusMsg:
		m.status = string(msg)
		return m, nil
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
	case drainStartedMsg:
		m.drain = &drainRun{id: msg.id, node: msg.node, cancel: msg.cancel, events: msg.events}
		return m, waitDrain(msg.events)
	case drainEventMsg:
		return m, m.drainEvent(msg)
	case execDoneMsg:
		m.execDone(msg)
		return m, nil
	case sourceMsg:
		return m, m.switchSource(msg)
	case loginDoneMsg:
		return m, m.loggedIn(msg)
	case namespaceMsg:
		return m.namespaceChecked(msg)
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.MouseWheelMsg:
		if m.focus == focusDetail && m.pane != nil {
			cmd, _ := m.pane.Update(msg)
			return m, cmd
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

// updateFocused offers other messages to the pane (its async results) and
// hands the rest (cursor blink, …) to the focused input. A result nobody
// takes that holds something open (a log stream) is closed.
func (m Model) updateFocused(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.pane != nil {
		if cmd, ok := m.pane.Update(msg); ok || cmd != nil {
			return m, cmd
		}
	}
	if d, ok := msg.(interface{ drop() }); ok {
		d.drop()
		return m, nil
	}
	var cmd tea.Cmd
	switch m.focus {
	case focusFilter:
		m.filter, cmd = m.filter.Update(msg)
	case focusPalette:
		cmd = m.pal.update(msg)
	case focusDialog:
		cmd = m.dlg.update(msg)
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
	// Data messages go to the pane too: the diagnosis follows its pod, the
	// events pane its object.
	if m.pane != nil {
		cmd, _ := m.pane.Update(batchMsg{gen: m.gen, b: b})
		return cmd
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
	// Keys go dialog → inputs → global → focused pane → tree.
	switch m.focus {
	case focusDialog:
		return m.dialogKey(msg)
	case focusFilter:
		return m.filterKey(msg)
	case focusPalette:
		return m.paletteKey(msg)
	}
	paneFocused := m.focus == focusDetail && m.pane != nil
	if paneFocused && m.pane.Typing() {
		cmd, _ := m.pane.Key(msg)
		return m, cmd
	}
	if m.showHelp {
		m.showHelp = false // any key closes the help; q still quits
		if key.Matches(msg, m.keys.Quit) && !paneFocused {
			return m, tea.Quit
		}
		return m, nil
	}
	k := m.keys
	switch {
	case paneFocused && key.Matches(msg, k.Close):
		// As in less: q leaves the pane; q again quits.
		m.closePane()
		return m, nil
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
	if paneFocused {
		if cmd, ok := m.pane.Key(msg); ok {
			return m, cmd
		}
		return m.actionKey(msg)
	}
	return m.treeKey(msg)
}

// back is esc: cancel a running drain, leave the pane, close the pane,
// clear the filter — one step per press, so esc never throws away more
// than the user meant.
func (m Model) back() (tea.Model, tea.Cmd) {
	switch {
	case m.pane != nil && m.pane.Kind() == paneDrain && m.drain != nil && m.focus == focusDetail:
		m.drain.cancel()
		m.status = "cancelling the drain… (pods already evicted stay evicted; the node stays cordoned)"
	case m.focus == focusDetail:
		m.focus = focusTree
	case m.pane != nil:
		m.closePane()
	case m.filter.Value() != "":
		m.filter.SetValue("")
		m.tree.SetFilter("")
	}
	return m, nil
}

// openPane puts a pane in front, closing the one it replaces.
func (m *Model) openPane(p pane) {
	if m.pane != nil {
		m.pane.Close()
	}
	m.pane = p
	m.focus = focusDetail
	m.layout()
}

// closePane closes the pane in front; a drain it showed goes on.
func (m *Model) closePane() {
	if m.pane != nil {
		m.pane.Close()
		m.pane = nil
	}
	m.focus = focusTree
	m.layout()
}

// nextPane names a new pane.
func (m *Model) nextPane() int {
	m.paneSeq++
	return m.paneSeq
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
	case key.Matches(msg, k.HalfPageUp):
		m.tree.Move(-m.tree.rowsVisible() / 2)
	case key.Matches(msg, k.HalfPageDown):
		m.tree.Move(m.tree.rowsVisible() / 2)
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
	case key.Matches(msg, k.Usage):
		return m, m.toggleUsage()
	default:
		return m.actionKey(msg)
	}
	return m, nil
}

// actionKey runs the one-key actions on the selection. Every row kind
// answers every key: with the action, or with a line saying what it needs.
func (m Model) actionKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	sel := m.selection()
	switch {
	case key.Matches(msg, k.Describe), key.Matches(msg, k.YAML):
		kind, verb := paneDescribe, "describe"
		if key.Matches(msg, k.YAML) {
			kind, verb = paneYAML, "show the YAML of"
		}
		if sel.kind == "" {
			return m, say("nothing here to " + verb + ": select a pod, a workload, a node or a namespace")
		}
		p, cmd := newTextPane(m.env, m.nextPane(), kind, sel)
		m.openPane(p)
		return m, cmd
	case key.Matches(msg, k.Events):
		p, cmd := newEventsPane(m.env, m.nextPane(), sel, m.scope.Namespaces, m.feed)
		m.openPane(p)
		return m, cmd
	case key.Matches(msg, k.Diagnose):
		switch sel.kind {
		case "pod":
			p, cmd := newDiagnosisPane(m.env, m.nextPane(), sel)
			m.openPane(p)
			return m, cmd
		case "deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob":
			p, cmd := newDiagnosisPane(m.env, m.nextPane(), sel)
			m.openPane(p)
			return m, cmd
		}
		if l, ok := m.tree.SelectedLine(); ok && (l.kind == nsNode || l.kind == k8sNodeNode) && m.focus == focusTree {
			m.tree.Toggle()
			return m, nil
		}
		return m, say("select a pod or a workload to diagnose")
	case key.Matches(msg, k.Logs), key.Matches(msg, k.Previous):
		if !sel.isPod() {
			if !hasWorkloadLogs(sel) {
				return m, say(logsNeed(sel))
			}
			// A workload: every container of its pods, merged (like stern).
			p, cmd := newLogsPane(m.env, m.nextPane(), sel, nil, key.Matches(msg, k.Previous))
			m.openPane(p)
			return m, cmd
		}
		var containers []string
		if p := m.tree.Pod(sel.namespace, sel.name); p != nil {
			for _, c := range p.Containers {
				containers = append(containers, c.Name)
			}
			if sel.container == "" {
				sel.container = troubledContainer(p)
			}
		}
		p, cmd := newLogsPane(m.env, m.nextPane(), sel, containers, key.Matches(msg, k.Previous))
		m.openPane(p)
		return m, cmd
	case key.Matches(msg, k.Shell):
		return m, m.requestAction(actShell, sel)
	case key.Matches(msg, k.Cordon):
		return m, m.requestAction(actCordon, sel)
	case key.Matches(msg, k.Uncordon):
		return m, m.requestAction(actUncordon, sel)
	case key.Matches(msg, k.Drain):
		return m, m.requestAction(actDrain, sel)
	case key.Matches(msg, k.Copy), key.Matches(msg, k.Write):
		return m, say("nothing to copy or write here: open a diagnosis with enter first")
	}
	return m, nil
}

// troubledContainer is the container whose log a person wants first: an
// init container that fails (the app containers have not even started), a
// container that restarts, or one that is not ready; "" leaves the choice
// to kubectl's default (the default-container annotation, else the first).
func troubledContainer(p *live.PodRow) string {
	for _, c := range p.Containers {
		if c.Init && (c.Restarts > 0 || strings.HasPrefix(c.State, "Waiting")) && !strings.Contains(c.State, "PodInitializing") {
			return c.Name
		}
	}
	for _, c := range p.Containers {
		if !c.Init && c.Restarts > 0 {
			return c.Name
		}
	}
	for _, c := range p.Containers {
		if !c.Init && !c.Ready && strings.HasPrefix(c.State, "Waiting") && !strings.Contains(c.State, "PodInitializing") {
			return c.Name
		}
	}
	return ""
}

// logsNeed says what l and p need when the row is not a pod.
func logsNeed(s subject) string {
	switch s.kind {
	case "":
		return "select a pod (or one of its containers) to read its logs"
	case "namespace", "node":
		return "logs are read per pod: open the " + s.kind + " (→) and select a pod"
	}
	return "logs are read per pod: open " + s.String() + " (→) and select one of its pods"
}

// selection is the subject under the cursor, of whatever kind the row is.
func (m Model) selection() subject {
	l, ok := m.tree.SelectedLine()
	if !ok {
		return subject{}
	}
	switch l.kind {
	case podNode, containerNode:
		return podSubject(l.pod.Namespace, l.pod.Name, m.tree.SelectedContainer(), l.pod.Node)
	case workloadNode:
		if l.bkt.key.kind == "" {
			return subject{} // pods without a controller
		}
		return subject{kind: strings.ToLower(l.bkt.key.kind), namespace: l.bkt.key.ns, name: l.bkt.key.name}
	case nsNode:
		return subject{kind: "namespace", name: l.namespace()}
	case k8sNodeNode:
		if n := l.nodeName(); n != "" {
			return subject{kind: "node", name: n, node: n}
		}
	}
	return subject{}
}

// layout hands each child its size; computed once per resize or pane change.
func (m *Model) layout() {
	m.help.SetWidth(m.width)
	m.filter.SetWidth(max(10, m.width-4))
	m.pal.setWidth(m.width)
	body := max(1, m.height-4) // two header lines, status line, help line
	m.wide = m.width >= 140
	switch {
	case m.pane == nil:
		m.tree.SetSize(m.width, body)
	case m.wide:
		tw := m.width * 11 / 20
		m.tree.SetSize(tw, body)
		m.pane.SetSize(m.width-tw-1, body)
	default:
		th := max(4, body*2/5)
		m.tree.SetSize(m.width, th)
		m.pane.SetSize(m.width, body-th-1)
	}
}

// View draws the screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	if !m.opts.NoMouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
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
	case m.pane == nil:
		main = m.tree.View(st, m.opts.Now())
	case m.wide:
		tree := box(m.fit, m.tree.View(st, m.opts.Now()), m.tree.width, body)
		sep := st.Border.Render(strings.TrimSuffix(strings.Repeat("│\n", body), "\n"))
		main = lipgloss.JoinHorizontal(lipgloss.Top, tree, sep, m.pane.View())
	default:
		tree := box(m.fit, m.tree.View(st, m.opts.Now()), m.width, m.tree.height)
		main = tree + "\n" + st.Border.Render(strings.Repeat("─", m.width)) + "\n" + m.pane.View()
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

// paneKeys are the keys of whatever has focus: the help line and ? show
// the pane's own keys, not the tree's.
func (m Model) paneKeys() help.KeyMap {
	switch {
	case m.focus == focusDialog:
		return m.keys.dialogHelp()
	case m.focus == focusDetail && m.pane != nil:
		return m.pane
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
	// Selectors hide pods: the header says so, or a narrowed tree would
	// pass for the whole namespace.
	if s := m.scope.LabelSelector; s != "" {
		parts = append(parts, st.HeaderKey.Render("-l ")+st.Header.Render(clean(s)))
	}
	if s := m.scope.FieldSelector; s != "" {
		parts = append(parts, st.HeaderKey.Render("--field-selector ")+st.Header.Render(clean(s)))
	}
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
	s := m.status
	if s == "" {
		if p := m.tree.Selected(); p != nil {
			s = p.Namespace + "/" + p.Name
			if p.Cause != "" {
				s += " — " + p.Cause
			}
		} else if sel := m.selection(); sel.kind != "" {
			s = sel.String() + " — d describe · y YAML · e events"
		}
	}
	return st.StatusLine.Render(ansi.Truncate(clean(s), m.width, "…"))
}
