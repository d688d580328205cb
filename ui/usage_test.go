package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// TestUsageColumnsToggle: m shows the usage columns from the demo's
// metrics.k8s.io at both sizes, every line within the width, and m hides
// them again.
func TestUsageColumnsToggle(t *testing.T) {
	for _, size := range [][2]int{{160, 40}, {80, 24}} {
		r := startProgram(t, newDemo(t), size[0], size[1])
		r.waitLive()
		r.keys("m")
		m := r.until("the usage columns", func(m Model) bool {
			s := screen(m)
			return m.tree.usageShown() && strings.Contains(s, "CPU") && strings.Contains(s, "Mi ")
		})
		for i, l := range strings.Split(screen(m), "\n") {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Errorf("%dx%d: line %d is %d cells wide: %q", size[0], size[1], i, w, l)
			}
		}
		if size[0] >= 150 && !strings.Contains(screen(m), "%R") {
			t.Errorf("a wide screen shows no %% of request:\n%s", screen(m))
		}
		r.keys("m")
		r.until("the columns hidden", func(m Model) bool {
			return !m.tree.showUsage && !strings.Contains(strings.SplitN(screen(m), "\n", 4)[2], "CPU")
		})
	}
}

// noMetrics is a source whose cluster does not serve metrics.k8s.io.
type noMetrics struct{ kube.Source }

// TestUsageAbsentSaysSoOnce: on a cluster without metrics.k8s.io, m says
// why in one line and the tree stays as it was; nothing is polled.
func TestUsageAbsentSaysSoOnce(t *testing.T) {
	r := startProgram(t, noMetrics{newDemo(t)}, 120, 30)
	r.waitLive()
	before := screen(r.until("the tree", func(m Model) bool { return m.tree.Len() > 0 }))
	r.keys("m")
	m := r.until("the reason", func(m Model) bool { return strings.Contains(m.status, usage.NotServed) })
	if m.usage.on || m.tree.showUsage {
		t.Fatal("the columns stayed on without metrics")
	}
	if head := strings.SplitN(screen(m), "\n", 4)[2]; strings.Contains(head, "CPU") {
		t.Errorf("usage header shown without metrics: %q (before: %q)", head, strings.SplitN(before, "\n", 4)[2])
	}
}

// TestUsageColumnsAgainstRealAPIServer reads usage through the real API
// server's aggregation layer: the pod's cells show its sample against its
// limits, and the next poll follows a change.
func TestUsageColumnsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 2*time.Minute)
	kubetest.CreateNamespace(t, srv, "search")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "query-api", Namespace: "search", Labels: map[string]string{"app": "query-api"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "example/query-api",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			}}}},
	}
	created, err := srv.Client().CoreV1().Pods("search").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}}
	if _, err := srv.Client().CoreV1().Pods("search").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := srv.ServeMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPod(ctx, srv, "search", "query-api", map[string]corev1.ResourceList{"app": {
		corev1.ResourceCPU: resource.MustParse("212837442n"), corev1.ResourceMemory: resource.MustParse("498344Ki")}}); err != nil {
		t.Fatal(err)
	}
	src := kubetest.ConnectAs(t, srv, "", "")
	r := startProgramWith(t, Options{Source: src, Ctx: context.Background()}, 160, 30)
	r.waitLive()
	selectPod(r, "query-api")
	r.keys("m")
	line := func(m Model) string {
		for _, l := range strings.Split(screen(m), "\n") {
			if strings.Contains(l, "query-api") && strings.Contains(l, "Running") {
				return l
			}
		}
		return ""
	}
	got := r.until("the pod's usage", func(m Model) bool { return strings.Contains(line(m), "486Mi") })
	// 213m (kubectl top rounds nanocores up) of a 250m request and a 1 CPU limit; 486Mi of 512Mi both ways.
	for _, want := range []string{"213m", "85%", "21%", "486Mi", "95%"} {
		if !strings.Contains(line(got), want) {
			t.Errorf("pod line lacks %q: %q", want, line(got))
		}
	}
	if n := m.Requests(); n == 0 {
		t.Error("the metrics server saw no request")
	}
}

// TestUsageCellsWarnNearTheLimit: from 90% of a limit a cell takes the
// warning style, in every layout; below it, and without a limit, it does not.
func TestUsageCellsWarnNearTheLimit(t *testing.T) {
	st := themes.Default(true)
	base := st.App
	near := usageCells{shown: true, cpuMilli: 100, memBytes: 470 << 20, cpuLim: 1000, memLim: 512 << 20}
	for _, u := range []usageLayout{usageNarrow, usageLimits, usageFull} {
		out := u.render(st, near, base)
		if want := st.Health[live.Warning].Render(pad("470Mi", usageMemWidth)); !strings.Contains(out, want) {
			t.Errorf("layout %d: memory at 91%% of its limit is not in the warning style: %q", u, out)
		}
		if warn := st.Health[live.Warning].Render(pad("100m", usageCPUWidth)); strings.Contains(out, warn) {
			t.Errorf("layout %d: CPU at 10%% of its limit warns: %q", u, out)
		}
		if got := ansi.StringWidth(out); got != u.width() {
			t.Errorf("layout %d: %d cells, want %d", u, got, u.width())
		}
	}
	noLimit := usageCells{shown: true, cpuMilli: 5000, memBytes: 8 << 30}
	if out := usageFull.render(st, noLimit, base); strings.Contains(out, st.Health[live.Warning].Render(pad("5000m", usageCPUWidth))) {
		t.Errorf("usage without a limit warns: %q", out)
	}
}
