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

// drainOption changes the highlighted option of the drain dialog and plans
// again with it.
func (m *Model) drainOption() tea.Cmd {
	d := m.dlg.drain
	d.change()
	d.seq++
	d.planning = true
	m.dlg.title = d.title()
	return m.planDrain(d.node, d.options(), true, d.seq)
}

// Choices of the drain dialog's cycling options.
var (
	graceChoices = []struct {
		label string
		grace time.Duration
		now   bool
	}{
		{label: "pods' own"},
		{label: "0s (pods removed from the API at once)", now: true},
		{label: "30s", grace: 30 * time.Second},
		{label: "2m", grace: 2 * time.Minute},
	}
	timeoutChoices = []time.Duration{2 * time.Minute, drainTimeout, 15 * time.Minute}
)

// Rows of the drain dialog's options, in the order tab visits them.
const (
	optEmptyDir = iota
	optForce
	optGrace
	optTimeout
	drainOptionCount
)

// drainChoice is the state of the drain dialog: the options chosen and
// the plan they give.
type drainChoice struct {
	node           string
	deleteEmptyDir bool
	force          bool
	grace, timeout int // indexes into graceChoices, timeoutChoices
	cursor         int // the highlighted option row
	plan           *action.DrainPlan
	err            error // the last plan failed outright (not blocked)
	seq            int   // the re-plan awaited
	planning       bool
}

func newDrainChoice(node string) *drainChoice {
	return &drainChoice{node: node, timeout: 1}
}

func (d *drainChoice) options() action.DrainOptions {
	g := graceChoices[d.grace]
	return action.DrainOptions{
		DeleteEmptyDir: d.deleteEmptyDir, Force: d.force,
		GracePeriod: g.grace, GraceNow: g.now,
		Timeout: timeoutChoices[d.timeout],
	}
}

func (d *drainChoice) move(delta int) {
	d.cursor = (d.cursor + delta + drainOptionCount) % drainOptionCount
}

// change toggles or cycles the highlighted option.
func (d *drainChoice) change() {
	switch d.cursor {
	case optEmptyDir:
		d.deleteEmptyDir = !d.deleteEmptyDir
	case optForce:
		d.force = !d.force
	case optGrace:
		d.grace = (d.grace + 1) % len(graceChoices)
	case optTimeout:
		d.timeout = (d.timeout + 1) % len(timeoutChoices)
	}
}

func (d *drainChoice) planned(msg drainPlanMsg) {
	d.planning = false
	var blocked *action.DrainBlockedError
	if msg.err != nil && (msg.plan == nil || !errors.As(msg.err, &blocked)) {
		d.err = msg.err
		return
	}
	d.plan, d.err = msg.plan, nil
}

// runnable: the plan shown is the plan of the options shown, and nothing
// blocks it.
func (d *drainChoice) runnable() bool {
	return d.plan != nil && !d.planning && d.err == nil && len(d.plan.Blockers) == 0 && d.plan.Options == d.options()
}

func (d *drainChoice) title() string {
	switch {
	case d.planning:
		return "Drain node " + d.node + ": planning…"
	case d.err != nil || d.plan == nil || len(d.plan.Blockers) > 0:
		return "Drain node " + d.node + ": blocked"
	}
	return "Drain node " + d.node + "?"
}

// body is what the dialog shows: the options, what each adds to the
// evictions, the data lost, and what is skipped or blocked.
func (d *drainChoice) body() []string {
	p := d.plan
	var body []string
	if p.Cordoned {
		body = append(body, "The node is already cordoned; the drain evicts its pods (PodDisruptionBudgets honoured).")
	} else {
		body = append(body, "Cordons the node, then evicts its pods (PodDisruptionBudgets honoured).")
	}
	row := func(i int, text string) {
		mark := "  "
		if d.cursor == i {
			mark = "▸ "
		}
		body = append(body, mark+text)
	}
	box := func(on bool) string {
		if on {
			return "[x]"
		}
		return "[ ]"
	}
	var evEmptyDir, evForced int
	for _, e := range p.Evict {
		if e.EmptyDir && !e.Finished {
			evEmptyDir++
		}
		if e.Unmanaged && !e.Finished {
			evForced++
		}
	}
	effect := func(on bool, need, added int) string {
		switch {
		case need == 0:
			return "none on this node"
		case on:
			return fmt.Sprintf("+%d evicted", added)
		}
		return fmt.Sprintf("%s it", podCount(need, "needs", "need"))
	}
	body = append(body, "Options (tab: next, space: change):")
	row(optEmptyDir, fmt.Sprintf("%s delete emptyDir data (--delete-emptydir-data): %s", box(d.deleteEmptyDir), effect(d.deleteEmptyDir, len(p.EmptyDir), evEmptyDir)))
	row(optForce, fmt.Sprintf("%s force pods without a controller (--force): %s", box(d.force), effect(d.force, len(p.Unmanaged), evForced)))
	row(optGrace, "grace period: "+graceChoices[d.grace].label)
	row(optTimeout, "timeout: "+shortDuration(timeoutChoices[d.timeout]))
	if d.err != nil {
		return append(body, "", "✖ cannot plan with these options: "+clean(kube.Explain(d.err)))
	}

	list := func(title string, pods []action.DrainPod, detail func(action.DrainPod) string) {
		if len(pods) == 0 {
			return
		}
		body = append(body, fmt.Sprintf("%s (%d):", title, len(pods)))
		for i, p := range pods {
			if i == 6 {
				body = append(body, fmt.Sprintf("    … and %d more", len(pods)-6))
				break
			}
			body = append(body, clean("    "+p.String()+detail(p)))
		}
	}
	how := func(p action.DrainPod) string {
		switch {
		case p.Finished:
			return "  (finished)"
		case p.Unmanaged:
			return "  (no controller: not recreated)"
		case p.Owner != "":
			kind, _, _ := strings.Cut(p.Owner, "/")
			return "  (" + kind + ")"
		}
		return ""
	}
	list("Will be evicted", p.Evict, how)
	var lost []action.DrainPod
	for _, e := range p.Evict {
		if e.EmptyDir && !e.Finished {
			lost = append(lost, e)
		}
	}
	list("emptyDir data lost", lost, func(p action.DrainPod) string { return ": " + strings.Join(p.EmptyDirVolumes, ", ") })
	var needEmptyDir, needForce []action.DrainPod
	for _, b := range p.Blocked {
		switch b.Need {
		case action.NeedDeleteEmptyDir:
			needEmptyDir = append(needEmptyDir, b.DrainPod)
		case action.NeedForce:
			needForce = append(needForce, b.DrainPod)
		}
	}
	list("✖ blocked, needs delete emptyDir data", needEmptyDir, func(p action.DrainPod) string { return ": " + strings.Join(p.EmptyDirVolumes, ", ") })
	list("✖ blocked, needs force (no controller recreates them)", needForce, func(action.DrainPod) string { return "" })
	for _, b := range p.Blocked {
		if b.Need == action.NeedOther {
			body = append(body, "✖ "+clean(b.Reason))
		}
	}
	list("Skipped: DaemonSet-managed (--ignore-daemonsets)", p.DaemonSet, func(action.DrainPod) string { return "" })
	list("Skipped: static (mirror) pods", p.Mirror, func(action.DrainPod) string { return "" })
	for _, pdb := range p.NoHeadroom() {
		body = append(body, clean(fmt.Sprintf("PodDisruptionBudget %s/%s allows 0 disruptions now: evictions of %s are refused (429) and retried until the timeout",
			pdb.Namespace, pdb.Name, strings.Join(pdb.Pods, ", "))))
	}
	for _, w := range p.Warnings {
		body = append(body, "warning: "+clean(w))
	}
	if graceChoices[d.grace].now && len(p.Evict) > 0 {
		body = append(body, "grace period 0s: the pods are removed from the API at once, without waiting for their containers to stop")
	}
	return body
}

// shortDuration prints 2m rather than 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func podCount(n int, one, many string) string {
	if n == 1 {
		return "1 pod " + one
	}
	return fmt.Sprintf("%d pods %s", n, many)
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
	cmd := fmt.Sprintf("  kubectl debug -it -n %s %s --image=%s", s.namespace, s.name, action.DefaultDebugImage)
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
	d := m.env.actions.Debug(m.opts.Ctx, s.namespace, s.name, target, "")
	return tea.Exec(d, func(err error) tea.Msg { return execDoneMsg{s: s, res: d.Result(), err: err, debug: d} })
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
