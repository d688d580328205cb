package ui

import (
	"context"
	"strings"
	"testing"
	"time"

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
	m, node := openDrainPlan(r, "report-exporter")
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
	openDrainPlan(r, "report-exporter")
	r.keys("space", "space", "space", "shift+tab", "space", "tab", "tab", "space")
	m := r.until("the last plan", func(m Model) bool {
		d := m.dlg.drain
		return d != nil && !d.planning && d.seq == 5
	})
	dc := m.dlg.drain
	want := dc.options()
	if !want.DeleteEmptyDir || want.Timeout.Minutes() != 15 || dc.grace != graceChoices[0] || !want.Force {
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

// TestDrainDialogTypedGrace: on the grace row what is typed is a grace
// period (the node name typed before stays, without the cursor); enter
// sets it and plans again, a value that does not parse is one line in the
// dialog and changes nothing, -1 is the pods' own and 0 none at all, space
// still steps, and leaving the row drops what was typed but not entered,
// so typing goes to the node name again.
func TestDrainDialogTypedGrace(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 100, 30)
	r.waitLive()
	m, node := openDrainPlan(r, "report-exporter")
	r.typeText(node)
	r.keys("tab", "tab")
	m = r.until("the grace row", func(m Model) bool { return m.dlg.drain.cursor == optGrace })
	s := screen(m)
	for _, want := range []string{"▸ grace period: pods' own  type one: 45, 2m30s, -1 pods' own",
		"typing goes to the grace period here, to the node name on the other rows", "type 45s grace period, enter sets it"} {
		if !strings.Contains(s, want) {
			t.Errorf("grace row lacks %q:\n%s", want, s)
		}
	}
	grace := func(what string, want action.DrainOptions) Model {
		t.Helper()
		return r.until(what, func(m Model) bool {
			d := m.dlg.drain
			o := d.plan.Options
			return !d.planning && d.graceInput.Value() == "" && o.GracePeriod == want.GracePeriod && o.GraceNow == want.GraceNow
		})
	}

	// Not a grace period: one line, nothing changed, nothing planned.
	r.typeText("abc")
	r.keys("enter")
	m = r.until("the refusal", func(m Model) bool { return m.dlg.drain.graceErr != "" })
	if s := screen(m); !strings.Contains(s, `✖ "abc" is not a grace period (try 45, 2m30s or -1); nothing changed`) ||
		!strings.Contains(s, "enter set it") || !strings.Contains(s, "esc clear it") {
		t.Errorf("refusal:\n%s", s)
	}
	if dc := m.dlg.drain; dc.seq != 0 || dc.grace != graceChoices[0] || m.dlg.input.Value() != node || m.focus != focusDialog {
		t.Fatalf("a refused grace period changed the dialog: seq %d, grace %+v, name %q", dc.seq, dc.grace, m.dlg.input.Value())
	}
	// esc clears what was typed and keeps the dialog.
	r.keys("esc")
	m = r.until("the field cleared", func(m Model) bool { return m.dlg.drain.graceInput.Value() == "" && m.dlg.drain.graceErr == "" })
	if m.focus != focusDialog {
		t.Fatal("esc on a typed grace period closed the dialog")
	}

	r.typeText("45")
	r.keys("enter")
	m = grace("45s", action.DrainOptions{GracePeriod: 45 * time.Second})
	if !strings.Contains(screen(m), "▸ grace period: 45s") {
		t.Errorf("45 entered:\n%s", screen(m))
	}
	r.typeText("2m30s")
	r.keys("enter")
	m = grace("2m30s", action.DrainOptions{GracePeriod: 150 * time.Second})
	if !strings.Contains(screen(m), "▸ grace period: 2m30s") {
		t.Errorf("2m30s entered:\n%s", screen(m))
	}
	r.typeText("1.5s")
	r.keys("enter")
	m = r.until("whole seconds", func(m Model) bool { return strings.Contains(m.dlg.drain.graceErr, "whole seconds") })
	if m.dlg.drain.grace.grace != 150*time.Second {
		t.Errorf("1.5s changed the grace period to %+v", m.dlg.drain.grace)
	}
	r.keys("esc")
	r.typeText("-1")
	r.keys("enter")
	m = grace("the pods' own", action.DrainOptions{})
	if !strings.Contains(screen(m), "▸ grace period: pods' own") {
		t.Errorf("-1 entered:\n%s", screen(m))
	}
	r.typeText("0")
	r.keys("enter")
	grace("none at all", action.DrainOptions{GraceNow: true})
	// space steps on from 0s to 30s, dropping anything typed.
	r.typeText("9")
	r.keys("space")
	grace("the next step", action.DrainOptions{GracePeriod: 30 * time.Second})

	// Leaving the row drops a value typed but not entered; typing goes to
	// the node name again.
	r.typeText("77")
	r.keys("tab")
	r.typeText("x")
	m = r.until("the name typed on", func(m Model) bool { return m.dlg.input.Value() == node+"x" })
	if dc := m.dlg.drain; dc.grace.grace != 30*time.Second || dc.graceInput.Value() != "" || dc.cursor != optTimeout {
		t.Errorf("after leaving the row: grace %+v, typed %q, cursor %d", dc.grace, dc.graceInput.Value(), dc.cursor)
	}
	if s := screen(m); strings.Contains(s, "typing goes to the grace period") || strings.Contains(s, "type 45s") {
		t.Errorf("the grace hint outlived its row:\n%s", s)
	}
	if got := m.dlg.drain.plan.Options; got != m.dlg.drain.options() {
		t.Errorf("the plan shown (%+v) is not the plan of the options shown (%+v)", got, m.dlg.drain.options())
	}
}

func TestParseGrace(t *testing.T) {
	for _, c := range []struct {
		typed string
		want  gracePeriod
		err   string
	}{
		{"45", gracePeriod{label: "45s", grace: 45 * time.Second}, ""},
		{" 45s ", gracePeriod{label: "45s", grace: 45 * time.Second}, ""},
		{"2m30s", gracePeriod{label: "2m30s", grace: 150 * time.Second}, ""},
		{"90", gracePeriod{label: "1m30s", grace: 90 * time.Second}, ""},
		{"1h", gracePeriod{label: "1h", grace: time.Hour}, ""},
		{"30", graceChoices[2], ""},
		{"2m", graceChoices[3], ""},
		{"0", graceChoices[1], ""},
		{"0s", graceChoices[1], ""},
		{"-1", graceChoices[0], ""},
		{"-5m", graceChoices[0], ""},
		{"", gracePeriod{}, "is not a grace period"},
		{"abc", gracePeriod{}, "is not a grace period"},
		{"45 s", gracePeriod{}, "is not a grace period"},
		{"99999999999999999999", gracePeriod{}, "is not a grace period"},
		{"1.5s", gracePeriod{}, "whole seconds"},
		{"500ms", gracePeriod{}, "whole seconds"},
	} {
		got, err := parseGrace(c.typed)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("parseGrace(%q) = %+v, %v; want an error with %q", c.typed, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("parseGrace(%q) = %+v, %v; want %+v", c.typed, got, err, c.want)
		}
	}
}

// openDrainPlan selects a pod, asks to drain its node and waits for the
// dialog's first plan; it returns the model then and the node's name.
func openDrainPlan(r *run, pod string) (Model, string) {
	r.t.Helper()
	sel := selectPod(r, pod)
	node := sel.tree.Selected().Node
	r.keys("r")
	m := r.until("the drain plan", func(m Model) bool {
		return m.focus == focusDialog && m.dlg.drain != nil && !m.dlg.drain.planning
	})
	return m, node
}
