package ui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// drainPane shows a drain's progress, one line per step. The drain itself
// is a background job of the root (drainRun): it outlives the pane when the
// user looks elsewhere meanwhile, and reports on the status line.
type drainPane struct {
	frame
	env   *paneEnv
	id    int
	run   int // the drain whose progress this pane shows
	subj  subject
	lines []string
	done  bool
}

// drainRun is a drain in progress.
type drainRun struct {
	id     int
	node   string
	cancel context.CancelFunc
	events <-chan drainEventMsg
}

type (
	drainStartedMsg struct {
		id     int
		node   string
		events <-chan drainEventMsg
		cancel context.CancelFunc
	}
	drainEventMsg struct {
		run      int
		progress *action.DrainProgress
		summary  *action.DrainSummary
		err      error
	}
)

// startDrain is the command that starts the drain with the options the
// user chose: the goroutine that runs it is started here, outside Update,
// and its progress comes back as messages through a channel read by one
// command at a time. opts.Timeout bounds it (RunDrain reports a timeout as
// such); esc cancels it sooner.
func startDrain(env *paneEnv, run int, p *action.DrainPlan, opts action.DrainOptions) tea.Cmd {
	acts, program := env.actions, env.ctx
	if opts.Timeout <= 0 {
		opts.Timeout = drainTimeout
	}
	return func() tea.Msg {
		ctx, cancel := context.WithCancel(program)
		ch := make(chan drainEventMsg, 64)
		// Sends give up only when the whole UI is gone, so a cancelled drain
		// still reports what it did and did not do.
		send := func(ev drainEventMsg) {
			select {
			case ch <- ev:
			case <-program.Done():
			}
		}
		go func() {
			defer cancel()
			defer close(ch)
			sum, err := acts.Drain(ctx, p, opts, func(pr action.DrainProgress) {
				send(drainEventMsg{run: run, progress: &pr})
			})
			send(drainEventMsg{run: run, summary: &sum, err: err})
		}()
		return drainStartedMsg{id: run, node: p.Node, events: ch, cancel: cancel}
	}
}

func waitDrain(ch <-chan drainEventMsg) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return nil
		}
		return ev
	}
}

func newDrainPane(env *paneEnv, id, run int, node string) *drainPane {
	p := &drainPane{env: env, id: id, run: run, subj: subject{kind: "node", name: node, node: node}}
	p.frame = newFrame(env, "Drain · node "+node)
	p.restyle()
	p.status = "draining… esc cancels"
	return p
}

func (p *drainPane) Kind() paneKind   { return paneDrain }
func (p *drainPane) Subject() subject { return p.subj }
func (p *drainPane) View() string     { return p.view("") }

func (p *drainPane) ShortHelp() []key.Binding {
	k := p.env.keys
	cancel := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel the drain"))
	if p.done {
		cancel = k.Back
	}
	return []key.Binding{k.Up, k.Down, cancel, k.Help}
}
func (p *drainPane) FullHelp() [][]key.Binding {
	k := p.env.keys
	return [][]key.Binding{k.scrollKeys(), {k.Back, k.Help, k.Quit}}
}

func (p *drainPane) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case drainEventMsg:
		if msg.run != p.run {
			return nil, false
		}
		p.add(msg)
		return nil, true
	case restyleMsg:
		p.restyle()
		return nil, true
	case tea.MouseWheelMsg:
		return nil, p.mouse(msg)
	}
	return nil, false
}

func (p *drainPane) Key(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	return nil, p.scroll(p.env.keys, msg)
}

func (p *drainPane) add(msg drainEventMsg) {
	st := p.st
	switch {
	case msg.progress != nil && msg.progress.Step == action.DrainFinished:
		// The summary that follows says it all.
	case msg.progress != nil:
		pr := msg.progress
		line := clean(pr.Message)
		switch pr.Step {
		case action.DrainRetrying:
			line = st.Health[live.Warning].Render("↻ " + line)
		case action.DrainPodFailed:
			line = st.Error.Render("✖ " + line)
		case action.DrainEvicted, action.DrainDeleted, action.DrainCordoned:
			line = st.Health[live.Healthy].Render("✔ " + line)
		default:
			line = st.App.Render("· " + line)
		}
		p.lines = append(p.lines, line)
	case msg.summary != nil:
		p.done = true
		p.status = "drain finished"
		text := drainSummaryText(msg)
		if msg.err != nil {
			p.lines = append(p.lines, st.Error.Render("■ "+text))
		} else {
			p.lines = append(p.lines, st.Title.Render("■ "+text))
		}
	}
	all := strings.Join(p.lines, "\n")
	atBottom := p.vp.AtBottom()
	p.setStyled(all, ansi.Strip(all))
	if atBottom {
		p.vp.GotoBottom()
	}
}

// drainSummaryText is the one line that says how a drain ended.
func drainSummaryText(msg drainEventMsg) string {
	sum := msg.summary
	if msg.err != nil {
		return clean(fmt.Sprintf("drain of node %s not completed: %s (%d evicted, %d skipped, %d failed)",
			sum.Node, kube.Explain(msg.err), len(sum.Evicted), len(sum.Skipped), len(sum.Failed)))
	}
	return clean(sum.String())
}
