package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/kube"
	kubeaction "github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// action names a one-key action that needs permission.
type action string

const (
	actShell    action = "shell"
	actCordon   action = "cordon"
	actUncordon action = "uncordon"
	actDrain    action = "drain"
)

type (
	// accessMsg answers "may I?" before an action is offered.
	accessMsg struct {
		act action
		s   subject
		acc kube.Access
	}
	nodeResultMsg struct {
		res kubeaction.NodeResult
		err error
		act action
	}
	drainPlanMsg struct {
		plan *kubeaction.DrainPlan
		err  error
	}
	drainEventMsg struct {
		seq      int
		progress *kubeaction.DrainProgress
		summary  *kubeaction.DrainSummary
		err      error
	}
	execDoneMsg struct {
		s   subject
		res kubeaction.ExecResult
		err error
	}
)

// drainTimeout bounds a drain started from the UI; it can be cancelled
// sooner with esc.
const drainTimeout = 5 * time.Minute

// requestAction checks what can be known without the network (read-only,
// the demo, a node to act on) and then asks the API server whether the
// user may act. Nothing that changes the cluster is sent here.
func (m *Model) requestAction(act action, s subject) tea.Cmd {
	info := m.src.Info()
	if info.ReadOnly {
		m.status = fmt.Sprintf("read-only mode: %s is unavailable — nothing was sent (restart without --read-only to act)", act)
		return nil
	}
	switch act {
	case actShell:
		if s.pod == "" {
			return m.say("select a pod (or one of its containers) to open a shell in")
		}
		if m.actions.Config == nil {
			return m.say("the demo has no real containers to open a shell in; try it against a cluster")
		}
	default:
		if s.node == "" {
			return m.say(fmt.Sprintf("select a scheduled pod or a node (n groups by node) to %s its node", act))
		}
	}
	acts, ctx := m.actions, m.opts.Ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var acc kube.Access
		switch act {
		case actShell:
			acc = acts.CanExec(ctx, s.namespace)
		case actDrain:
			acc = acts.CanDrain(ctx)
		default:
			acc = acts.CanCordon(ctx)
		}
		return accessMsg{act: act, s: s, acc: acc}
	}
}

// accessAnswered offers the action (a confirmation dialog, or the shell) or
// says why it is unavailable.
func (m *Model) accessAnswered(msg accessMsg) tea.Cmd {
	if !msg.acc.Allowed {
		m.status = fmt.Sprintf("%s is unavailable: %s — nothing was sent", msg.act, msg.acc.Reason)
		return nil
	}
	s := msg.s
	switch msg.act {
	case actShell:
		return m.startShell(s)
	case actCordon:
		m.openDialog(newDialog("Cordon node "+s.node+"?", []string{
			"This marks " + s.node + " unschedulable (kubectl cordon):",
			"  • pods already running there keep running;",
			"  • new pods will be scheduled on other nodes.",
			"Undo with u (uncordon).",
		}, "", func(m *Model) tea.Cmd { return m.nodeAction(actCordon, s.node) }))
	case actUncordon:
		m.openDialog(newDialog("Uncordon node "+s.node+"?", []string{
			"This marks " + s.node + " schedulable again (kubectl uncordon): new pods may land on it.",
		}, "", func(m *Model) tea.Cmd { return m.nodeAction(actUncordon, s.node) }))
	case actDrain:
		m.status = "planning the drain of " + s.node + "…"
		acts, ctx, node := m.actions, m.opts.Ctx, s.node
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			plan, err := acts.PlanDrain(ctx, node, kubeaction.DrainOptions{})
			return drainPlanMsg{plan: plan, err: err}
		}
	}
	return nil
}

func (m *Model) openDialog(d dialog) {
	m.dlg = d
	m.focus = focusDialog
}

func (m *Model) nodeAction(act action, node string) tea.Cmd {
	m.status = fmt.Sprintf("%sing %s…", act, node)
	acts, ctx := m.actions, m.opts.Ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var res kubeaction.NodeResult
		var err error
		if act == actCordon {
			res, err = acts.Cordon(ctx, node)
		} else {
			res, err = acts.Uncordon(ctx, node)
		}
		return nodeResultMsg{res: res, err: err, act: act}
	}
}

// drainPlanned shows the plan and asks for the node name before anything
// is evicted.
func (m *Model) drainPlanned(msg drainPlanMsg) {
	var blocked *kubeaction.DrainBlockedError
	if msg.err != nil && (msg.plan == nil || !errors.As(msg.err, &blocked)) {
		m.status = "cannot plan the drain: " + kube.Explain(msg.err)
		return
	}
	p := msg.plan
	body := []string{fmt.Sprintf("Draining %s cordons it, then evicts its pods (PodDisruptionBudgets honoured, timeout %s):", p.Node, drainTimeout)}
	list := func(title string, pods []kubeaction.DrainPod) {
		if len(pods) == 0 {
			return
		}
		body = append(body, fmt.Sprintf("%s (%d):", title, len(pods)))
		for i, d := range pods {
			if i == 8 {
				body = append(body, fmt.Sprintf("    … and %d more", len(pods)-8))
				break
			}
			line := "    " + d.Namespace + "/" + d.Name
			if d.Owner != "" {
				line += "  (" + d.Owner + ")"
			}
			body = append(body, clean(line))
		}
	}
	list("  will be evicted", p.Evict)
	list("  skipped: DaemonSet-managed", p.DaemonSet)
	list("  skipped: mirror (static) pods", p.Mirror)
	list("  use emptyDir (data lost; needs the delete-emptydir option)", p.EmptyDir)
	list("  unmanaged (not recreated anywhere; needs force)", p.Unmanaged)
	for _, pdb := range p.NoHeadroom() {
		body = append(body, clean(fmt.Sprintf("  PodDisruptionBudget %s/%s allows 0 disruptions now: evictions of %s will be refused (429) and retried",
			pdb.Namespace, pdb.Name, strings.Join(pdb.Pods, ", "))))
	}
	for _, w := range p.Warnings {
		body = append(body, "  warning: "+clean(w))
	}
	if len(p.Blockers) > 0 {
		body = append(body, "", "The drain cannot start:")
		for _, b := range p.Blockers {
			body = append(body, "  ✖ "+clean(b))
		}
		m.openDialog(newDialog("Drain node "+p.Node+": blocked", body, "", func(m *Model) tea.Cmd {
			return m.say("drain of " + p.Node + " not started: blocked, nothing was sent")
		}))
		return
	}
	m.openDialog(newDialog("Drain node "+p.Node+"?", body, p.Node, func(m *Model) tea.Cmd { return m.startDrain(p) }))
}

// startDrain runs the drain in the background; its progress arrives as
// messages through a channel read by one command at a time.
func (m *Model) startDrain(p *kubeaction.DrainPlan) tea.Cmd {
	m.seq++
	m.detail.Open(paneDrain, subject{node: p.Node}, m.seq, "draining… esc cancels")
	m.focus = focusDetail
	m.layout()
	m.drainLines = nil
	ctx, cancel := context.WithTimeout(m.opts.Ctx, drainTimeout)
	m.drainCancel = cancel
	ch := make(chan drainEventMsg, 64)
	seq, acts, program := m.seq, m.actions, m.opts.Ctx
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
		sum, err := acts.Drain(ctx, p, kubeaction.DrainOptions{Timeout: drainTimeout}, func(pr kubeaction.DrainProgress) {
			send(drainEventMsg{seq: seq, progress: &pr})
		})
		send(drainEventMsg{seq: seq, summary: &sum, err: err})
	}()
	m.drainEvents = ch
	return waitDrain(ch)
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

func (m *Model) drainEvent(msg drainEventMsg) tea.Cmd {
	st := m.styles
	switch {
	case msg.progress != nil && msg.progress.Step == kubeaction.DrainFinished:
		// The summary that follows says it all.
	case msg.progress != nil:
		pr := msg.progress
		line := clean(pr.Message)
		switch pr.Step {
		case kubeaction.DrainRetrying:
			line = st.Health[live.Warning].Render("↻ " + line)
		case kubeaction.DrainPodFailed:
			line = st.Error.Render("✖ " + line)
		case kubeaction.DrainEvicted, kubeaction.DrainDeleted, kubeaction.DrainCordoned:
			line = st.Health[live.Healthy].Render("✔ " + line)
		default:
			line = st.App.Render("· " + line)
		}
		m.drainLines = append(m.drainLines, line)
		m.status = clean(pr.Message)
	case msg.summary != nil:
		m.drainCancel = nil
		sum := msg.summary
		text := clean(sum.String())
		if msg.err != nil {
			text = clean(fmt.Sprintf("drain of node %s not completed: %s (%d evicted, %d skipped, %d failed)",
				sum.Node, kube.Explain(msg.err), len(sum.Evicted), len(sum.Skipped), len(sum.Failed)))
			m.drainLines = append(m.drainLines, st.Error.Render("■ "+text))
		} else {
			m.drainLines = append(m.drainLines, st.Title.Render("■ "+text))
		}
		m.status = text
		if m.detail.kind == paneDrain && m.detail.seq == msg.seq {
			m.detail.status = "drain finished"
		}
	}
	if m.detail.kind == paneDrain && m.detail.seq == msg.seq {
		m.detail.SetContent(strings.Join(m.drainLines, "\n"), ansi.Strip(strings.Join(m.drainLines, "\n")), true)
	}
	if msg.summary != nil {
		return nil
	}
	return waitDrain(m.drainEvents)
}

// startShell hands the terminal to an interactive shell in the container
// and takes it back when the shell exits.
func (m *Model) startShell(s subject) tea.Cmd {
	container := s.container
	if container == "" {
		if p := m.tree.Pod(s.namespace, s.pod); p != nil {
			for _, c := range p.Containers {
				if !c.Init {
					container = c.Name
					break
				}
			}
		}
	}
	s.container = container
	ex := m.actions.Exec(m.opts.Ctx, s.namespace, s.pod, container)
	return tea.Exec(ex, func(err error) tea.Msg { return execDoneMsg{s: s, res: ex.Result(), err: err} })
}

func (m *Model) execDone(msg execDoneMsg) {
	switch {
	case errors.Is(msg.err, kubeaction.ErrNoShell):
		m.status = clean(msg.err.Error())
	case msg.err != nil:
		m.status = "shell in " + msg.s.String() + " failed: " + kube.Explain(msg.err)
	default:
		m.status = fmt.Sprintf("shell in %s/%s exited with code %d after %s", msg.s.String(), msg.s.container, msg.res.ExitCode, msg.res.Duration.Round(time.Second))
	}
}
