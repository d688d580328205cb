package ui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/sahilm/fuzzy"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/inspect"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// paletteItem is one command of the ":" palette.
type paletteItem struct {
	verb  string // ns, ctx, pod
	arg   string // namespace ("" for all), context, or ns/name
	label string
	// typed is a name taken as the user typed it, not one kdoctor has seen.
	typed bool
}

// palette is the ":" command palette: fuzzy over namespaces, contexts and pods.
type palette struct {
	input   textinput.Model
	items   []paletteItem
	matches []int
	cursor  int
	width   int
}

func newPalette() palette {
	in := textinput.New()
	in.Prompt = ":"
	in.Placeholder = "ns NAME · ctx NAME · pod NAME"
	return palette{input: in}
}

func (p *palette) setWidth(w int) {
	p.width = w
	p.input.SetWidth(max(10, w-4))
}

func (p *palette) open(items []paletteItem) tea.Cmd {
	p.items, p.cursor = items, 0
	p.input.SetValue("")
	p.filter()
	return p.input.Focus()
}

func (p *palette) filter() {
	p.matches = p.matches[:0]
	q := strings.TrimSpace(p.input.Value())
	if q == "" {
		for i := range p.items {
			p.matches = append(p.matches, i)
		}
	} else {
		labels := make([]string, len(p.items))
		for i, it := range p.items {
			labels[i] = it.label
		}
		for _, m := range fuzzy.Find(strings.ReplaceAll(q, " ", ""), labels) {
			p.matches = append(p.matches, m.Index)
		}
	}
	p.cursor = min(p.cursor, max(0, len(p.matches)-1))
}

func (p *palette) update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	p.filter()
	return cmd
}

func (p *palette) selected() (paletteItem, bool) {
	if p.cursor < len(p.matches) {
		return p.items[p.matches[p.cursor]], true
	}
	return paletteItem{}, false
}

func (p *palette) view(st themes.Styles, width, height int) string {
	var b strings.Builder
	b.WriteString(st.Title.Render("Command") + "  " + st.Muted.Render("switch namespace or context, or jump to a pod") + "\n")
	b.WriteString(p.input.View() + "\n")
	rows := height - 3
	start := max(0, p.cursor-rows+1)
	for i := start; i < len(p.matches) && i < start+rows; i++ {
		label := ansi.Truncate(p.items[p.matches[i]].label, width-2, "…")
		if i == p.cursor {
			b.WriteString(st.Selected.Render("› "+label) + "\n")
		} else {
			b.WriteString(st.App.Render("  "+label) + "\n")
		}
	}
	if len(p.matches) == 0 {
		b.WriteString(st.Muted.Render("  nothing matches"))
	}
	return b.String()
}

// paletteItems lists what can be switched to right now.
func (m Model) paletteItems() []paletteItem {
	items := []paletteItem{{verb: "ns", arg: "", label: "ns (all namespaces)"}}
	seen := map[string]bool{}
	var nss []string
	for ns := range m.knownNS {
		seen[ns] = true
		nss = append(nss, ns)
	}
	for _, ns := range m.scope.Namespaces {
		if !seen[ns] {
			seen[ns] = true
			nss = append(nss, ns)
		}
	}
	slices.Sort(nss)
	for _, ns := range nss {
		items = append(items, paletteItem{verb: "ns", arg: ns, label: "ns " + ns})
	}
	if m.opts.Connect != nil {
		for _, c := range m.opts.Contexts {
			items = append(items, paletteItem{verb: "ctx", arg: c, label: "ctx " + c})
		}
	}
	var pods []string
	for _, it := range m.tree.rows {
		pods = append(pods, it.row.Namespace+"/"+it.row.Name)
	}
	slices.Sort(pods)
	for _, p := range pods {
		items = append(items, paletteItem{verb: "pod", arg: p, label: "pod " + p})
	}
	return items
}

func (m Model) paletteKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "esc":
		m.pal.input.Blur()
		m.focus = focusTree
		return m, nil
	case "up", "ctrl+p":
		m.pal.cursor = max(0, m.pal.cursor-1)
		return m, nil
	case "down", "ctrl+n":
		m.pal.cursor = min(max(0, len(m.pal.matches)-1), m.pal.cursor+1)
		return m, nil
	case "tab":
		// Tab completes the highlighted suggestion, to edit or confirm.
		if it, ok := m.pal.selected(); ok && it.label != "" {
			m.pal.input.SetValue(it.verb + " " + paletteArg(it))
			m.pal.input.CursorEnd()
			m.pal.filter()
		}
		return m, nil
	case "enter":
		m.pal.input.Blur()
		m.focus = focusTree
		it, ok := m.pal.choice(m.opts.Connect != nil)
		if !ok {
			if typed := strings.TrimSpace(m.pal.input.Value()); typed != "" {
				m.status = "nothing matches " + strconv.Quote(clean(typed)) + ": try ns NAME, ctx NAME or pod NAME"
			}
			return m, nil
		}
		if it.verb == "ns" && it.typed && it.arg != "" {
			return m, m.checkNamespace(it.arg)
		}
		return m.runPalette(it)
	}
	return m, m.pal.update(msg)
}

// paletteArg is what the palette shows of an item's argument.
func paletteArg(it paletteItem) string {
	if it.verb == "ns" && it.arg == "" {
		return "all"
	}
	return it.arg
}

// choice is what enter runs: the item whose name was typed exactly, else
// the highlighted suggestion, else — with no suggestion at all — a
// namespace or context name taken as typed. "ns all" and "ns -A" mean
// every namespace.
func (p *palette) choice(canConnect bool) (paletteItem, bool) {
	verb, arg, _ := strings.Cut(strings.TrimSpace(p.input.Value()), " ")
	arg = strings.TrimSpace(arg)
	if verb == "ns" && (arg == "all" || arg == "-A" || arg == "--all-namespaces" || arg == "*") {
		return paletteItem{verb: "ns"}, true
	}
	if arg != "" {
		for _, it := range p.items {
			if it.verb == verb && it.arg == arg {
				return it, true
			}
		}
	}
	if it, ok := p.selected(); ok {
		return it, true
	}
	if arg != "" && (verb == "ns" || (verb == "ctx" && canConnect)) {
		return paletteItem{verb: verb, arg: arg, typed: true}, true
	}
	return paletteItem{}, false
}

// namespaceMsg answers whether a typed namespace exists.
type namespaceMsg struct {
	name string
	err  error
}

// checkNamespace asks the API server whether a namespace typed in full
// exists before switching to it: a typo must not leave the user in front of
// an empty tree that looks like a healthy namespace.
func (m *Model) checkNamespace(name string) tea.Cmd {
	m.status = "looking up namespace " + name + "…"
	client, parent := m.src.Client(), m.opts.Ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, 10*time.Second)
		defer cancel()
		return namespaceMsg{name: name, err: inspect.Exists(ctx, client, "namespace", "", name)}
	}
}

func (m Model) namespaceChecked(msg namespaceMsg) (tea.Model, tea.Cmd) {
	switch {
	case msg.err == nil:
		m.status = ""
	case apierrors.IsNotFound(msg.err):
		m.status = "namespace " + clean(msg.name) + " does not exist — still showing " + m.scopeName()
		return m, nil
	case apierrors.IsForbidden(msg.err):
		// Not being allowed to read the Namespace object is not its absence:
		// many users may list pods in a namespace they cannot GET.
	default:
		m.status = "could not check namespace " + clean(msg.name) + ": " + kube.Explain(msg.err) + " — still showing " + m.scopeName()
		return m, nil
	}
	mm, cmd := m.runPalette(paletteItem{verb: "ns", arg: msg.name})
	if apierrors.IsForbidden(msg.err) {
		model := mm.(Model)
		model.status = "switched to namespace " + clean(msg.name) + " — access is limited: you may not read the namespace itself, so whether it exists is unknown"
		return model, cmd
	}
	return mm, cmd
}

// scopeName names the namespaces in scope.
func (m Model) scopeName() string {
	if len(m.scope.Namespaces) == 0 {
		return "all namespaces"
	}
	return "namespace " + strings.Join(m.scope.Namespaces, ",")
}

func (m Model) runPalette(it paletteItem) (tea.Model, tea.Cmd) {
	switch it.verb {
	case "ns":
		// Another namespace, the same selectors (-l, --field-selector).
		m.scope = live.Scope{LabelSelector: m.scope.LabelSelector, FieldSelector: m.scope.FieldSelector}
		if it.arg != "" {
			m.scope.Namespaces = []string{it.arg}
		}
		m.resetView()
		return m, m.startWatch()
	case "ctx":
		name, connect := it.arg, m.opts.Connect
		m.status = "connecting to " + name + "…"
		return m, func() tea.Msg {
			src, err := connect(name)
			return sourceMsg{src: src, err: err, ctx: name}
		}
	case "pod":
		ns, name, _ := strings.Cut(it.arg, "/")
		if !m.tree.Select(ns, name) {
			m.status = it.arg + " is gone"
		}
		m.filter.SetValue("")
	}
	return m, nil
}

// resetView forgets what the old scope or context showed.
func (m *Model) resetView() {
	m.tree = NewPodTree()
	m.feed = NewEventFeed()
	if m.pane != nil {
		m.pane.Close()
		m.pane = nil
	}
	m.focus = focusTree
	m.filter.SetValue("")
	m.resources = nil
	m.layout()
}

// terminalLogin is a source whose credentials may need the terminal (an
// exec plugin that prompts); kube.Cluster is one.
type terminalLogin interface {
	NeedsTerminal() bool
	Login(ctx context.Context) error
}

// loginCommand runs a context's exec credential plugin with the terminal:
// bubbletea hands the terminal over (as for the shell) so the plugin's
// prompt is seen and answered, then takes it back.
type loginCommand struct {
	ctx   context.Context
	login terminalLogin
	name  string
	out   io.Writer
}

func (l *loginCommand) SetStdin(io.Reader)    {}
func (l *loginCommand) SetStdout(w io.Writer) { l.out = w }
func (l *loginCommand) SetStderr(io.Writer)   {}

func (l *loginCommand) Run() error {
	if l.out != nil {
		fmt.Fprintf(l.out, "kdoctor: logging in to context %s (its credential plugin may ask you something)…\r\n", l.name)
	}
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Minute)
	defer cancel()
	return l.login.Login(ctx)
}

// loginDoneMsg ends a login through the terminal.
type loginDoneMsg struct {
	src kube.Source
	ctx string
	err error
}

func (m *Model) switchSource(msg sourceMsg) tea.Cmd {
	if msg.err != nil {
		m.status = "cannot switch to " + msg.ctx + ": " + kube.Explain(msg.err)
		return nil
	}
	if l, ok := msg.src.(terminalLogin); ok && l.NeedsTerminal() {
		m.status = "logging in to " + msg.ctx + "…"
		src, name := msg.src, msg.ctx
		return tea.Exec(&loginCommand{ctx: m.opts.Ctx, login: l, name: name}, func(err error) tea.Msg {
			return loginDoneMsg{src: src, ctx: name, err: err}
		})
	}
	return m.useSource(msg.src, msg.ctx)
}

// loggedIn switches to the context whose plugin ran, or stays where the
// user was when it failed.
func (m *Model) loggedIn(msg loginDoneMsg) tea.Cmd {
	if msg.err != nil {
		m.status = "cannot log in to context " + msg.ctx + ": " + kube.Explain(msg.err) + " — still on " + m.src.Info().Context
		return nil
	}
	return m.useSource(msg.src, msg.ctx)
}

// useSource makes src the cluster shown.
func (m *Model) useSource(src kube.Source, name string) tea.Cmd {
	msg := sourceMsg{src: src, ctx: name}
	m.src = msg.src
	m.env.src, m.env.actions = msg.src, newActions(msg.src, m.opts.SessionLog)
	m.scope = live.Scope{LabelSelector: m.scope.LabelSelector, FieldSelector: m.scope.FieldSelector}
	if ns := msg.src.Info().Namespace; ns != "" {
		m.scope.Namespaces = []string{ns}
	}
	m.keys = DefaultKeyMap().forSource(msg.src.Info())
	m.env.keys = m.keys
	m.status = "switched to context " + msg.ctx
	if info := msg.src.Info(); info.ReadOnly {
		m.status += " — read-only"
		if info.ReadOnlyWhy != "" && info.ReadOnlyWhy != "--read-only" {
			m.status += ": " + info.ReadOnlyWhy
		}
	}
	m.resetView()
	return m.startWatch()
}
