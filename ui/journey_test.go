package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// The tests here drive the real program on the demo through what a person
// tripped on (issue 13 §1): each failed before its fix.

// selectPod filters for a pod and leaves the cursor on it.
func selectPod(r *run, name string) Model {
	r.t.Helper()
	r.keys("/")
	r.typeText(name)
	r.keys("enter")
	return r.until("the cursor on "+name, func(m Model) bool {
		p := m.tree.Selected()
		return p != nil && strings.HasPrefix(p.Name, name) && m.focus == focusTree
	})
}

// TestPaletteTakesTheHighlightedSuggestion: ":ns pay" shows "ns payments"
// highlighted and Enter switches to payments, not to a namespace literally
// named "pay"; "ns all" is every namespace; a namespace that does not exist
// says so and keeps the scope.
func TestPaletteTakesTheHighlightedSuggestion(t *testing.T) {
	r := startProgram(t, newDemo(t), 100, 30)
	r.waitLive()
	r.keys(":")
	r.typeText("ns pay")
	r.until("the suggestion", func(m Model) bool { return strings.Contains(screen(m), "› ns payments") })
	r.keys("enter")
	r.until("the payments scope", func(m Model) bool {
		return len(m.scope.Namespaces) == 1 && m.scope.Namespaces[0] == "payments" && m.Live() && m.tree.Len() > 0
	})

	r.keys(":")
	r.typeText("ns nosuchnamespace")
	r.keys("enter")
	m := r.until("the refusal", func(m Model) bool { return strings.Contains(m.status, "does not exist") })
	if len(m.scope.Namespaces) != 1 || m.scope.Namespaces[0] != "payments" {
		t.Fatalf("a namespace that does not exist changed the scope to %v", m.scope.Namespaces)
	}

	r.keys(":")
	r.typeText("ns all")
	r.keys("enter")
	r.until("all namespaces", func(m Model) bool {
		return len(m.scope.Namespaces) == 0 && strings.Contains(screen(m), "ns all namespaces")
	})

	r.keys(":")
	r.typeText("ns notif")
	r.keys("tab")
	r.until("tab completes", func(m Model) bool { return m.pal.input.Value() == "ns notifications" })
}

// TestEscLeavesThePaneForTheTree: esc from a pane gives the keys back to the
// tree, so the global keys (:, ?) and the tree's own work at once.
func TestEscLeavesThePaneForTheTree(t *testing.T) {
	r := startProgram(t, newDemo(t), 100, 30)
	r.waitLive()
	selectPod(r, "ledger")
	r.keys("enter")
	r.until("the diagnosis", func(m Model) bool { return diagnosisOf(m) != nil })
	r.keys("esc")
	r.until("the tree focused, the pane still open", func(m Model) bool {
		return m.focus == focusTree && paneKindOf(m) == paneDiagnosis
	})
	r.keys(":")
	r.until("the palette", func(m Model) bool { return m.focus == focusPalette })
	r.keys("esc", "esc")
	r.until("the pane closed", func(m Model) bool { return paneKindOf(m) == paneNone && m.focus == focusTree })
	// q leaves a pane as it leaves less; in the tree it quits.
	r.keys("l")
	r.until("the logs pane", func(m Model) bool { return paneKindOf(m) == paneLogs && m.focus == focusDetail })
	r.keys("q")
	r.until("q closed the pane", func(m Model) bool { return paneKindOf(m) == paneNone })
}

// TestPageKeysScrollThePane: ctrl+f and ctrl+b, listed in help, page the
// pane in front.
func TestPageKeysScrollThePane(t *testing.T) {
	r := startProgram(t, newDemo(t), 80, 24)
	r.waitLive()
	selectPod(r, "ledger")
	r.keys("d")
	r.until("the describe text", func(m Model) bool {
		return paneKindOf(m) == paneDescribe && strings.Contains(plainOf(m), "Containers:")
	})
	r.keys("ctrl+f")
	m := r.until("a page down", func(m Model) bool { return m.pane.(*textPane).vp.YOffset() > 0 })
	off := m.pane.(*textPane).vp.YOffset()
	r.keys("ctrl+f", "ctrl+b")
	r.until("a page up", func(m Model) bool { return m.pane.(*textPane).vp.YOffset() == off })
	r.keys("ctrl+b")
	r.until("the top", func(m Model) bool { return m.pane.(*textPane).vp.YOffset() == 0 })
}

// TestDescribeShowsDescribesOwnLines: the pane shows kubectl describe's
// lines unchanged — no blank lines between them.
func TestDescribeShowsDescribesOwnLines(t *testing.T) {
	r := startProgram(t, newDemo(t), 160, 48)
	r.waitLive()
	selectPod(r, "ledger")
	r.keys("d")
	r.until("the describe text", func(m Model) bool {
		return paneKindOf(m) == paneDescribe && strings.Contains(plainOf(m), "Containers:")
	})
	lines := strings.Split(ansi.Strip(r.view), "\n")
	for i := 3; i+1 < len(lines); i++ {
		right := func(l string) string {
			if j := strings.Index(l, "│"); j >= 0 {
				return strings.TrimSpace(l[j+len("│"):])
			}
			return ""
		}
		if strings.HasPrefix(right(lines[i]), "Name:") && right(lines[i+1]) == "" {
			t.Fatalf("a blank line follows describe's first line:\n%s", r.view)
		}
	}
	if !strings.Contains(r.view, "Namespace:") {
		t.Fatalf("describe's lines are not on screen:\n%s", ansi.Strip(r.view))
	}
}

// TestLogsSearchStartsAfresh: / starts a new search (it appended to the
// last term), matching is smart-case, n and N step both ways, and another
// pod's logs start without the search.
func TestLogsSearchStartsAfresh(t *testing.T) {
	r := startProgram(t, newDemo(t), 100, 30)
	r.waitLive()
	selectPod(r, "ledger")
	r.keys("l")
	r.until("the log", func(m Model) bool { return logsOf(m) != nil && strings.Contains(plainOf(m), "Spring Boot") })

	search := func(term string) *logsPane {
		r.keys("/")
		r.typeText(term)
		r.keys("enter")
		m := r.until("the search for "+term, func(m Model) bool { return logsOf(m).search.query == term })
		return logsOf(m)
	}
	lower := search("snapshot").search.count
	exact := search("Snapshot").search.count
	if lower == 0 || exact == 0 || exact >= lower {
		t.Fatalf(`smart case: "snapshot" found %d, "Snapshot" %d; want the capital to match fewer`, lower, exact)
	}
	r.keys("n")
	r.until("the second match", func(m Model) bool { return logsOf(m).search.cur == 1 })
	r.keys("N", "N")
	r.until("back past the first", func(m Model) bool { return logsOf(m).search.cur == exact-1 })

	r.keys("esc")
	r.until("the tree", func(m Model) bool { return m.focus == focusTree })
	r.keys("esc", "esc")
	selectPod(r, "notifier")
	r.keys("l")
	m := r.until("the other pod's logs", func(m Model) bool {
		return logsOf(m) != nil && logsOf(m).subj.name != "" && strings.HasPrefix(logsOf(m).subj.name, "notifier")
	})
	if q := logsOf(m).search.query; q != "" {
		t.Fatalf("the search %q followed to another pod", q)
	}
}

// TestEmptyPreviousLogSaysSo: an empty previous log says the previous
// instance wrote nothing, as the diagnosis does.
func TestEmptyPreviousLogSaysSo(t *testing.T) {
	r := startProgram(t, newDemo(t), 100, 30)
	r.waitLive()
	selectPod(r, "notifier")
	r.keys("p")
	r.until("the empty previous log", func(m Model) bool {
		return logsOf(m) != nil && logsOf(m).stream != nil && strings.Contains(plainOf(m), "previous instance wrote nothing")
	})
}

// TestEveryRowAnswers: d, y, e, enter and l answer on namespace, workload
// and node rows too — with the object's describe, YAML or events, or with
// a line saying what the key needs.
func TestEveryRowAnswers(t *testing.T) {
	r := startProgram(t, newDemo(t), 120, 40)
	r.waitLive()
	selectPod(r, "ledger")
	r.keys("esc") // clear the filter; the cursor stays on the pod
	r.keys("up")
	r.until("the Deployment row", func(m Model) bool { return m.selection().kind == "deployment" })
	r.keys("d")
	r.until("the Deployment described", func(m Model) bool {
		return paneKindOf(m) == paneDescribe && strings.Contains(plainOf(m), "Replicas:")
	})
	r.keys("esc", "y")
	r.until("the Deployment's YAML", func(m Model) bool {
		return paneKindOf(m) == paneYAML && strings.Contains(plainOf(m), "kind: Deployment") && !strings.Contains(plainOf(m), "managedFields")
	})
	r.keys("esc", "l")
	r.until("the Deployment's pods' logs, merged", func(m Model) bool {
		return paneKindOf(m) == paneLogs && m.pane.Subject().kind == "deployment" && strings.Contains(plainOf(m), "[ledger-")
	})
	r.keys("esc")
	r.until("the tree", func(m Model) bool { return m.focus == focusTree })

	r.keys("up")
	r.until("the namespace row", func(m Model) bool { return m.selection().kind == "namespace" })
	r.keys("d")
	r.until("the namespace described", func(m Model) bool {
		return paneKindOf(m) == paneDescribe && strings.Contains(plainOf(m), "payments")
	})
	r.keys("esc", "e")
	m := r.until("the namespace's warnings", func(m Model) bool { return paneKindOf(m) == paneEvents && strings.Contains(plainOf(m), "Warning") })
	if strings.Contains(plainOf(m), "Normal ") {
		t.Fatalf("warnings only, but Normal events are listed:\n%s", plainOf(m))
	}
	r.keys("esc", "n")
	r.until("the node rows", func(m Model) bool { return m.tree.byNode })
	r.keys("g", "down", "down") // past the pods not scheduled on any node
	r.until("a node row", func(m Model) bool { return m.selection().kind == "node" })
	r.keys("d")
	r.until("the node described", func(m Model) bool {
		return paneKindOf(m) == paneDescribe && strings.Contains(plainOf(m), "Conditions:")
	})
}

// TestEventsPaneSaysWhatItLists: the header is true — an object's events
// list warnings first and say so; a toggles warnings only.
func TestEventsPaneSaysWhatItLists(t *testing.T) {
	r := startProgram(t, newDemo(t), 100, 30)
	r.waitLive()
	selectPod(r, "ledger")
	r.keys("e")
	m := r.until("the pod's events", func(m Model) bool {
		return paneKindOf(m) == paneEvents && strings.Contains(plainOf(m), "Warning")
	})
	plain := plainOf(m)
	if i, j := strings.Index(plain, "Normal "), strings.LastIndex(plain, "Warning "); i >= 0 && i < j {
		t.Fatalf("a Normal event is listed before a warning:\n%s", plain)
	}
	if !strings.Contains(m.pane.(*eventsPane).status, "warnings first") {
		t.Fatalf("the header does not say the order: %q", m.pane.(*eventsPane).status)
	}
	r.keys("a")
	m = r.until("warnings only", func(m Model) bool { return !m.pane.(*eventsPane).all })
	if strings.Contains(plainOf(m), "Normal ") {
		t.Fatalf("warnings only lists a Normal event:\n%s", plainOf(m))
	}
}

// TestHelpLineBelongsToThePane: each pane's help line shows its own keys;
// the drain pane offered the diagnosis's "copy" and "write".
func TestHelpLineBelongsToThePane(t *testing.T) {
	d := newDemo(t)
	r := startProgram(t, d, 100, 30)
	r.waitLive()
	m := selectPod(r, "ledger")
	node := m.tree.Selected().Node
	r.keys("l")
	r.until("the logs help", func(m Model) bool {
		s := screen(m)
		return paneKindOf(m) == paneLogs && strings.Contains(s, "follow") && !strings.Contains(s, "copy diagnosis")
	})
	r.keys("esc", "r")
	r.until("the drain plan", func(m Model) bool { return m.focus == focusDialog && m.dlg.typed != "" })
	r.typeText(node)
	r.keys("enter")
	m = r.until("the drain pane", func(m Model) bool { return paneKindOf(m) == paneDrain })
	last := func(m Model) string {
		lines := strings.Split(screen(m), "\n")
		return lines[len(lines)-1]
	}
	m = r.until("the drain's help line", func(m Model) bool { return strings.Contains(last(m), "esc") })
	if s := last(m); strings.Contains(s, "copy diagnosis") || strings.Contains(s, "write diagnosis") {
		t.Fatalf("the drain pane offers the diagnosis's keys: %q", s)
	}
}

// TestSelectorsShowAndStay: -l narrows the tree, the header says so (a
// narrowed tree must not pass for the whole namespace), and switching
// namespace keeps the selector.
func TestSelectorsShowAndStay(t *testing.T) {
	r := startProgramWith(t, Options{Source: newDemo(t), Now: func() time.Time { return demoNow },
		Scope: live.Scope{LabelSelector: "app=ledger"}}, 100, 30)
	r.waitLive()
	m := r.until("the header", func(m Model) bool { return strings.Contains(screen(m), "-l app=ledger") })
	for _, p := range m.tree.rows {
		if !strings.HasPrefix(p.row.Name, "ledger-") {
			t.Errorf("-l app=ledger shows %s", p.row.Name)
		}
	}
	r.keys(":")
	r.typeText("ns payments")
	r.keys("enter")
	r.until("payments, still narrowed", func(m Model) bool {
		return len(m.scope.Namespaces) == 1 && m.scope.LabelSelector == "app=ledger" && strings.Contains(screen(m), "-l app=ledger")
	})
}

// TestMouseCanBeLeftToTheTerminal: with NoMouse the program does not
// capture the mouse, so a person can select text (a pod name) to copy.
func TestMouseCanBeLeftToTheTerminal(t *testing.T) {
	on := send(newTestModel(100, 30), testBatch(demoPods()...))
	if on.View().MouseMode != tea.MouseModeCellMotion {
		t.Fatalf("mouse mode %v by default, want cell motion", on.View().MouseMode)
	}
	m := New(Options{Source: on.src, Styles: on.styles, ThemeFixed: true, NoMouse: true})
	if mode := m.View().MouseMode; mode != tea.MouseModeNone {
		t.Fatalf("mouse mode %v with NoMouse, want none", mode)
	}
}

// TestDialogBulletsWrapUnderTheirText: a bullet that wraps continues under
// its first word, so its second line does not read as a new point.
func TestDialogBulletsWrapUnderTheirText(t *testing.T) {
	got := hangingWrap("  • adds an ephemeral container with a shell to the pod (the pod is not restarted);", 40)
	for i, l := range strings.Split(got, "\n") {
		if i > 0 && !strings.HasPrefix(l, "    ") {
			t.Fatalf("line %d of a wrapped bullet starts at the margin:\n%s", i+1, got)
		}
		if ansi.StringWidth(l) > 40 {
			t.Fatalf("line %d is wider than 40:\n%s", i+1, got)
		}
	}
}
