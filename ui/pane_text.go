package ui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/inspect"
)

// textPane shows one object as kubectl shows it — `kubectl describe` or
// `kubectl get -o yaml` — unchanged, with search. A Secret's values stay
// redacted in the YAML until the user reveals them (x), which read-only
// mode refuses.
type textPane struct {
	frame
	env     *paneEnv
	id, req int
	kind    paneKind
	subj    subject
	reveal  bool
	loaded  bool
	search  textSearch
}

type textMsg struct {
	reply
	text string
	err  error
}

func newTextPane(env *paneEnv, id int, kind paneKind, s subject) (*textPane, tea.Cmd) {
	p := &textPane{env: env, id: id, kind: kind, subj: s, search: newTextSearch()}
	p.frame = newFrame(env, kind.String()+" · "+s.String())
	p.restyle()
	return p, p.load()
}

func (p *textPane) Kind() paneKind   { return p.kind }
func (p *textPane) Subject() subject { return p.subj }
func (p *textPane) Typing() bool     { return p.search.typing }
func (p *textPane) View() string     { return p.view(p.search.footer()) }

func (p *textPane) ShortHelp() []key.Binding  { return p.help().ShortHelp() }
func (p *textPane) FullHelp() [][]key.Binding { return p.help().FullHelp() }
func (p *textPane) help() paneKeys {
	k := p.env.keys
	if p.isSecret() {
		return k.paneHelp(k.Search, k.NextMatch, k.PrevMatch, k.Reveal)
	}
	return k.paneHelp(k.Search, k.NextMatch, k.PrevMatch)
}

func (p *textPane) isSecret() bool { return p.kind == paneYAML && p.subj.kind == "secret" }

// load fetches the text in a command.
func (p *textPane) load() tea.Cmd {
	p.req++
	p.status = strings.ToLower(p.kind.String()) + " of " + p.subj.String() + "…"
	r, client, s, kind, reveal, parent := reply{p.id, p.req}, p.env.src.Client(), p.subj, p.kind, p.reveal, p.env.ctx
	cfg := p.env.actions.Config
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, 30*time.Second)
		defer cancel()
		if kind == paneDescribe {
			// A real cluster is described exactly as kubectl does it, through
			// DescriberFor and the REST config; the demo has only a client.
			var text string
			var err error
			if cfg != nil {
				text, err = inspect.DescribeWithConfig(cfg, s.kind, s.namespace, s.name)
			} else {
				text, err = inspect.Describe(client, s.kind, s.namespace, s.name)
			}
			return textMsg{reply: r, text: text, err: err}
		}
		out, err := inspect.YAML(ctx, client, s.kind, s.namespace, s.name, inspect.YAMLOptions{RevealSecrets: reveal})
		return textMsg{reply: r, text: string(out), err: err}
	}
}

func (p *textPane) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case textMsg:
		if msg.reply != (reply{p.id, p.req}) {
			return nil, msg.pane == p.id
		}
		if msg.err != nil {
			p.status = strings.ToLower(p.kind.String()) + " failed"
			p.lineStyle = func(int) lipgloss.Style { return p.st.Error }
			p.setText(strings.ToLower(p.kind.String())+" of "+p.subj.String()+" failed: "+kube.Explain(msg.err), false)
			return nil, true
		}
		p.lineStyle = nil
		p.loaded = true
		p.setText(clean(msg.text), false)
		p.search.highlight(&p.vp, p.plain)
		p.status = p.statusLine()
		return nil, true
	case restyleMsg:
		p.restyle()
		return nil, true
	case tea.MouseWheelMsg:
		return nil, p.mouse(msg)
	}
	return p.search.update(msg), false
}

func (p *textPane) statusLine() string {
	parts := []string{"kubectl describe"}
	if p.kind == paneYAML {
		parts = []string{"kubectl get -o yaml · managedFields hidden"}
		if p.isSecret() && !p.reveal {
			parts = append(parts, "values redacted (x reveals)")
		} else if p.isSecret() {
			parts = append(parts, "values REVEALED")
		}
	}
	if s := p.search.summary(); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

func (p *textPane) Key(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if p.search.typing {
		cmd, run := p.search.key(msg)
		if run {
			p.search.highlight(&p.vp, p.plain)
			p.status = p.statusLine()
		}
		return cmd, true
	}
	k := p.env.keys
	switch {
	case key.Matches(msg, k.Search):
		return p.search.start(), true
	case key.Matches(msg, k.NextMatch), key.Matches(msg, k.PrevMatch):
		switch {
		case p.search.query == "":
			return say("no search: press / to search"), true
		case p.search.count == 0:
			return say(p.search.summary()), true
		case key.Matches(msg, k.NextMatch):
			p.search.step(&p.vp, 1)
		default:
			p.search.step(&p.vp, -1)
		}
		p.status = p.statusLine()
		return nil, true
	case key.Matches(msg, k.Reveal) && p.isSecret():
		if p.env.readOnly() {
			return say("read-only mode: secret values stay redacted"), true
		}
		p.reveal = !p.reveal
		return p.load(), true
	}
	return nil, p.scroll(k, msg)
}
