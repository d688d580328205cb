package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/live"
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
		// debug answers, for actShell, whether a debug container could be
		// offered should the shell be unavailable.
		debug kube.Access
	}
	nodeResultMsg struct {
		res action.NodeResult
		err error
		act actionName
	}
	// drainPlanMsg answers a plan request: the first (opening the
	// dialog) or a re-plan after an option changed (seq tells which).
	drainPlanMsg struct {
		node   string
		plan   *action.DrainPlan
		err    error
		replan bool
		seq    int
	}
	execDoneMsg struct {
		s   subject
		res action.ExecResult
		err error
		// debug is the debug session, when this was one.
		debug *action.DebugCommand
		// canDebug: whether a debug container may be offered instead.
		canDebug kube.Access
	}
)

// drainTimeout bounds a drain started from the UI unless the dialog's
// timeout option says otherwise; it can be cancelled sooner with esc.
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
		var acc, debug kube.Access
		switch act {
		case actShell:
			acc = acts.CanExec(ctx, s.namespace)
			// Asked now, so the offer needs no round trip when the
			// shell turns out to be unavailable.
			if acc.Allowed {
				debug = acts.CanDebug(ctx, s.namespace)
			}
		case actDrain:
			acc = acts.CanDrain(ctx)
		default:
			acc = acts.CanCordon(ctx)
		}
		return accessMsg{act: act, s: s, acc: acc, debug: debug}
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
		return m.startShell(s, msg.debug)
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
		return m.planDrain(s.node, newDrainChoice(s.node).options(), false, 0)
	}
	return nil
}

// planDrain is the command that plans a drain with opts; Update only
// starts it.
func (m *Model) planDrain(node string, opts action.DrainOptions, replan bool, seq int) tea.Cmd {
	acts, ctx := m.env.actions, m.opts.Ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		plan, err := acts.PlanDrain(ctx, node, opts)
		return drainPlanMsg{node: node, plan: plan, err: err, replan: replan, seq: seq}
	}
}

func (m *Model) openDialog(d dialog) {
	m.dlg = d
	m.focus = focusDialog
	// The option keys are help only where there are options.
	m.keys = m.keys.withDrainOptions(d.drain != nil)
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

// drainPlanned opens the drain dialog with the first plan, or shows a
// re-plan in the open dialog, keeping what the user typed.
func (m *Model) drainPlanned(msg drainPlanMsg) {
	d := m.dlg.drain
	if msg.replan {
		if m.focus != focusDialog || d == nil || d.node != msg.node || d.seq != msg.seq {
			return // the dialog is gone, or a later option change is being planned
		}
		d.planned(msg)
		m.dlg.title = d.title()
		return
	}
	var blocked *action.DrainBlockedError
	if msg.err != nil && (msg.plan == nil || !errors.As(msg.err, &blocked)) {
		m.status = "cannot plan the drain: " + kube.Explain(msg.err)
		return
	}
	d = newDrainChoice(msg.node)
	d.planned(msg)
	dlg := newDialog(d.title(), nil, msg.node, func(m *Model) tea.Cmd { return m.beginDrain(d.plan, d.options()) })
	dlg.drain = d
	m.openDialog(dlg)
	m.status = ""

}

// beginDrain opens the drain pane and starts the drain the user confirmed,
// with the options the plan was made with.
func (m *Model) beginDrain(p *action.DrainPlan, opts action.DrainOptions) tea.Cmd {
	m.paneSeq++
	run := m.paneSeq
	m.openPane(newDrainPane(m.env, m.paneSeq, run, p.Node))
	return startDrain(m.env, run, p, opts)
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
// and takes it back when the shell exits. A container that is not running
// has nothing to exec into: a debug container is offered instead (when
// canDebug allows one).
func (m *Model) startShell(s subject, canDebug kube.Access) tea.Cmd {
	container := s.container
	var row *live.ContainerRow
	if p := m.tree.Pod(s.namespace, s.name); p != nil {
		for i, c := range p.Containers {
			if (container == "" && !c.Init && !c.Ephemeral) || (container != "" && c.Name == container) {
				row = &p.Containers[i]
				container = c.Name
				break
			}
		}
	}
	s.container = container
	if row != nil && row.State != "Running" && !row.Ephemeral && !row.Init {
		if s.node == "" {
			m.status = clean(fmt.Sprintf("container %s is not running and pod %s is not scheduled on a node yet: there is nothing to open a shell or a debug container in", container, s.String()))
			return nil
		}
		// A container that is not running has no processes to share:
		// the debug container gets the pod's own namespaces (network,
		// and processes if the pod shares them).
		m.offerDebug(s, "", fmt.Sprintf("container %s is not running (%s): there is no process to open a shell in", container, row.State), canDebug)
		return nil
	}
	ex := m.env.actions.Exec(m.opts.Ctx, s.namespace, s.name, container)
	return tea.Exec(ex, func(err error) tea.Msg {
		return execDoneMsg{s: s, res: ex.Result(), err: err, canDebug: canDebug}
	})
}

// offerDebug offers an ephemeral debug container, as kubectl debug -it
// [--target] adds one, when the shell is unavailable (why), or says why
// that is unavailable too. target is the container whose processes it
// shares; "" for the pod's own namespaces.
func (m *Model) offerDebug(s subject, target, why string, canDebug kube.Access) {
	if !canDebug.Allowed {
		m.status = clean(fmt.Sprintf("%s; a debug container is unavailable too: %s", why, canDebug.Reason))
		return
	}
	m.status = ""
	cmd := fmt.Sprintf("  kubectl debug -it -n %s %s --image=%s", s.namespace, s.name, m.debugImage())
	shares := "  • it shares the pod's network, not the stopped container's processes (there are none);"
	if target != "" {
		cmd += " --target=" + target
		shares = "  • it sees the processes of " + clean(target) + " (ps, /proc/<pid>/root) and shares the pod's network;"
	}
	m.openDialog(newDialog("Debug container in "+s.String()+"?", []string{
		clean(why) + ".",
		"kdoctor can do what kubectl debug does:",
		clean(cmd),
		"  • adds an ephemeral container with a shell to the pod (the pod is not restarted);",
		shares,
		"  • an ephemeral container cannot be removed: it stays in the pod spec until the pod is replaced.",
		"Exit its shell to come back here.",
	}, "", func(m *Model) tea.Cmd { return m.startDebug(s, target) }))
}

// startDebug hands the terminal to a debug session: the container is
// added and waited for there, as kubectl debug -it does, then attached.
func (m *Model) startDebug(s subject, target string) tea.Cmd {
	d := m.debugCommand(s, target)
	return tea.Exec(d, func(err error) tea.Msg { return execDoneMsg{s: s, res: d.Result(), err: err, debug: d} })
}

// debugCommand is the debug session the offer describes: the pod, the
// target container and the configured image.
func (m *Model) debugCommand(s subject, target string) *action.DebugCommand {
	return m.env.actions.Debug(m.opts.Ctx, s.namespace, s.name, target, m.debugImage())
}

func (m *Model) debugImage() string {
	if m.env.debugImage == "" {
		return action.DefaultDebugImage
	}
	return m.env.debugImage
}

func (m *Model) execDone(msg execDoneMsg) {
	if d := msg.debug; d != nil {
		switch name := d.Container().Name; {
		case msg.err != nil:
			m.status = clean("debug container in " + msg.s.String() + " failed: " + kube.Explain(msg.err))
		default:
			m.status = clean(fmt.Sprintf("left debug container %s in %s after %s (it stays in the pod; s on it opens a shell again)", name, msg.s.String(), msg.res.Duration.Round(time.Second)))
		}
		return
	}
	switch {
	case errors.Is(msg.err, action.ErrNoShell):
		m.offerDebug(msg.s, msg.s.container, fmt.Sprintf("container %s has no shell (distroless image?)", msg.s.container), msg.canDebug)
	case msg.err != nil:
		m.status = "shell in " + msg.s.String() + " failed: " + kube.Explain(msg.err)
	default:
		m.status = fmt.Sprintf("shell in %s/%s exited with code %d after %s", msg.s.String(), msg.s.container, msg.res.ExitCode, msg.res.Duration.Round(time.Second))
	}
}
