package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestDrainDialogOptionsAgainstRealAPIServer: a node carrying a
// ReplicaSet's pod with an emptyDir volume and a bare pod cannot be drained
// as the dialog first plans it; turning on delete emptyDir data and force
// in the dialog re-plans until it may start, and the drain it starts
// evicts both pods through the real kube-apiserver.
func TestDrainDialogOptionsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 90*time.Second)
	c := srv.Client()
	const ns, node = "drain-ui", "drain-ui-node"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cache-5c8d7"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cache"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/cache"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name  string
		owner bool
	}{{"cache-5c8d7-x2x9q", true}, {"debug-shell", false}} {
		now := metav1.Now()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns, Labels: map[string]string{"app": p.name}},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "example/cache"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "example/cache", Ready: true, ContainerID: "containerd://" + p.name,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}},
		}
		if p.owner {
			pod.Labels["app"] = "cache"
			pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
			pod.Spec.Volumes = []corev1.Volume{{Name: "warm-cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}
		status := pod.Status
		created, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = status
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	src := kubetest.ConnectAs(t, srv, "", "")
	r := startProgramWith(t, Options{Source: src}, 100, 30)
	r.waitLive()
	selectPod(r, "cache-5c8d7")
	r.keys("r")
	planned := func(what string, ok func(*drainChoice) bool) Model {
		t.Helper()
		return r.until(what, func(m Model) bool {
			d := m.dlg.drain
			return m.focus == focusDialog && d != nil && !d.planning && d.plan != nil && ok(d)
		})
	}
	m := planned("the blocked plan", func(d *drainChoice) bool { return len(d.plan.Blocked) == 2 })
	if s := screen(m); !strings.Contains(s, ns+"/cache-5c8d7-x2x9q: warm-cache") || !strings.Contains(s, ns+"/debug-shell") {
		t.Errorf("blocked dialog:\n%s", s)
	}
	r.typeText(node)
	r.keys("space")
	planned("emptyDir allowed", func(d *drainChoice) bool {
		return d.plan.Options.DeleteEmptyDir && len(d.plan.Blocked) == 1 && len(d.plan.Evict) == 1
	})
	r.keys("tab", "space")
	planned("force allowed", func(d *drainChoice) bool { return d.plan.Options.Force && len(d.plan.Evict) == 2 })
	// A grace period typed on its row; enter there sets it, and with
	// nothing typed, starts the drain.
	r.keys("tab")
	r.typeText("45")
	r.keys("enter")
	m = planned("grace period 45s", func(d *drainChoice) bool {
		return d.plan.Options.GracePeriod == 45*time.Second && d.plan.Options.Force && d.graceInput.Value() == ""
	})
	if !m.dlg.ready() || m.dlg.input.Value() != node {
		t.Fatalf("not ready (typed %q):\n%s", m.dlg.input.Value(), screen(m))
	}
	if s := screen(m); !strings.Contains(s, "emptyDir data lost (1):") || !strings.Contains(s, "+1 evicted") {
		t.Errorf("ready dialog:\n%s", s)
	}
	// The evictions carry the grace period: the API server marks each pod
	// terminating with it before the fake kubelet confirms the deletion.
	w, err := c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	started := time.Now()
	r.keys("enter")
	m = r.until("the drain's end", func(m Model) bool { return paneKindOf(m) == paneDrain && m.drain == nil && m.status != "" })
	took := time.Since(started)
	if !strings.Contains(m.status, "node "+node+" drained") || !strings.Contains(m.status, "2 evicted") {
		t.Fatalf("status after the drain: %q", m.status)
	}
	t.Logf("drain from the dialog (enter to summary on screen): %v; %s", took.Round(time.Millisecond), m.status)
	graces := map[string]int64{}
	for len(graces) < 2 {
		select {
		case ev := <-w.ResultChan():
			if p, ok := ev.Object.(*corev1.Pod); ok && p.DeletionGracePeriodSeconds != nil {
				if _, seen := graces[p.Name]; !seen {
					graces[p.Name] = *p.DeletionGracePeriodSeconds
				}
			}
		case <-ctx.Done():
			t.Fatalf("saw the deletion of %v only", graces)
		}
	}
	if graces["cache-5c8d7-x2x9q"] != 45 || graces["debug-shell"] != 45 {
		t.Errorf("grace periods of the evictions: %v, want 45s each", graces)
	}
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == node {
			t.Errorf("pod %s still on the node", p.Name)
		}
	}
}
