package ui

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// syntheticRows makes n pod rows spread over namespaces and deployments, one
// in ten failing, like a big real cluster.
func syntheticRows(n int) []live.PodRow {
	rows := make([]live.PodRow, n)
	for i := range rows {
		ns := fmt.Sprintf("team-%03d", i%200)
		wl := fmt.Sprintf("svc-%04d", i%5000)
		r := live.PodRow{
			UID: types.UID(fmt.Sprintf("uid-%d", i)), Namespace: ns, Name: fmt.Sprintf("%s-5d9c7b6f4d-%05d", wl, i),
			WorkloadKind: "Deployment", WorkloadName: wl, Node: fmt.Sprintf("node-%03d", i%300),
			Status: "Running", Ready: 2, Total: 2, Created: testNow.Add(-time.Hour),
			Containers: []live.ContainerRow{{Name: "app", Ready: true, State: "Running"}, {Name: "proxy", Ready: true, State: "Running"}},
		}
		if i%10 == 0 {
			r.Status, r.Health, r.Cause, r.Ready, r.Restarts = "CrashLoopBackOff", live.Failing, "OOMKilled ×6", 1, 6
		}
		rows[i] = r
	}
	return rows
}

func bigTree(b *testing.B, n int) PodTree {
	t := NewPodTree()
	t.SetSize(160, 46)
	t.Apply(live.Batch{Pods: syntheticRows(n)})
	return t
}

func BenchmarkTreeApplyBatch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t := bigTree(b, n)
			upd := syntheticRows(100)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				upd[i%100].Restarts++
				t.Apply(live.Batch{Pods: upd})
			}
		})
	}
}

func BenchmarkTreeView(b *testing.B) {
	st := themes.Build(themes.Palette{Name: "dark", Fg: "#D0D0D0", Accent: "#5FAFFF", Muted: "#7A7A7A"})
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t := bigTree(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = t.View(st, testNow)
			}
		})
	}
}

func BenchmarkTreeFilter(b *testing.B) {
	t := bigTree(b, 100_000)
	queries := []string{"s", "sv", "svc", "svc-", "svc-1", "svc-12", "svc-123", "svc-1234"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.SetFilter(queries[i%len(queries)])
	}
}

// benchSource is a Source for benchmarks that never touch the cluster.
type benchSource struct{}

func (benchSource) Client() k8s.Interface { return nil }
func (benchSource) Info() kube.SourceInfo {
	return kube.SourceInfo{Context: "bench", Server: "https://127.0.0.1:6443"}
}
func (benchSource) PodLogs(context.Context, string, string, *corev1.PodLogOptions) (io.ReadCloser, error) {
	return nil, io.EOF
}

// BenchmarkModelView is the whole screen the program renders after every
// message: header (with the health counts), tree window, status and help.
// Its cost must not grow with the number of pods.
func BenchmarkModelView(b *testing.B) {
	st := themes.Build(themes.Palette{Name: "dark", Fg: "#D0D0D0", Accent: "#5FAFFF", Muted: "#7A7A7A"})
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := New(Options{Source: benchSource{}, Styles: st, ThemeFixed: true, Now: func() time.Time { return testNow }})
			next, _ := m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
			m = next.(Model)
			m.tree.Apply(live.Batch{Pods: syntheticRows(n)})
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// The tests below check the incremental paths the benchmarks above measure
// (in-place line updates, kept counts, the line cache) against what a full
// rebuild shows.

func treeText(t *PodTree) string {
	st := themes.Build(themes.Palette{Name: "mono"})
	return ansi.Strip(t.View(st, testNow))
}

func row(p *corev1.Pod) live.PodRow { return live.NewPodRow(p) }

func TestTreeInPlaceUpdates(t *testing.T) {
	tr := NewPodTree()
	tr.SetSize(160, 20)
	tr.Apply(live.Batch{Pods: []live.PodRow{
		row(testPod("shop", "web", "web-1", 0, "", "", 0)),
		row(testPod("shop", "web", "web-2", 0, "", "", 0)),
		row(testPod("shop", "api", "api-1", 3, "CrashLoopBackOff", "Error", 1)),
	}})
	if got := tr.Counts(); got != [4]int{live.Healthy: 2, live.Failing: 1} {
		t.Fatalf("counts %v", got)
	}
	before := treeText(&tr)

	// A restart count changes nothing but the row: shown at once, same order.
	tr.Apply(live.Batch{Pods: []live.PodRow{row(testPod("shop", "web", "web-2", 0, "", "", 0))}})
	upd := row(testPod("shop", "api", "api-1", 4, "CrashLoopBackOff", "Error", 1))
	tr.Apply(live.Batch{Pods: []live.PodRow{upd}})
	after := treeText(&tr)
	if after == before || !strings.Contains(after, "api-1") {
		t.Fatalf("restart count not shown:\n%s", after)
	}
	fresh := NewPodTree()
	fresh.SetSize(160, 20)
	fresh.Apply(live.Batch{Pods: []live.PodRow{
		row(testPod("shop", "web", "web-1", 0, "", "", 0)),
		row(testPod("shop", "web", "web-2", 0, "", "", 0)),
		upd,
	}})
	if want := treeText(&fresh); after != want {
		t.Fatalf("in-place update differs from a rebuild:\n%s\nwant:\n%s", after, want)
	}

	// A health change moves the pod: failing first.
	tr.Apply(live.Batch{Pods: []live.PodRow{row(testPod("shop", "web", "web-2", 1, "CrashLoopBackOff", "OOMKilled", 137))}})
	txt := treeText(&tr)
	if strings.Index(txt, "web-2") > strings.Index(txt, "web-1") {
		t.Fatalf("failing web-2 not above healthy web-1:\n%s", txt)
	}
	if got := tr.Counts(); got != [4]int{live.Healthy: 1, live.Failing: 2} {
		t.Fatalf("counts after a health change %v", got)
	}
	tr.Apply(live.Batch{DeletedPods: []types.UID{"shop/web-1"}})
	if got := tr.Counts(); got != [4]int{live.Failing: 2} {
		t.Fatalf("counts after a deletion %v", got)
	}
}

func TestTreeInPlaceUpdateOfOpenPodAndFilter(t *testing.T) {
	tr := NewPodTree()
	tr.SetSize(160, 20)
	tr.Apply(live.Batch{Pods: []live.PodRow{row(testPod("shop", "web", "web-1", 0, "", "", 0)), row(testPod("shop", "web", "web-2", 0, "", "", 0))}})
	tr.Select("shop", "web-1")
	tr.SetOpen(true)
	// The container's state is on its own line: it must follow too.
	p := testPod("shop", "web", "web-1", 0, "", "", 0)
	p.Status.ContainerStatuses[1].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	tr.Apply(live.Batch{Pods: []live.PodRow{row(p)}})
	if txt := treeText(&tr); !strings.Contains(txt, "Waiting: ContainerCreating") {
		t.Fatalf("open pod's container line not updated:\n%s", txt)
	}

	// Under a filter, an update that keeps the match shows at once, and one
	// that loses it hides the pod.
	tr.SetFilter("worker")
	q := testPod("shop", "web", "web-2", 0, "", "", 0)
	q.Spec.NodeName = "worker-9"
	tr.Apply(live.Batch{Pods: []live.PodRow{row(q)}})
	if txt := treeText(&tr); !strings.Contains(txt, "worker-9") {
		t.Fatalf("filtered pod's update not shown:\n%s", txt)
	}
	q.Spec.NodeName = "edge-3"
	tr.Apply(live.Batch{Pods: []live.PodRow{row(q)}})
	if txt := treeText(&tr); strings.Contains(txt, "web-2") {
		t.Fatalf("pod that no longer matches the filter still shown:\n%s", txt)
	}
}

func TestTreeLineCacheFollowsStylesAndWidth(t *testing.T) {
	tr := NewPodTree()
	tr.SetSize(160, 20)
	tr.Apply(live.Batch{Pods: []live.PodRow{row(testPod("shop", "web", "web-1", 0, "", "", 0))}})
	dark := themes.Build(themes.Palette{Name: "dark", Fg: "#D0D0D0", Accent: "#5FAFFF", Muted: "#7A7A7A"})
	mono := themes.Build(themes.Palette{Name: "mono"})
	a := tr.View(dark, testNow)
	if b := tr.View(mono, testNow); a == b {
		t.Fatal("a new theme did not restyle the cached lines")
	}
	wide := ansi.Strip(tr.View(mono, testNow))
	tr.SetSize(100, 20)
	if narrow := ansi.Strip(tr.View(mono, testNow)); narrow == wide {
		t.Fatal("a new width did not relayout the cached lines")
	}
	fresh := NewPodTree()
	fresh.SetSize(100, 20)
	fresh.Apply(live.Batch{Pods: []live.PodRow{row(testPod("shop", "web", "web-1", 0, "", "", 0))}})
	if got, want := tr.View(mono, testNow), fresh.View(mono, testNow); got != want {
		t.Fatalf("cached view differs from a fresh one:\n%s\nwant:\n%s", got, want)
	}
}

// syntheticUsage is a metrics.k8s.io sample for every row.
func syntheticUsage(rows []live.PodRow) map[types.NamespacedName]*usage.Pod {
	out := make(map[types.NamespacedName]*usage.Pod, len(rows))
	for i, r := range rows {
		out[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}] = &usage.Pod{Window: 15 * time.Second, Containers: []usage.Container{
			{Name: "app", CPUMilli: int64(i % 900), MemoryBytes: int64(i%500) << 20}, {Name: "proxy", CPUMilli: 5, MemoryBytes: 12 << 20}}}
	}
	return out
}

// BenchmarkTreeSetUsage is what each usage poll costs the tree: pointing
// every pod at its sample and summing workloads and namespaces again.
func BenchmarkTreeSetUsage(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			t := bigTree(b, n)
			sample := syntheticUsage(syntheticRows(n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t.SetUsage(sample, true)
			}
		})
	}
}

// BenchmarkTreeViewUsage is a frame with the usage columns shown.
func BenchmarkTreeViewUsage(b *testing.B) {
	st := themes.Build(themes.Palette{Name: "dark", Fg: "#D0D0D0", Accent: "#5FAFFF", Muted: "#7A7A7A"})
	t := bigTree(b, 100_000)
	t.SetUsage(syntheticUsage(syntheticRows(100_000)), true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = t.View(st, testNow)
	}
}
