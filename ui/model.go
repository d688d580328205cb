// Package ui is kdoctor's terminal interface: a bubbletea root model that
// routes messages and owns focus and size, and plain child models (the pod
// tree, the header) that it lays out.
package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// Minimum usable terminal size; below it the screen says how big it must be.
const (
	MinWidth  = 60
	MinHeight = 10
)

// Options configures the model.
type Options struct {
	Info    kube.SourceInfo
	Scope   kube.Scope
	Batches <-chan kube.Batch
	// Styles is the theme; ThemeFixed means --theme was given, so the
	// terminal's background does not change it.
	Styles     themes.Styles
	ThemeFixed bool
	// Now is the clock for ages (tests pin it).
	Now func() time.Time
}

// focus says which widget receives keys.
type focus uint8

const (
	focusTree focus = iota
	focusFilter
)

// Model is the root bubbletea model.
type Model struct {
	opts   Options
	keys   KeyMap
	help   help.Model
	styles themes.Styles

	tree   PodTree
	filter textinput.Model
	focus  focus

	width, height int
	showHelp      bool

	state    kube.ConnState
	received int
	watchErr error
	ended    bool
	status   string
}

// Messages that enter the model. Every async result arrives as one of these.
type (
	batchMsg      kube.Batch
	watchEndedMsg struct{}
	clockMsg      time.Time
)

// New builds the root model.
func New(opts Options) Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	fi := textinput.New()
	fi.Prompt = "/"
	fi.Placeholder = "filter: namespace, workload, pod, node, cause"
	m := Model{
		opts: opts, keys: DefaultKeyMap(), help: help.New(), styles: opts.Styles,
		tree: NewPodTree(), filter: fi,
	}
	m.help.Styles = m.styles.Help
	return m
}

// Init starts listening to the watch and asks the terminal for its background.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{waitBatch(m.opts.Batches), tickClock()}
	if !m.opts.ThemeFixed {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// waitBatch turns the next watch batch into a message. Only this command
// reads the channel, so no goroutine ever touches the model.
func waitBatch(ch <-chan kube.Batch) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		b, ok := <-ch
		if !ok {
			return watchEndedMsg{}
		}
		return batchMsg(b)
	}
}

// tickClock refreshes ages once a second.
func tickClock() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return clockMsg(t) })
}

// Update routes a message: window and data messages first, then keys in a
// fixed order (quit, help, the focused widget).
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
		}
		return m, nil
	case batchMsg:
		b := kube.Batch(msg)
		m.tree.Apply(b)
		m.state, m.received, m.watchErr = b.State, b.Received, b.Err
		return m, waitBatch(m.opts.Batches)
	case watchEndedMsg:
		m.ended = true
		return m, nil
	case clockMsg:
		return m, tickClock()
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.tree.Move(-3)
		case tea.MouseWheelDown:
			m.tree.Move(3)
		}
		return m, nil
	}
	if m.focus == focusFilter {
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	if m.focus == focusFilter {
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
				return m.handleKey(msg)
			}
			return m, nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.tree.SetFilter(m.filter.Value())
		return m, cmd
	}
	if m.showHelp {
		// Any key closes the help; q still quits.
		m.showHelp = false
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
	case key.Matches(msg, k.Up):
		m.tree.Move(-1)
	case key.Matches(msg, k.Down):
		m.tree.Move(1)
	case key.Matches(msg, k.PageUp):
		m.tree.Move(-m.tree.height + 1)
	case key.Matches(msg, k.PageDown):
		m.tree.Move(m.tree.height - 1)
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
	case key.Matches(msg, k.ClearFilter):
		if m.filter.Value() != "" {
			m.filter.SetValue("")
			m.tree.SetFilter("")
		}
	case key.Matches(msg, k.ProblemsOnly):
		if m.tree.ToggleProblemsOnly() {
			m.status = "showing problems only"
		} else {
			m.status = "showing all pods"
		}
	}
	return m, nil
}

// layout hands each child its size; computed once per resize.
func (m *Model) layout() {
	m.help.SetWidth(m.width)
	m.filter.SetWidth(max(10, m.width-4))
	// header, blank, status line, help line
	m.tree.SetSize(m.width, max(1, m.height-4))
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
		return st.Error.Render(fmt.Sprintf("kdoctor needs a terminal of at least %d×%d (this one is %d×%d)", MinWidth, MinHeight, m.width, m.height))
	}
	var b strings.Builder
	b.WriteString(m.headerView())
	b.WriteByte('\n')
	if m.showHelp {
		body := st.Title.Render("Keys") + "\n\n" + m.help.FullHelpView(m.keys.FullHelp()) + "\n\n" + st.Muted.Render("press any key to close")
		b.WriteString(lipgloss.NewStyle().Height(m.height - 2).MaxHeight(m.height - 2).Render(body))
	} else {
		b.WriteString(lipgloss.NewStyle().Height(m.tree.height).MaxHeight(m.tree.height).Render(m.tree.View(st, m.opts.Now())))
	}
	b.WriteByte('\n')
	b.WriteString(m.statusView())
	b.WriteByte('\n')
	b.WriteString(m.help.ShortHelpView(m.keys.ShortHelp()))
	return b.String()
}

func (m Model) headerView() string {
	st := m.styles
	info := m.opts.Info
	var parts []string
	if info.Demo {
		parts = append(parts, st.Badge.Render(" DEMO "))
	}
	if info.ReadOnly {
		parts = append(parts, st.Badge.Render(" READ-ONLY "))
	}
	parts = append(parts, st.Title.Render("kdoctor"))
	parts = append(parts, st.HeaderKey.Render("ctx ")+st.Header.Render(info.Context))
	scope := "all namespaces"
	if len(m.opts.Scope.Namespaces) > 0 {
		scope = strings.Join(m.opts.Scope.Namespaces, ",")
	}
	parts = append(parts, st.HeaderKey.Render("ns ")+st.Header.Render(scope))
	parts = append(parts, m.stateView())
	c := m.tree.Counts()
	counts := fmt.Sprintf("%s %d ok  %s %d failing  %s %d warning  %s %d pending",
		healthSymbol[kube.Healthy], c[kube.Healthy], healthSymbol[kube.Failing], c[kube.Failing],
		healthSymbol[kube.Warning], c[kube.Warning], healthSymbol[kube.Pending], c[kube.Pending])
	line1 := strings.Join(parts, st.Muted.Render(" │ "))
	line2 := st.HeaderKey.Render(info.Server) + st.Muted.Render("  ") + st.Header.Render(counts)
	return ansi.Truncate(line1, m.width, "…") + "\n" + ansi.Truncate(line2, m.width, "…")
}

func (m Model) stateView() string {
	st := m.styles
	switch {
	case m.ended:
		return st.Error.Render("watch stopped")
	case m.state == kube.Syncing:
		return st.Health[kube.Pending].Render(fmt.Sprintf("syncing %d pods…", m.received))
	case m.state == kube.Live:
		return st.Health[kube.Healthy].Render("● live")
	case m.state == kube.Reconnecting:
		return st.Health[kube.Warning].Render("reconnecting: " + kube.Explain(m.watchErr))
	default:
		return st.Error.Render("forbidden: " + kube.Explain(m.watchErr))
	}
}

func (m Model) statusView() string {
	st := m.styles
	if m.focus == focusFilter || m.filter.Value() != "" {
		return m.filter.View()
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
	return st.StatusLine.Render(ansi.Truncate(s, m.width, "…"))
}
