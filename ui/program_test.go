package ui

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/demo"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// demoNow pins the demo's clock so golden views are stable.
var demoNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// run drives the real program (the real update loop, commands and watch)
// against the demo cluster; until waits for a condition on the live model.
type run struct {
	t    *testing.T
	p    *tea.Program
	mu   sync.Mutex
	last Model
	done chan struct{}
	out  bytes.Buffer
	// view is the screen when the last until's condition held, drawn on
	// the program's goroutine: panes are shared by the model's copies, so
	// drawing a model later, from the test, could race with the program.
	view string
}

// probeMsg asks, on the program's goroutine, whether cond holds now.
type probeMsg struct {
	cond  func(Model) bool
	reply chan *probeResult
}

// probeResult travels by pointer: a Model is bigger than a channel
// element may be (64 KiB).
type probeResult struct {
	ok   bool
	m    Model
	view string
}

// readOnlyDemo is the demo seen through read-only eyes.
type readOnlyDemo struct{ *demo.Demo }

func (d readOnlyDemo) Info() kube.SourceInfo {
	i := d.Demo.Info()
	i.ReadOnly = true
	return i
}

func newDemo(t *testing.T) *demo.Demo {
	t.Helper()
	d, err := demo.NewDemo(os.DirFS("../testdata/scenarios"), ".", demoNow)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func startProgram(t *testing.T, src kube.Source, w, h int) *run {
	t.Helper()
	return startProgramWith(t, Options{Source: src, Now: func() time.Time { return demoNow }}, w, h)
}

func startProgramWith(t *testing.T, opts Options, w, h int) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{t: t, done: make(chan struct{})}
	opts.Ctx, opts.Styles, opts.ThemeFixed = ctx, themes.Build(themes.Palette{Name: "mono"}), true
	m := New(opts)
	r.p = tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(&lockedWriter{w: &r.out, mu: &r.mu}), tea.WithWindowSize(w, h),
		tea.WithoutSignals(), tea.WithFilter(func(model tea.Model, msg tea.Msg) tea.Msg {
			if pr, ok := msg.(probeMsg); ok {
				// The filter runs between two Updates: the model is at rest.
				mm, _ := model.(Model)
				res := &probeResult{m: mm, view: mm.View().Content}
				res.ok = mm.width > 0 && pr.cond(mm)
				pr.reply <- res
				return nil
			}
			if mm, ok := model.(Model); ok {
				r.mu.Lock()
				r.last = mm
				r.mu.Unlock()
			}
			return msg
		}))
	go func() {
		defer close(r.done)
		final, _ := r.p.Run()
		if mm, ok := final.(Model); ok {
			r.mu.Lock()
			r.last = mm
			r.mu.Unlock()
			mm.Stop()
		}
	}()
	t.Cleanup(func() {
		r.p.Quit()
		<-r.done
		cancel()
	})
	r.until("the tree is live", func(m Model) bool { return m.state == live.Live && m.tree.Len() > 0 })
	return r
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// until waits for cond on the model. The condition is checked, and the
// screen drawn, on the program's goroutine between two messages.
func (r *run) until(what string, cond func(Model) bool) Model {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	view := ""
	for time.Now().Before(deadline) {
		reply := make(chan *probeResult, 1)
		r.p.Send(probeMsg{cond: cond, reply: reply})
		select {
		case res := <-reply:
			view = res.view
			if res.ok {
				r.view = res.view
				return res.m
			}
		case <-r.done:
			r.t.Fatalf("the program ended while waiting for %s", what)
		case <-time.After(time.Second):
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("timed out waiting for %s; screen:\n%s", what, ansi.Strip(view))
	return Model{}
}

// checkGolden compares the screen of the last until with a golden file.
func (r *run) checkGolden(name string) {
	r.t.Helper()
	checkGoldenText(r.t, name, r.view)
}

func (r *run) keys(keys ...string) {
	for _, k := range keys {
		r.p.Send(keyPress(k))
	}
}

func (r *run) typeText(s string) {
	for _, c := range s {
		r.p.Send(tea.KeyPressMsg{Code: c, Text: string(c)})
	}
}

// waitLive waits until the watch has synced, so that goldens never catch
// the tree or its counts half-filled (as a loaded machine can).
func (r *run) waitLive() {
	r.t.Helper()
	// Every resource, not only pods: the tree judges pods with the events
	// and nodes too, so a golden taken before they arrive would vary.
	r.until("the watch is live", func(m Model) bool {
		if !m.Live() || m.tree.Len() == 0 || len(m.resources) == 0 {
			return false
		}
		for _, rs := range m.resources {
			if rs.State != live.Live {
				return false
			}
		}
		return true
	})
}

// screen draws a model: for models the test owns, or inside an until.
func screen(m Model) string { return ansi.Strip(m.View().Content) }

// paneKind is the kind of the pane in front, paneNone without one.
func paneKindOf(m Model) paneKind {
	if m.pane == nil {
		return paneNone
	}
	return m.pane.Kind()
}

// diagnosisOf is the diagnosis the pane shows, nil while it walks.
func diagnosisOf(m Model) *diag.Diagnosis {
	if p, ok := m.pane.(*diagnosisPane); ok && !p.loading {
		return p.d
	}
	return nil
}

// logsOf is the logs pane in front, nil without one.
func logsOf(m Model) *logsPane {
	p, _ := m.pane.(*logsPane)
	return p
}

// plainOf is the text of the pane in front.
func plainOf(m Model) string {
	if m.pane == nil {
		return ""
	}
	return m.pane.Plain()
}

// TestJourneyOnDemo walks the main journey of an incident on the demo:
// find the OOMKilled pod, diagnose it, read its previous logs, copy the
// diagnosis, cordon its node.
func TestJourneyOnDemo(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 160, 48)
	r.waitLive()

	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G")
	m := r.until("the ledger pod is selected", func(m Model) bool {
		p := m.tree.Selected()
		return p != nil && strings.HasPrefix(p.Name, "ledger-")
	})
	pod := m.tree.Selected()

	r.keys("enter")
	m = r.until("a diagnosis", func(m Model) bool { return diagnosisOf(m) != nil })
	if got := diagnosisOf(m).RootCause.Rule; got != "crash.oom-killed" {
		t.Fatalf("root cause %s, want crash.oom-killed", got)
	}
	if !strings.Contains(screen(m), "Root cause") || !strings.Contains(screen(m), "crash.oom-killed") {
		t.Fatalf("diagnosis not on screen:\n%s", screen(m))
	}
	r.checkGolden("journey-diagnosis-160x48")

	r.keys("Y")
	r.until("copied", func(m Model) bool { return strings.Contains(m.status, "copied the diagnosis") })

	r.keys("p")
	m = r.until("previous logs", func(m Model) bool {
		return logsOf(m) != nil && strings.Contains(plainOf(m), "OutOfMemoryError")
	})
	if !logsOf(m).opts.Previous {
		t.Fatal("p did not open the previous instance")
	}

	r.keys("esc", "c")
	m = r.until("the cordon dialog", func(m Model) bool { return m.focus == focusDialog })
	r.checkGolden("journey-cordon-dialog-160x48")
	r.keys("enter")
	r.until("cordoned", func(m Model) bool { return strings.Contains(m.status, "cordoned") })
	node, err := d.Client().CoreV1().Nodes().Get(context.Background(), pod.Node, metav1.GetOptions{})
	if err != nil || !node.Spec.Unschedulable {
		t.Fatalf("node %s not cordoned (err %v)", pod.Node, err)
	}
}

// TestReadOnlyRefusesActions: in read-only mode the keys exist but say why
// they do nothing, and nothing changes.
func TestReadOnlyRefusesActions(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, readOnlyDemo{d}, 80, 24)
	r.waitLive()
	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G")
	m := r.until("the ledger pod is selected", func(m Model) bool { return m.tree.Selected() != nil })
	nodeName := m.tree.Selected().Node
	for k, name := range map[string]string{"c": "cordon", "u": "uncordon", "r": "drain", "s": "shell"} {
		r.keys(k)
		m = r.until("a refusal for "+k, func(m Model) bool { return strings.Contains(m.status, "read-only mode: "+name+" ") })
		if m.focus == focusDialog {
			t.Fatalf("%s opened a dialog in read-only mode", k)
		}
	}
	if !strings.Contains(screen(m), "READ-ONLY") {
		t.Fatal("no READ-ONLY badge")
	}
	r.keys("c")
	m = r.until("the cordon refusal", func(m Model) bool { return strings.Contains(m.status, "read-only mode: cordon ") })
	r.checkGolden("readonly-refusal-80x24")
	node, err := d.Client().CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil || node.Spec.Unschedulable {
		t.Fatalf("read-only mode changed node %s (err %v)", nodeName, err)
	}
}

func TestDrainPlanDialogAndHelp(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 80, 24)
	r.waitLive()
	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G", "r")
	m := r.until("the drain plan", func(m Model) bool { return m.focus == focusDialog && m.dlg.typed != "" })
	r.checkGolden("drain-plan-80x24")
	r.keys("esc", "?")
	m = r.until("help", func(m Model) bool { return m.showHelp })
	r.checkGolden("help-80x24")
	for _, want := range []string{"diagnose", "describe", "previous logs", "shell", "cordon", "drain", "filter", "group by node"} {
		if !strings.Contains(screen(m), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestLogsPaneOnDemo(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 80, 24)
	r.waitLive()
	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G", "l")
	m := r.until("current logs", func(m Model) bool {
		return logsOf(m) != nil && strings.Contains(plainOf(m), "Spring Boot")
	})
	if logsOf(m).opts.Previous {
		t.Fatal("l opened the previous instance")
	}
	r.keys("/")
	r.typeText("snapshot")
	r.keys("enter")
	m = r.until("a search match", func(m Model) bool { return logsOf(m).search.count > 0 })
	r.checkGolden("logs-search-80x24")
}

// TestFilterEnterLandsOnPod: after "/ledger" Enter the cursor is on the
// first matching pod, so the next Enter diagnoses that pod (it stayed on
// the namespace row, where Enter does nothing useful).
func TestFilterEnterLandsOnPod(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 80, 24)
	r.waitLive()
	r.keys("/")
	r.typeText("ledger")
	r.keys("enter")
	m := r.until("the cursor on the ledger pod", func(m Model) bool {
		p := m.tree.Selected()
		l, _ := m.tree.SelectedLine()
		return p != nil && l.kind == podNode && strings.HasPrefix(p.Name, "ledger-")
	})
	if m.focus != focusTree {
		t.Fatalf("focus %v after Enter in the filter", m.focus)
	}
	r.keys("enter")
	r.until("the ledger pod's diagnosis", func(m Model) bool {
		return paneKindOf(m) == paneDiagnosis && strings.Contains(screen(m), "crash.oom-killed")
	})
}
