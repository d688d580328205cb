package ui

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/demo"
)

// everyKey is every key a user can press except the two that quit (q and
// ctrl+c): all printable ASCII, and the named keys kdoctor or its text
// inputs know.
func everyKey() []tea.KeyPressMsg {
	var keys []tea.KeyPressMsg
	for r := rune(0x21); r <= 0x7e; r++ {
		if r != 'q' {
			keys = append(keys, tea.KeyPressMsg{Code: r, Text: string(r)})
		}
	}
	for _, c := range []rune{tea.KeyEnter, tea.KeyEscape, tea.KeyTab, tea.KeyUp, tea.KeyDown, tea.KeyLeft, tea.KeyRight,
		tea.KeyPgUp, tea.KeyPgDown, tea.KeyHome, tea.KeyEnd, tea.KeyBackspace, tea.KeyDelete, tea.KeyF1, tea.KeyF12} {
		keys = append(keys, tea.KeyPressMsg{Code: c})
	}
	keys = append(keys, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "},
		tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}, tea.KeyPressMsg{Code: 'p', Mod: tea.ModCtrl},
		tea.KeyPressMsg{Code: 'n', Mod: tea.ModCtrl}, tea.KeyPressMsg{Code: 'b', Mod: tea.ModCtrl}, tea.KeyPressMsg{Code: 'f', Mod: tea.ModCtrl})
	return keys
}

// clusterState is every object of the cluster a key could change, with its
// resource version: two equal states mean nothing was written.
func clusterState(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		lines = append(lines, fmt.Sprintf("pod %s/%s rv=%s deleting=%v", p.Namespace, p.Name, p.ResourceVersion, p.DeletionTimestamp != nil))
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		lines = append(lines, fmt.Sprintf("node %s rv=%s unschedulable=%v", n.Name, n.ResourceVersion, n.Spec.Unschedulable))
	}
	nss, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nss.Items {
		lines = append(lines, "namespace "+n.Name)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestDemoReadOnlyEveryKey is `kdoctor --demo --read-only`: the demo says
// READ-ONLY, the action keys are shown off in help, c then enter (which used
// to cordon a demo node) only says why nothing happens, and every key pressed
// in every pane, the filter and the palette leaves the demo cluster as it
// was, with nothing in the session log — as against a real cluster.
func TestDemoReadOnlyEveryKey(t *testing.T) {
	d := newDemo(t)
	d.GuardReadOnly()
	before := clusterState(t, d.Client())
	logDir := t.TempDir()
	log, err := action.OpenSessionLog(logDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // w writes the diagnosis to the working directory
	r := startProgramWith(t, Options{Source: d, Now: func() time.Time { return demoNow }, SessionLog: log}, 120, 30)
	r.waitLive()
	m := r.until("the READ-ONLY badge", func(m Model) bool { return strings.Contains(m.headerView(), "READ-ONLY") })
	if !strings.Contains(screen(m), " DEMO ") {
		t.Fatal("no DEMO badge")
	}

	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G")
	r.until("a pod", func(m Model) bool { return m.tree.Selected() != nil })
	// The report: c then enter cordoned a demo node.
	// c answers at once (no dialog opens in read-only); the enter that
	// used to confirm comes after the answer, which the next key clears.
	r.keys("c")
	r.until("the cordon refusal", func(m Model) bool {
		return strings.Contains(m.status, "read-only mode: cordon is unavailable — nothing was sent")
	})
	r.keys("enter")
	r.keys("?")
	m = r.until("help", func(m Model) bool { return m.showHelp })
	for _, k := range []string{"cordon node (off: read-only)", "drain node (off: read-only)", "shell / debug container (off: read-only)"} {
		if !strings.Contains(screen(m), k) {
			t.Errorf("help does not show %q", k)
		}
	}
	r.keys("x")

	all := everyKey()
	press := func(where string, open ...string) {
		for _, k := range all {
			r.keys(open...)
			r.p.Send(k)
			if k.String() == "?" {
				r.keys("x")
			}
		}
		r.keys("esc", "esc", "esc")
		r.until("back to the tree after "+where, func(m Model) bool { return m.focus == focusTree && !m.showHelp })
	}
	press("the tree")
	for _, pane := range []string{"enter", "d", "l", "p", "e"} {
		press("pane "+pane, pane)
	}
	press("the filter", "/")
	press("the palette", ":")
	press("the group-by-node tree", "n")
	r.keys(":")
	r.typeText("ns shop")
	r.keys("enter")
	r.until("scope shop", func(m Model) bool { return len(m.scope.Namespaces) == 1 && m.scope.Namespaces[0] == "shop" })
	press("the shop namespace")
	r.keys("c")
	r.until("a last refusal", func(m Model) bool { return strings.Contains(m.status, "read-only mode") || m.tree.Selected() == nil })

	if after := clusterState(t, d.Client()); after != before {
		t.Fatalf("the read-only demo cluster changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if entries, _ := os.ReadDir(logDir); len(entries) != 0 {
		t.Fatalf("a refusal wrote to the session log: %v", entries)
	}
}

// prodSource is a read-only source as Connect returns it for a context the
// config marks read-only.
type prodSource struct{ *demo.Demo }

func (p prodSource) Info() kube.SourceInfo {
	i := p.Demo.Info()
	i.Context, i.Demo = "prod-eu", false
	i.ReadOnlyWhy = `the config file marks contexts matching "prod-*" read-only`
	return i
}

// TestPaletteSwitchShowsReadOnly: switching from a writable context to one
// the config makes read-only shows the badge, the keys as off, and why.
func TestPaletteSwitchShowsReadOnly(t *testing.T) {
	rw := newDemo(t)
	ro := newDemo(t)
	ro.GuardReadOnly()
	connect := func(name string) (kube.Source, error) { return prodSource{ro}, nil }
	r := startProgramWith(t, Options{Source: rw, Connect: connect, Contexts: []string{"kdoctor-demo", "prod-eu"}, Now: func() time.Time { return demoNow }}, 120, 30)
	r.waitLive()
	if m := r.until("the tree", func(Model) bool { return true }); strings.Contains(m.headerView(), "READ-ONLY") {
		t.Fatal("READ-ONLY before the switch")
	}
	r.keys(":")
	r.typeText("ctx prod-eu")
	r.keys("enter")
	m := r.until("the switch", func(m Model) bool { return m.src.Info().Context == "prod-eu" && m.Live() })
	if !strings.Contains(m.headerView(), "READ-ONLY") {
		t.Fatalf("no READ-ONLY badge after the switch:\n%s", screen(m))
	}
	if !strings.Contains(m.status, `read-only: the config file marks contexts matching "prod-*" read-only`) {
		t.Fatalf("the switch does not say why it is read-only: %q", m.status)
	}
	r.keys("G", "c")
	r.until("the refusal", func(m Model) bool { return strings.Contains(m.status, "read-only mode: cordon") })
}

// TestNoTestHookInTheProduct: the panic key the end-to-end test needs is
// injected (Options.OnKey), not read from the environment on every key, so
// the variable the old hook read does nothing to a normal program.
func TestNoTestHookInTheProduct(t *testing.T) {
	t.Setenv("KDOCTOR_TEST_PANIC_KEY", "f12")
	r := startProgram(t, newDemo(t), 80, 24)
	r.p.Send(tea.KeyPressMsg{Code: tea.KeyF12})
	r.keys("?")
	r.until("help after F12", func(m Model) bool { return m.showHelp })
	select {
	case <-r.done:
		t.Fatal("F12 stopped the program")
	default:
	}
	seen := make(chan string, 16)
	r2 := startProgramWith(t, Options{Source: newDemo(t), OnKey: func(k tea.KeyPressMsg) { seen <- k.String() }}, 80, 24)
	r2.keys("?")
	r2.until("help", func(m Model) bool { return m.showHelp })
	if k := <-seen; k != "?" {
		t.Fatalf("OnKey saw %q", k)
	}
}
