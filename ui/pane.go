package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// pane is one detail pane (diagnosis, logs, describe, YAML, events, drain).
// A pane owns its state, its messages and its request counter; the root
// model only opens it, routes to it and lays it out. Adding a pane means
// writing one of these, not touching the root's Update.
type pane interface {
	// ShortHelp and FullHelp list the pane's own keys for the help line and ?.
	help.KeyMap
	Kind() paneKind
	// Subject is what the pane is about.
	Subject() subject
	// Update takes a data message; false means it was not this pane's.
	Update(msg tea.Msg) (tea.Cmd, bool)
	// Key takes a key while the pane has focus; false leaves the key to the
	// root (global keys and the one-key actions work from a pane too).
	Key(msg tea.KeyPressMsg) (tea.Cmd, bool)
	// Typing reports an input of the pane (a search) that takes every key.
	Typing() bool
	SetSize(w, h int)
	View() string
	// Plain is the pane's text without styles, for tests and copying.
	Plain() string
	// Close stops whatever the pane runs (a log stream).
	Close()
}

// paneKind is what a pane shows.
type paneKind uint8

const (
	paneNone paneKind = iota
	paneDiagnosis
	paneDescribe
	paneYAML
	paneEvents
	paneLogs
	paneDrain
)

func (k paneKind) String() string {
	return [...]string{"", "Diagnosis", "Describe", "YAML", "Events", "Logs", "Drain"}[k]
}

// subject is what the user selected: a pod (and maybe one of its
// containers), a workload, a node or a namespace. It is the one type the
// tree, the panes and the actions use for "the selection".
type subject struct {
	kind      string // kubectl's singular kind: pod, deployment, node, namespace …
	namespace string
	name      string
	container string
	// node is the pod's node, or the node itself.
	node string
}

func podSubject(ns, name, container, node string) subject {
	return subject{kind: "pod", namespace: ns, name: name, container: container, node: node}
}

func (s subject) isPod() bool { return s.kind == "pod" && s.name != "" }

// String names the subject as a person would say it: a pod as ns/name,
// anything else with its kind first.
func (s subject) String() string {
	switch {
	case s.kind == "":
		return ""
	case s.kind == "pod":
		return s.namespace + "/" + s.name
	case s.namespace == "":
		return s.kind + " " + s.name
	}
	return s.kind + " " + s.namespace + "/" + s.name
}

// target is the subject as the diagnosis names it.
func (s subject) target() diag.Target {
	return diag.Target{Kind: s.kind, Namespace: s.namespace, Name: s.name}
}

// paneEnv is what panes need from the root: the cluster, the clock, the
// theme. The root owns it and changes it on a theme or context switch.
type paneEnv struct {
	ctx       context.Context
	src       kube.Source
	actions   *action.Actions
	styles    themes.Styles
	keys      KeyMap
	now       func() time.Time
	rules     *diag.Rules
	logTail   int64
	logBuffer int
	// debugImage is the image of the debug containers s offers; empty is
	// action.DefaultDebugImage.
	debugImage string
}

func (e *paneEnv) readOnly() bool { return e.src.Info().ReadOnly }

// restyleMsg tells the pane the theme changed.
type restyleMsg struct{}

// reply addresses an async result to one request of one pane: results for
// a pane that was replaced, or for a request superseded since, are dropped.
type reply struct{ pane, req int }

// say is a command that puts s on the status line.
func say(s string) tea.Cmd { return func() tea.Msg { return statusMsg(s) } }

// frame is what every pane draws: a title, a status line and a scrolling
// viewport. The content is plain text styled line by line, so the
// viewport's own search highlights line up with it.
type frame struct {
	title, status string
	plain         string
	vp            viewport.Model
	// lineStyle styles line i of plain content; nil is the theme's text.
	lineStyle func(i int) lipgloss.Style
	// styled content carries its own colours and is drawn as it is.
	styled bool
	st     *themes.Styles
}

func newFrame(env *paneEnv, title string) frame {
	vp := viewport.New()
	vp.SoftWrap = true
	// The pane handles keys itself (see scroll): the viewport's own map
	// binds d, u, f, b and l, which are kdoctor's actions.
	vp.KeyMap = viewport.KeyMap{}
	vp.MouseWheelEnabled = true
	return frame{title: title, vp: vp, st: &env.styles}
}

// restyle points the viewport's styles at the current theme. It is called
// once the frame sits in its pane (the line styles close over the frame's
// address) and again on a theme change.
func (f *frame) restyle() {
	st := f.st
	f.vp.HighlightStyle = st.Match
	f.vp.SelectedHighlightStyle = st.Selected
	f.vp.StyleLineFunc = func(i int) lipgloss.Style {
		switch {
		case f.styled:
			return lipgloss.NewStyle()
		case f.lineStyle != nil:
			return f.lineStyle(i)
		}
		return st.App
	}
}

// setText replaces the content with plain text; keepBottom keeps a reader
// who was at the end there (a followed log).
func (f *frame) setText(plain string, keepBottom bool) {
	atBottom := f.vp.AtBottom()
	f.plain, f.styled = plain, false
	f.vp.SetContent(strings.TrimSuffix(plain, "\n"))
	if keepBottom && atBottom {
		f.vp.GotoBottom()
	}
}

// setStyled replaces the content with text styled by its producer (the
// diagnosis lays out its own colours); plain is what copying takes.
func (f *frame) setStyled(styled, plain string) {
	f.plain, f.styled = plain, true
	f.vp.SetContent(strings.TrimSuffix(styled, "\n"))
}

// setSize sets the pane's outer size; title and status take two lines.
func (f *frame) setSize(w, h int) {
	f.vp.SetWidth(max(1, w))
	f.vp.SetHeight(max(1, h-2))
}

// scroll moves the view for the navigation keys; false for other keys.
func (f *frame) scroll(k KeyMap, msg tea.KeyPressMsg) bool {
	switch {
	case key.Matches(msg, k.Up):
		f.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		f.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		f.vp.PageUp()
	case key.Matches(msg, k.PageDown):
		f.vp.PageDown()
	case key.Matches(msg, k.HalfPageUp):
		f.vp.HalfPageUp()
	case key.Matches(msg, k.HalfPageDown):
		f.vp.HalfPageDown()
	case key.Matches(msg, k.Top):
		f.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		f.vp.GotoBottom()
	default:
		return false
	}
	return true
}

// mouse scrolls with the wheel.
func (f *frame) mouse(msg tea.Msg) bool {
	if _, ok := msg.(tea.MouseWheelMsg); !ok {
		return false
	}
	f.vp, _ = f.vp.Update(msg)
	return true
}

// view renders title, status (or the footer, e.g. a search being typed)
// and the visible content.
func (f *frame) view(footer string) string {
	st, width := f.st, f.vp.Width()
	title := st.Title.Render(ansi.Truncate(f.title, width, "…"))
	status := f.status
	if footer != "" {
		return title + "\n" + ansi.Truncate(footer, width, "…") + "\n" + f.vp.View()
	}
	if f.vp.TotalLineCount() > f.vp.Height() {
		pct := fmt.Sprintf(" %3.0f%%", f.vp.ScrollPercent()*100)
		room := max(0, width-len(pct))
		status = ansi.Truncate(status, room, "…")
		status += strings.Repeat(" ", max(0, room-ansi.StringWidth(status))) + pct
	}
	return title + "\n" + st.Muted.Render(ansi.Truncate(status, width, "…")) + "\n" + f.vp.View()
}

// The frame gives every pane its defaults: its text, its size, nothing
// typed into it and nothing to stop. A pane with a search, a stream or a
// layout that depends on the width says otherwise.

// Plain is the frame's text without styles.
func (f *frame) Plain() string { return f.plain }

// SetSize sets the frame's outer size.
func (f *frame) SetSize(w, h int) { f.setSize(w, h) }

// Typing is false: the frame has no input.
func (f *frame) Typing() bool { return false }

// Close has nothing to stop.
func (f *frame) Close() {}

// scrollKeys are the navigation keys every pane lists in its full help.
func (k KeyMap) scrollKeys() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfPageUp, k.HalfPageDown, k.Top, k.Bottom}
}
