package ui

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// syntheticRows makes n pod rows spread over namespaces and deployments, one
// in ten failing, like a big real cluster.
func syntheticRows(n int) []kube.PodRow {
	rows := make([]kube.PodRow, n)
	for i := range rows {
		ns := fmt.Sprintf("team-%03d", i%200)
		wl := fmt.Sprintf("svc-%04d", i%5000)
		r := kube.PodRow{
			UID: types.UID(fmt.Sprintf("uid-%d", i)), Namespace: ns, Name: fmt.Sprintf("%s-5d9c7b6f4d-%05d", wl, i),
			WorkloadKind: "Deployment", WorkloadName: wl, Node: fmt.Sprintf("node-%03d", i%300),
			Status: "Running", Ready: 2, Total: 2, Created: testNow.Add(-time.Hour),
			Containers: []kube.ContainerRow{{Name: "app", Ready: true, State: "Running"}, {Name: "proxy", Ready: true, State: "Running"}},
		}
		if i%10 == 0 {
			r.Status, r.Health, r.Cause, r.Ready, r.Restarts = "CrashLoopBackOff", kube.Failing, "OOMKilled ×6", 1, 6
		}
		rows[i] = r
	}
	return rows
}

func bigTree(b *testing.B, n int) PodTree {
	t := NewPodTree()
	t.SetSize(160, 46)
	t.Apply(kube.Batch{Pods: syntheticRows(n)})
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
				t.Apply(kube.Batch{Pods: upd})
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
			m.tree.Apply(kube.Batch{Pods: syntheticRows(n)})
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}
