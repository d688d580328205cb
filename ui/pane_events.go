package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/inspect"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// eventsPane lists events, grouped by object and reason, warnings first
// and newest first. About one object (e on any row) it reads that object's
// events from the API server, as `kubectl events --for` does, and reads
// them again when the watch reports a new one; about the whole scope (e
// with nothing selected) it shows the watch's live warnings, and a reads
// every event of the scope.
type eventsPane struct {
	frame
	env     *paneEnv
	id, req int
	subj    subject
	// inScope lists the warnings of a scope (the namespaces in scope, all
	// when empty) rather than the events of one object.
	inScope bool
	scope   []string
	feed    EventFeed
	// all shows Normal events too; otherwise warnings only.
	all     bool
	loading bool
	rows    []live.EventRow // fetched
	fetched bool
	// truncated says the scope held more events than were read.
	truncated bool
	// warn marks the lines of warning headers, for their colour.
	warn map[int]bool
}

type eventsMsg struct {
	reply
	rows      []live.EventRow
	err       error
	truncated bool
}

// scopeEventLimit bounds the events read for "all events in scope": a big
// cluster holds hundreds of thousands.
const scopeEventLimit = 5000

func newEventsPane(env *paneEnv, id int, s subject, scope []string, feed EventFeed) (*eventsPane, tea.Cmd) {
	p := &eventsPane{env: env, id: id, subj: s, scope: scope, feed: feed}
	switch s.kind {
	case "":
		p.inScope = true
	case "namespace":
		// A namespace's events are those of everything in it.
		p.inScope, p.scope = true, []string{s.name}
	default:
		p.all = true
	}
	p.frame = newFrame(env, "Events · "+p.about())
	p.restyle()
	p.lineStyle = p.styleLine
	if p.inScope {
		p.render()
		return p, nil
	}
	return p, p.load()
}

func (p *eventsPane) Kind() paneKind   { return paneEvents }
func (p *eventsPane) Subject() subject { return p.subj }
func (p *eventsPane) View() string     { return p.view("") }

func (p *eventsPane) ShortHelp() []key.Binding  { return p.help().ShortHelp() }
func (p *eventsPane) FullHelp() [][]key.Binding { return p.help().FullHelp() }
func (p *eventsPane) help() paneKeys {
	k := p.env.keys
	return k.paneHelp(k.AllEvents)
}

// load reads the events in a command.
func (p *eventsPane) load() tea.Cmd {
	p.req++
	p.loading = true
	r, client, s, scope, parent, inScope := reply{p.id, p.req}, p.env.src.Client(), p.subj, p.scope, p.env.ctx, p.inScope
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, 30*time.Second)
		defer cancel()
		var evs []corev1.Event
		var err error
		truncated := false
		if inScope {
			evs, truncated, err = inspect.ScopeEvents(ctx, client, scope, scopeEventLimit)
		} else {
			evs, err = inspect.Events(ctx, client, s.kind, s.namespace, s.name)
		}
		rows := make([]live.EventRow, len(evs))
		for i := range evs {
			rows[i] = live.NewEventRow(&evs[i])
		}
		return eventsMsg{reply: r, rows: rows, err: err, truncated: truncated}
	}
}

func (p *eventsPane) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case eventsMsg:
		if msg.reply != (reply{p.id, p.req}) {
			return nil, msg.pane == p.id
		}
		p.loading = false
		if msg.err != nil {
			p.status = "events unavailable: " + kube.Explain(msg.err)
			return nil, true
		}
		p.rows, p.fetched, p.truncated = msg.rows, true, msg.truncated
		p.render()
		return nil, true
	case batchMsg:
		if len(msg.b.Events) == 0 {
			return nil, false
		}
		if p.inScope && !p.all {
			p.render()
			return nil, false
		}
		if p.loading {
			return nil, false
		}
		for _, e := range msg.b.Events {
			if p.inScope || (e.ObjectName == p.subj.name && (e.Namespace == p.subj.namespace || p.subj.namespace == "")) {
				return p.load(), false
			}
		}
	case restyleMsg:
		p.restyle()
		return nil, true
	case tea.MouseWheelMsg:
		return nil, p.mouse(msg)
	}
	return nil, false
}

func (p *eventsPane) Key(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := p.env.keys
	if key.Matches(msg, k.AllEvents) {
		p.all = !p.all
		if p.inScope && p.all {
			p.status = "reading every event of the scope…"
			return p.load(), true
		}
		p.render()
		return nil, true
	}
	return nil, p.scroll(k, msg)
}

// shown is what the pane lists now.
func (p *eventsPane) shown() []live.EventRow {
	rows := p.rows
	if p.inScope && !p.all {
		rows = p.feed.Rows()
		if len(p.scope) > 0 {
			in := rows[:0]
			for _, r := range rows {
				if slices.Contains(p.scope, r.Namespace) {
					in = append(in, r)
				}
			}
			rows = in
		}
	}
	if p.all {
		return rows
	}
	var out []live.EventRow
	for _, r := range rows {
		if r.Type == "" || r.Type == corev1.EventTypeWarning {
			out = append(out, r)
		}
	}
	return out
}

func (p *eventsPane) styleLine(i int) lipgloss.Style {
	if p.warn[i] {
		return p.st.Health[live.Warning]
	}
	return p.st.App
}

// render lists the groups; each is a header and its newest message.
func (p *eventsPane) render() {
	groups := groupEvents(p.shown())
	now := p.env.now()
	var b strings.Builder
	p.warn = map[int]bool{}
	line, warnings := 0, 0
	for i, g := range groups {
		if i > 0 {
			b.WriteByte('\n')
			line++
		}
		typ := "Normal"
		if g.warning {
			typ = "Warning"
			warnings++
			p.warn[line] = true
		}
		// The object is named when the pane lists more than one; its own
		// pane names it in the title.
		head := fmt.Sprintf("%s %s ×%d · last %s ago, first %s ago", typ, g.reason, g.count, age(now, g.last), age(now, g.first))
		b.WriteString(clean(head) + "\n")
		line++
		if p.inScope {
			b.WriteString(clean(fmt.Sprintf("  %s/%s · %s", strings.ToLower(g.kind), g.name, g.namespace)) + "\n")
			line++
		}
		b.WriteString("  " + strings.ReplaceAll(clean(g.message), "\n", " ⏎ ") + "\n")
		line++
	}
	if len(groups) == 0 {
		switch {
		case (!p.inScope || p.all) && !p.fetched:
			b.WriteString("reading the events of " + p.about() + "…")
		case p.all:
			b.WriteString("No events about " + p.about() + ". (Events expire after an hour by default.)")
		default:
			b.WriteString("No Warning events about " + p.about() + ". (a shows Normal events too.)")
		}
	}
	p.setText(b.String(), false)
	groupsOf := func(n int, kind string) string {
		if n == 1 {
			return "1 " + kind + " group"
		}
		return fmt.Sprintf("%d %s groups", n, kind)
	}
	var what string
	if p.all {
		what = groupsOf(warnings, "warning") + " and " + groupsOf(len(groups)-warnings, "normal") + " · warnings first"
	} else {
		what = groupsOf(len(groups), "warning")
	}
	toggle := "a: all events"
	if p.all {
		toggle = "a: warnings only"
	}
	live := ""
	if p.inScope && !p.all {
		live = " · live"
	}
	if p.all && p.inScope && p.truncated {
		what += fmt.Sprintf(" · the first %d events read", scopeEventLimit)
	}
	p.status = what + ", newest first" + live + " · " + toggle
}

func (p *eventsPane) about() string {
	switch {
	case p.subj.kind != "":
		return p.subj.String()
	case len(p.scope) == 0:
		return "all namespaces"
	}
	return "namespaces " + strings.Join(p.scope, ", ")
}
