package ui

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

var durationRE = regexp.MustCompile(`in [0-9.]+(ns|µs|ms|s)\b`)

var durationPadRE = regexp.MustCompile(`(in Nms[^\n]*?) {2,}([0-9]+%)`)

var update = flag.Bool("update", false, "rewrite golden files")

var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func testPod(ns, wl, name string, restarts int32, waiting, lastReason string, exit int32) *corev1.Pod {
	yes := true
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
			CreationTimestamp: metav1.NewTime(testNow.Add(-47 * time.Minute))},
		Spec: corev1.PodSpec{NodeName: "worker-1", Containers: []corev1.Container{{Name: "app"}, {Name: "proxy"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: waiting == "", RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "proxy", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}},
	}
	if wl != "" {
		p.Labels = map[string]string{"pod-template-hash": "5d9c7b6f4d"}
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: wl + "-5d9c7b6f4d", Controller: &yes}}
	}
	if waiting != "" {
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}}
		p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: lastReason, ExitCode: exit}}
		p.Status.Conditions[0].Status = corev1.ConditionFalse
	}
	return p
}

func testBatch(pods ...*corev1.Pod) batchMsg {
	b := live.Batch{State: live.Live, Received: len(pods)}
	for _, p := range pods {
		b.Pods = append(b.Pods, live.NewPodRow(p))
	}
	return batchMsg{gen: 1, b: b}
}

// testSource is a demo-like source over a fake clientset.
type testSource struct{ client *fake.Clientset }

func (s testSource) Client() k8s.Interface { return s.client }
func (s testSource) Info() kube.SourceInfo {
	return kube.SourceInfo{Context: "kdoctor-demo", Server: "in-process demo cluster", Demo: true}
}
func (s testSource) PodLogs(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

func newTestModel(w, h int) Model {
	m := New(Options{
		Source: testSource{client: fake.NewClientset()},
		Styles: themes.Build(themes.Palette{Name: "mono"}), ThemeFixed: true,
		Now: func() time.Time { return testNow },
	})
	next, _ := m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return next.(Model)
}

func send(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func keyPress(s string) tea.KeyPressMsg {
	switch s {
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "ctrl+f", "ctrl+b", "ctrl+d", "ctrl+u":
		return tea.KeyPressMsg{Code: rune(s[len(s)-1]), Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func checkGolden(t *testing.T, name string, m Model) {
	t.Helper()
	checkGoldenText(t, name, m.View().Content)
}

func checkGoldenText(t *testing.T, name, view string) {
	t.Helper()
	// Durations measured at run time are the only varying text.
	got := durationRE.ReplaceAllString(ansi.Strip(view), "in Nms")
	// The padding after a duration depends on its digits.
	got = durationPadRE.ReplaceAllString(got, "$1  $2")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -update)", err)
	}
	if got != string(want) {
		t.Errorf("view differs from %s (%s):\n--- got ---\n%s\n--- want ---\n%s", path, firstDiff(got, string(want)), got, want)
	}
}

func demoPods() []*corev1.Pod {
	return []*corev1.Pod{
		testPod("shop", "web", "web-5d9c7b6f4d-aaaaa", 0, "", "", 0),
		testPod("shop", "web", "web-5d9c7b6f4d-bbbbb", 0, "", "", 0),
		testPod("payments", "ledger", "ledger-5d9c7b6f4d-x2k8p", 6, "CrashLoopBackOff", "OOMKilled", 137),
		testPod("payments", "ledger", "ledger-5d9c7b6f4d-q7r2m", 0, "", "", 0),
		testPod("billing", "", "invoice-runner", 3, "CrashLoopBackOff", "Error", 1),
	}
}

func TestTreeGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := send(newTestModel(size[0], size[1]), testBatch(demoPods()...))
			checkGolden(t, fmt.Sprintf("tree-%dx%d", size[0], size[1]), m)
		})
	}
}

func TestProblemsFirstAndRollUp(t *testing.T) {
	m := send(newTestModel(120, 30), testBatch(demoPods()...))
	var order []string
	for _, l := range m.tree.lines {
		if l.kind == nsNode {
			order = append(order, fmt.Sprintf("%s:%s", l.label(), l.health))
		}
	}
	if got := strings.Join(order, " "); got != "billing:failing payments:failing shop:ok" {
		t.Fatalf("namespace order/health = %s", got)
	}
}

func TestCursorFollowsPodAcrossUpdates(t *testing.T) {
	m := send(newTestModel(120, 30), testBatch(demoPods()...))
	// Move to the healthy ledger pod.
	for m.tree.Selected() == nil || m.tree.Selected().Name != "ledger-5d9c7b6f4d-q7r2m" {
		before := m.tree.cursor
		m = send(m, keyPress("down"))
		if m.tree.cursor == before {
			t.Fatal("pod not found in tree")
		}
	}
	// A new failing pod sorts above it; the cursor must stay on the same pod.
	m = send(m, testBatch(testPod("payments", "ledger", "ledger-5d9c7b6f4d-aaaaa", 2, "CrashLoopBackOff", "Error", 1)))
	if got := m.tree.Selected().Name; got != "ledger-5d9c7b6f4d-q7r2m" {
		t.Fatalf("cursor moved to %s", got)
	}
	// Deleting the selected pod keeps the cursor at the same place, not at the top.
	idx := m.tree.cursor
	m = send(m, batchMsg{gen: 1, b: live.Batch{State: live.Live, DeletedPods: []types.UID{"payments/ledger-5d9c7b6f4d-q7r2m"}}})
	if m.tree.cursor != min(idx, len(m.tree.lines)-1) {
		t.Fatalf("cursor jumped from %d to %d", idx, m.tree.cursor)
	}
}

func TestFilterAndProblemsOnly(t *testing.T) {
	m := send(newTestModel(120, 30), testBatch(demoPods()...))
	m = send(m, keyPress("/"), keyPress("o"), keyPress("o"), keyPress("m"))
	var pods []string
	for _, l := range m.tree.lines {
		if l.kind == podNode {
			pods = append(pods, l.label())
		}
	}
	if got := strings.Join(pods, ","); got != "ledger-5d9c7b6f4d-x2k8p" {
		t.Fatalf("filter oom matched %s", got)
	}
	m = send(m, keyPress("esc"))
	if m.filter.Value() != "" || len(m.tree.lines) < 8 {
		t.Fatalf("esc did not clear the filter: %q, %d lines", m.filter.Value(), len(m.tree.lines))
	}
	m = send(m, keyPress("!"))
	for _, l := range m.tree.lines {
		if l.kind == podNode && l.health == live.Healthy {
			t.Fatalf("problems-only shows healthy pod %s", l.label())
		}
	}
}

func TestTinyTerminal(t *testing.T) {
	m := send(newTestModel(30, 5), testBatch(demoPods()...))
	if got := strings.ReplaceAll(ansi.Strip(m.View().Content), "\n", " "); !strings.Contains(got, "at least 60×12") {
		t.Fatalf("tiny terminal view: %q", got)
	}
}

func TestQuit(t *testing.T) {
	m := newTestModel(80, 24)
	_, cmd := m.Update(keyPress("q"))
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q does not quit")
	}
}

// firstDiff names the first line where two screens differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, a, b)
		}
	}
	return "same lines"
}
