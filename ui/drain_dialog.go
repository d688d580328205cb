package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
)

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
