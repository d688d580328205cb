package ui

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/action"
)

// TestDrainDialogOptionsReplan: the node of report-exporter's pods carries
// only pods with an emptyDir volume (spool), so the drain is blocked
// without --delete-emptydir-data. Turning the option on in the dialog plans
// again (in a command), keeps the node name typed meanwhile, shows which
// volumes' data is lost, and lets the drain start with the option.
func TestDrainDialogOptionsReplan(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 80, 24)
	r.waitLive()
	m := selectPod(r, "report-exporter")
	node := m.tree.Selected().Node
	r.keys("r")
	m = r.until("the drain plan", func(m Model) bool {
		return m.focus == focusDialog && m.dlg.drain != nil && !m.dlg.drain.planning
	})
	r.checkGolden("drain-dialog-blocked-80x24")
	s := screen(m)
	for _, want := range []string{"Drain node " + node + ": blocked", "[ ] delete emptyDir data (--delete-emptydir-data): 2 pods need it",
		"✖ blocked, needs delete emptyDir data (2):", "reporting/report-exporter-5b7f9d6c48-t2zmk: spool", "tab next option"} {
		if !strings.Contains(s, want) {
			t.Errorf("blocked dialog lacks %q:\n%s", want, s)
		}
	}
	if m.dlg.drain.plan.Options.DeleteEmptyDir || len(m.dlg.drain.plan.Evict) != 0 {
		t.Fatalf("first plan: %+v", m.dlg.drain.plan)
	}

	// The name typed in full does not start a blocked drain.
	r.typeText(node)
	r.keys("enter")
	m = r.until("the refusal", func(m Model) bool { return strings.Contains(m.status, "cannot start with these options") })
	if m.focus != focusDialog {
		t.Fatal("enter on a blocked drain closed the dialog")
	}

	// ? shows the dialog's keys; any key goes back to the dialog.
	r.keys("?")
	m = r.until("the dialog's help", func(m Model) bool { return m.showHelp })
	for _, want := range []string{"next option", "previous option", "change option"} {
		if !strings.Contains(screen(m), want) {
			t.Errorf("help lacks %q:\n%s", want, screen(m))
		}
	}
	r.keys("x")
	r.until("the dialog again", func(m Model) bool { return !m.showHelp && m.focus == focusDialog })

	// The cursor starts on delete emptyDir data: space turns it on.
	r.keys("space")
	m = r.until("the re-plan", func(m Model) bool {
		d := m.dlg.drain
		return d != nil && !d.planning && d.plan.Options.DeleteEmptyDir
	})
	if got := m.dlg.input.Value(); got != node {
		t.Fatalf("typed text after the re-plan = %q, want %q", got, node)
	}
	if !m.dlg.ready() {
		t.Fatalf("not ready after allowing emptyDir deletion:\n%s", screen(m))
	}
	s = screen(m)
	for _, want := range []string{"Drain node " + node + "?", "[x] delete emptyDir data (--delete-emptydir-data): +2 evicted",
		"Will be evicted (2):", "emptyDir data lost (2):", "reporting/report-exporter-5b7f9d6c48-wx8hd: spool", "enter confirm"} {
		if !strings.Contains(s, want) {
			t.Errorf("re-planned dialog lacks %q:\n%s", want, s)
		}
	}
	r.checkGolden("drain-dialog-emptydir-80x24")

	// Timeout cycles 5m → 15m; the drain runs with the options shown.
	r.keys("up", "space")
	m = r.until("the timeout re-plan", func(m Model) bool {
		d := m.dlg.drain
		return d != nil && !d.planning && d.plan.Options.Timeout.Minutes() == 15
	})
	if !strings.Contains(screen(m), "▸ timeout: 15m") {
		t.Errorf("timeout row:\n%s", screen(m))
	}
	r.keys("enter")
	m = r.until("the drain's end", func(m Model) bool {
		return paneKindOf(m) == paneDrain && m.drain == nil && strings.Contains(m.status, "drained")
	})
	if !strings.Contains(m.status, "2 evicted") {
		t.Errorf("status after the drain: %q", m.status)
	}
	pods, err := d.Client().CoreV1().Pods("reporting").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == node {
			t.Errorf("pod %s still on %s", p.Name, node)
		}
	}
}

// TestDrainDialogKeepsTheLastChoice: options changed faster than the plans
// come back end with the plan of the last choice shown, whatever order the
// answers arrive in, and the cursor wraps around the four options
// (space ×3 on emptyDir: on; shift+tab wraps to timeout: 15m; tab tab: force on).
func TestDrainDialogKeepsTheLastChoice(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 80, 24)
	r.waitLive()
	selectPod(r, "report-exporter")
	r.keys("r")
	r.until("the drain plan", func(m Model) bool { return m.focus == focusDialog && m.dlg.drain != nil && !m.dlg.drain.planning })
	r.keys("space", "space", "space", "shift+tab", "space", "tab", "tab", "space")
	m := r.until("the last plan", func(m Model) bool {
		d := m.dlg.drain
		return d != nil && !d.planning && d.seq == 5
	})
	dc := m.dlg.drain
	want := dc.options()
	if !want.DeleteEmptyDir || want.Timeout.Minutes() != 15 || graceChoices[dc.grace].label != "pods' own" || !want.Force {
		t.Errorf("options after the keys = %+v", want)
	}
	if dc.plan.Options != want {
		t.Errorf("plan shown was made with %+v, the dialog shows %+v", dc.plan.Options, want)
	}
	if !strings.Contains(screen(m), "timeout: 15m") || !strings.Contains(screen(m), "[x] delete emptyDir data") {
		t.Errorf("dialog:\n%s", screen(m))
	}
}

// TestStaleDrainPlanIgnored: an answer to an earlier option change never
// replaces the plan awaited, nor reopens a dialog the user closed.
func TestStaleDrainPlanIgnored(t *testing.T) {
	var m Model
	m.focus = focusDialog
	d := newDrainChoice("n1")
	d.seq, d.planning = 2, true
	m.dlg.drain = d
	old := &action.DrainPlan{Node: "n1", Options: action.DrainOptions{Timeout: drainTimeout}}
	m.drainPlanned(drainPlanMsg{node: "n1", plan: old, replan: true, seq: 1})
	if d.plan != nil || !d.planning {
		t.Fatalf("a stale plan was taken: %+v", d)
	}
	cur := &action.DrainPlan{Node: "n1", Options: d.options()}
	m.drainPlanned(drainPlanMsg{node: "n1", plan: cur, replan: true, seq: 2})
	if d.plan != cur || d.planning || !m.dlg.ready() { // no name to type in this bare dialog
		t.Fatalf("the awaited plan was not taken: %+v", d)
	}
	m.focus = focusTree
	m.dlg = dialog{}
	m.drainPlanned(drainPlanMsg{node: "n1", plan: cur, replan: true, seq: 3})
	if m.focus == focusDialog {
		t.Fatal("a re-plan reopened a closed dialog")
	}
}
