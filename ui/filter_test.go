package ui

import (
	"fmt"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// matchedUIDs lists the pods a tree shows as matching, sorted.
func matchedUIDs(t *PodTree) []types.UID {
	var out []types.UID
	for uid, it := range t.rows {
		if it.matched {
			out = append(out, uid)
		}
	}
	slices.Sort(out)
	return out
}

func asyncTree(n int) PodTree {
	t := NewPodTree()
	t.SetSize(160, 40)
	t.Apply(live.Batch{Pods: syntheticRows(n)})
	return t
}

// runFilter types q into a big tree and returns the job's message.
func runFilter(t *testing.T, tr *PodTree, q string) filterDoneMsg {
	t.Helper()
	cmd := tr.Filter(q)
	if cmd == nil {
		t.Fatalf("Filter(%q) on %d pods ran on the UI loop", q, tr.Len())
	}
	if !tr.FilterPending() {
		t.Fatal("no filter pending while the job runs")
	}
	msg, ok := cmd().(filterDoneMsg)
	if !ok {
		t.Fatalf("the filter job returned %T", msg)
	}
	return msg
}

func TestAsyncFilterMatchesWhatTheSynchronousOneDoes(t *testing.T) {
	n := 2 * asyncFilterMin
	async, sync := asyncTree(n), asyncTree(n)
	// Narrowing, widening, an exact word, a fuzzy fallback, two words.
	for _, q := range []string{"s", "sv", "svc-01", "svc-0", "team-007", "oomk", "crlbo", "tm7 oom", "nomatch"} {
		msg := runFilter(t, &async, q)
		if !async.FinishFilter(msg) {
			t.Fatalf("%q: the result was dropped", q)
		}
		sync.SetFilter(q)
		if got, want := matchedUIDs(&async), matchedUIDs(&sync); !slices.Equal(got, want) {
			t.Fatalf("%q: %d pods match off the loop, %d on it", q, len(got), len(want))
		}
		if got, want := treeText(&async), treeText(&sync); got != want {
			t.Fatalf("%q: the trees differ:\n%s\nwant:\n%s", q, got, want)
		}
		if async.FilterPending() {
			t.Fatalf("%q: still pending after its result", q)
		}
	}
}

func TestAsyncFilterDropsStaleResults(t *testing.T) {
	tr := asyncTree(2 * asyncFilterMin)
	first := runFilter(t, &tr, "team-00")
	second := runFilter(t, &tr, "team-001")
	if tr.FinishFilter(first) {
		t.Fatal("the result of a query already replaced was applied")
	}
	if tr.filter != "" {
		t.Fatalf("a stale result set the filter to %q", tr.filter)
	}
	if !tr.FinishFilter(second) {
		t.Fatal("the latest result was dropped")
	}
	for _, uid := range matchedUIDs(&tr) {
		if it := tr.rows[uid]; it.row.Namespace != "team-001" {
			t.Fatalf("%s/%s matches team-001", it.row.Namespace, it.row.Name)
		}
	}

	// esc while a job runs: the job's result must not bring the filter back.
	late := runFilter(t, &tr, "team-0012")
	tr.SetFilter("")
	if tr.FinishFilter(late) || tr.filter != "" || len(matchedUIDs(&tr)) != tr.Len() {
		t.Fatalf("a result arriving after the filter was cleared was applied (filter %q)", tr.filter)
	}

	// A job of the tree a namespace switch replaced.
	old := runFilter(t, &tr, "svc")
	fresh := asyncTree(2 * asyncFilterMin)
	_ = runFilter(t, &fresh, "team")
	if fresh.FinishFilter(old) {
		t.Fatal("a job of another tree was applied")
	}
}

func TestAsyncFilterCoversPodsChangedWhileItRuns(t *testing.T) {
	tr := asyncTree(2 * asyncFilterMin)
	// The pods below do not match the filter applied before the job.
	tr.SetFilter("svc-0001")
	msg := runFilter(t, &tr, "oomkilled")
	// While matching: a new pod that matches, a matching pod that recovers,
	// and a matching pod deleted.
	rows := syntheticRows(30)
	born := rows[10]
	born.UID, born.Name = "born", "born-while-filtering"
	healed := rows[20]
	healed.Status, healed.Health, healed.Cause = "Running", live.Healthy, ""
	tr.Apply(live.Batch{Pods: []live.PodRow{born, healed}, DeletedPods: []types.UID{rows[0].UID}})
	if !tr.FinishFilter(msg) {
		t.Fatal("result dropped")
	}
	got := matchedUIDs(&tr)
	if !slices.Contains(got, born.UID) {
		t.Error("a matching pod added while the job ran is not shown")
	}
	if slices.Contains(got, healed.UID) {
		t.Error("a pod that stopped matching while the job ran is still shown")
	}
	if _, ok := tr.rows[rows[0].UID]; ok || slices.Contains(got, rows[0].UID) {
		t.Error("a pod deleted while the job ran is back")
	}
	sync := asyncTree(2 * asyncFilterMin)
	sync.Apply(live.Batch{Pods: []live.PodRow{born, healed}, DeletedPods: []types.UID{rows[0].UID}})
	sync.SetFilter("oomkilled")
	if want := matchedUIDs(&sync); !slices.Equal(got, want) {
		t.Fatalf("%d matches, a synchronous filter finds %d", len(got), len(want))
	}
}

// The model hands typing to the tree's job and shows the result when it
// comes; keys typed meanwhile are not held up.
func TestModelFiltersBigTreesOffTheLoop(t *testing.T) {
	m := New(Options{Source: benchSource{}, Styles: themes.Build(themes.Palette{Name: "mono"}), ThemeFixed: true, Now: func() time.Time { return testNow }})
	next, _ := m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	m = next.(Model)
	m.tree.Apply(live.Batch{Pods: syntheticRows(2 * asyncFilterMin)})
	next, _ = m.Update(tea.KeyPressMsg{Code: '/', Text: "/"})
	m = next.(Model)
	var cmds []tea.Cmd
	for _, r := range "team-042" {
		var cmd tea.Cmd
		next, cmd = m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
		m = next.(Model)
		cmds = append(cmds, cmd)
	}
	if !m.FilterPending() {
		t.Fatal("no filter pending after typing")
	}
	applied := 0
	for _, cmd := range cmds {
		for _, msg := range collect(cmd) {
			if d, ok := msg.(filterDoneMsg); ok {
				next, _ = m.Update(d)
				m = next.(Model)
				if m.tree.filter == d.job.filter {
					applied++
				}
			}
		}
	}
	if applied != 1 || m.FilterPending() || m.tree.filter != "team-042" {
		t.Fatalf("%d results applied, pending %v, filter %q: want only the last query's", applied, m.FilterPending(), m.tree.filter)
	}
	for _, uid := range matchedUIDs(&m.tree) {
		if ns := m.tree.rows[uid].row.Namespace; ns != "team-042" {
			t.Fatalf("pod of %s matches team-042", ns)
		}
	}
	if got := fmt.Sprint(len(matchedUIDs(&m.tree))); got == "0" {
		t.Fatal("nothing matches team-042")
	}
}

// collect runs a command and the commands it batches, returning their
// messages.
func collect(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, collect(c)...)
		}
		return out
	case nil:
		return nil
	default:
		return []tea.Msg{msg}
	}
}
