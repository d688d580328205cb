package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
)

// gracePeriod is the drain dialog's grace period: one of the steps space
// cycles through, or a value typed on its row.
type gracePeriod struct {
	label string
	grace time.Duration
	// now is 0s, no grace at all (kubectl's --grace-period=0).
	now bool
}

// Choices of the drain dialog's cycling options.
var (
	graceChoices = []gracePeriod{
		{label: "pods' own"},
		{label: "0s (pods removed from the API at once)", now: true},
		{label: "30s", grace: 30 * time.Second},
		{label: "2m", grace: 2 * time.Minute},
	}
	timeoutChoices = []time.Duration{2 * time.Minute, drainTimeout, 15 * time.Minute}
)

// next is the step after g; a typed value goes back to the first step.
func (g gracePeriod) next() gracePeriod {
	for i, c := range graceChoices {
		if c == g {
			return graceChoices[(i+1)%len(graceChoices)]
		}
	}
	return graceChoices[0]
}

// parseGrace reads a grace period typed in the drain dialog: whole seconds
// as kubectl's --grace-period takes them (45), or a Go duration (45s,
// 2m30s). Negative is the pods' own, zero none at all, as in kubectl.
func parseGrace(typed string) (gracePeriod, error) {
	s := strings.TrimSpace(typed)
	if _, err := strconv.Atoi(s); err == nil {
		s += "s"
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return gracePeriod{}, fmt.Errorf("%q is not a grace period (try 45, 2m30s or -1)", typed)
	case d < 0:
		return graceChoices[0], nil
	case d == 0:
		return graceChoices[1], nil
	case d%time.Second != 0:
		// Evictions carry whole seconds (gracePeriodSeconds).
		return gracePeriod{}, fmt.Errorf("%q: whole seconds only, as kubectl's --grace-period", typed)
	}
	for _, c := range graceChoices {
		if c.grace == d {
			return c, nil
		}
	}
	return gracePeriod{label: shortDuration(d), grace: d}, nil
}

// drainOption changes the highlighted option of the drain dialog and plans
// again with it.
func (m *Model) drainOption() tea.Cmd {
	m.dlg.drain.change()
	return m.drainReplan()
}

// drainGraceEntered takes the grace period typed in the drain dialog and
// plans again when it changed the options.
func (m *Model) drainGraceEntered() tea.Cmd {
	if !m.dlg.drain.enterTypedGrace() {
		return nil
	}
	return m.drainReplan()
}

// drainReplan plans the dialog's drain again with the options shown; the
// answer is taken only if no later change was made meanwhile (seq).
func (m *Model) drainReplan() tea.Cmd {
	d := m.dlg.drain
	d.seq++
	d.planning = true
	m.dlg.title = d.title()
	return m.planDrain(d.node, d.options(), true, d.seq)
}

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
	grace          gracePeriod
	timeout        int // index into timeoutChoices
	cursor         int // the highlighted option row
	// graceInput takes what is typed while the grace row is highlighted
	// (on the other rows typing goes to the node name); graceErr says why
	// the last value entered was refused.
	graceInput textinput.Model
	graceErr   string
	plan       *action.DrainPlan
	err        error // the last plan failed outright (not blocked)
	seq        int   // the re-plan awaited
	planning   bool
}

func newDrainChoice(node string) *drainChoice {
	in := textinput.New()
	in.Prompt = "  type one: "
	in.Placeholder = "45, 2m30s, -1 pods' own"
	in.CharLimit = 16
	// Without a width, textinput shows only the placeholder's first rune.
	in.SetWidth(len(in.Placeholder))
	return &drainChoice{node: node, grace: graceChoices[0], timeout: 1, graceInput: in}
}

func (d *drainChoice) options() action.DrainOptions {
	return action.DrainOptions{
		DeleteEmptyDir: d.deleteEmptyDir, Force: d.force,
		GracePeriod: d.grace.grace, GraceNow: d.grace.now,
		Timeout: timeoutChoices[d.timeout],
	}
}

// move highlights another option row. Typing follows the highlight: the
// grace row takes a grace period, every other row the node name; a grace
// period typed but not entered is dropped.
func (d *drainChoice) move(delta int) {
	d.cursor = (d.cursor + delta + drainOptionCount) % drainOptionCount
	d.clearTypedGrace()
	if d.typingGrace() {
		d.graceInput.Focus()
	} else {
		d.graceInput.Blur()
	}
}

// typingGrace: what is typed goes to the grace period, not the node name.
func (d *drainChoice) typingGrace() bool { return d.cursor == optGrace }

// typedGrace: a grace period is typed and waits for enter.
func (d *drainChoice) typedGrace() bool { return d.typingGrace() && d.graceInput.Value() != "" }

func (d *drainChoice) clearTypedGrace() {
	d.graceInput.SetValue("")
	d.graceErr = ""
}

// enterTypedGrace takes the grace period typed; one that does not parse
// is refused with a line in the dialog, changes nothing and stays to be
// corrected. It says whether the options changed (a re-plan is due).
func (d *drainChoice) enterTypedGrace() bool {
	g, err := parseGrace(d.graceInput.Value())
	if err != nil {
		d.graceErr = err.Error()
		return false
	}
	d.clearTypedGrace()
	changed := g != d.grace
	d.grace = g
	return changed
}

// change toggles or cycles the highlighted option.
func (d *drainChoice) change() {
	switch d.cursor {
	case optEmptyDir:
		d.deleteEmptyDir = !d.deleteEmptyDir
	case optForce:
		d.force = !d.force
	case optGrace:
		d.clearTypedGrace()
		d.grace = d.grace.next()
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
	body = append(body, "Options (tab: next, space: change; grace period: type one too):")
	row(optEmptyDir, fmt.Sprintf("%s delete emptyDir data (--delete-emptydir-data): %s", box(d.deleteEmptyDir), effect(d.deleteEmptyDir, len(p.EmptyDir), evEmptyDir)))
	row(optForce, fmt.Sprintf("%s force pods without a controller (--force): %s", box(d.force), effect(d.force, len(p.Unmanaged), evForced)))
	grace := "grace period: " + d.grace.label
	if d.typingGrace() {
		grace += d.graceInput.View()
	}
	row(optGrace, grace)
	if d.graceErr != "" {
		body = append(body, "    ✖ "+clean(d.graceErr)+"; nothing changed")
	}
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
	if d.grace.now && len(p.Evict) > 0 {
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
