package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
)

// actionName names a one-key action that needs permission.
type actionName string

const (
	actShell    actionName = "shell"
	actCordon   actionName = "cordon"
	actUncordon actionName = "uncordon"
	actDrain    actionName = "drain"
)

type (
	// accessMsg answers "may I?" before an action is offered.
	accessMsg struct {
		act actionName
		s   subject
		acc kube.Access
	}
	nodeResultMsg struct {
		res action.NodeResult
		err error
		act actionName
	}
	drainPlanMsg struct {
		plan *action.DrainPlan
		err  error
	}
	execDoneMsg struct {
		s   subject
		res action.ExecResult
		err error
	}
)

// drainTimeout bounds a drain started from the UI; it can be cancelled
// sooner with esc.
const drainTimeout = 5 * time.Minute

// requestAction checks what can be known without the network (read-only,
// the demo, a node to act on) and then asks the API server whether the
// user may act. Nothing that changes the cluster is sent here.
func (m *Model) requestAction(act actionName, s subject) tea.Cmd {
	info := m.src.Info()
	if info.ReadOnly {
		m.status = fmt.Sprintf("read-only mode: %s is unavailable — nothing was sent (restart without --read-only to act)", act)
		return nil
	}
	switch act {
	case actShell:
		if !s.isPod() {
			return say("select a pod (or one of its containers) to open a shell in")
		}
		if m.env.actions.Config == nil {
			return say("the demo has no real containers to open a shell in; try it against a cluster")
		}
	default:
		if s.node == "" {
			return say(fmt.Sprintf("select a scheduled pod or a node (n groups by node) to %s its node", act))
		}
	}
	acts, ctx := m.env.actions, m.opts.Ctx
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
		acts, ctx, node := m.env.actions, m.opts.Ctx, s.node
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			plan, err := acts.PlanDrain(ctx, node, action.DrainOptions{})
			return drainPlanMsg{plan: plan, err: err}
		}
	}
	return nil
}

func (m *Model) openDialog(d dialog) {
	m.dlg = d
	m.focus = focusDialog
}

func (m *Model) nodeAction(act actionName, node string) tea.Cmd {
	m.status = fmt.Sprintf("%sing %s…", act, node)
	acts, ctx := m.env.actions, m.opts.Ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var res action.NodeResult
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
	var blocked *action.DrainBlockedError
	if msg.err != nil && (msg.plan == nil || !errors.As(msg.err, &blocked)) {
		m.status = "cannot plan the drain: " + kube.Explain(msg.err)
		return
	}
	p := msg.plan
	body := []string{fmt.Sprintf("Draining %s cordons it, then evicts its pods (PodDisruptionBudgets honoured, timeout %s):", p.Node, drainTimeout)}
	list := func(title string, pods []action.DrainPod) {
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
			return say("drain of " + p.Node + " not started: blocked, nothing was sent")
		}))
		return
	}
	m.openDialog(newDialog("Drain node "+p.Node+"?", body, p.Node, func(m *Model) tea.Cmd { return m.beginDrain(p) }))
}

// beginDrain opens the drain pane and starts the drain the user confirmed.
func (m *Model) beginDrain(p *action.DrainPlan) tea.Cmd {
	m.paneSeq++
	run := m.paneSeq
	m.openPane(newDrainPane(m.env, m.paneSeq, run, p.Node))
	return startDrain(m.env, run, p)
}

// drainEvent reports a drain's progress on the status line and to its pane.
func (m *Model) drainEvent(msg drainEventMsg) tea.Cmd {
	if m.drain == nil || msg.run != m.drain.id {
		return nil
	}
	switch {
	case msg.progress != nil && msg.progress.Step != action.DrainFinished:
		m.status = clean(msg.progress.Message)
	case msg.summary != nil:
		m.status = drainSummaryText(msg)
	}
	if m.pane != nil {
		m.pane.Update(msg)
	}
	if msg.summary != nil {
		m.drain = nil
		return nil
	}
	return waitDrain(m.drain.events)
}

// startShell hands the terminal to an interactive shell in the container
// and takes it back when the shell exits.
func (m *Model) startShell(s subject) tea.Cmd {
	container := s.container
	if container == "" {
		if p := m.tree.Pod(s.namespace, s.name); p != nil {
			for _, c := range p.Containers {
				if !c.Init {
					container = c.Name
					break
				}
			}
		}
	}
	s.container = container
	ex := m.env.actions.Exec(m.opts.Ctx, s.namespace, s.name, container)
	return tea.Exec(ex, func(err error) tea.Msg { return execDoneMsg{s: s, res: ex.Result(), err: err} })
}

func (m *Model) execDone(msg execDoneMsg) {
	switch {
	case errors.Is(msg.err, action.ErrNoShell):
		m.status = clean(msg.err.Error())
	case msg.err != nil:
		m.status = "shell in " + msg.s.String() + " failed: " + kube.Explain(msg.err)
	default:
		m.status = fmt.Sprintf("shell in %s/%s exited with code %d after %s", msg.s.String(), msg.s.container, msg.res.ExitCode, msg.res.Duration.Round(time.Second))
	}
}
