package action_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestDrainOptionsAgainstRealAPIServer: a node like most real ones — a
// DaemonSet's pod, a ReplicaSet's pods (one with an emptyDir volume), a bare
// pod, a bare pod with an emptyDir volume and a completed pod — cannot be
// drained without options; each option lifts the blockers it names; with
// both (and a grace period and timeout from the dialog's choices) the drain
// empties the node but for the DaemonSet's pod. The real kube-apiserver
// carries out the evictions; the fake kubelet confirms them.
func TestDrainOptionsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	e := &realEnv{srv: srv, dir: t.TempDir()}
	ctx := kubetest.Timeout(t, 90*time.Second)
	c := srv.Client()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: realNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const node = "options-node"
	owner := e.drainNode(t, ctx, node, "web-a")
	dsRef := e.agentDaemonSet(t, ctx)
	scratch := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	for _, p := range []struct {
		name   string
		mutate func(*corev1.Pod)
	}{
		{"agent-x", func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*dsRef} }},
		{"cache", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
			p.Spec.Volumes = []corev1.Volume{scratch}
		}},
		{"bare", nil},
		{"bare-scratch", func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{scratch} }},
		{"done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }},
	} {
		if err := e.createPod(ctx, node, p.name, p.mutate, "app"); err != nil {
			t.Fatal(err)
		}
	}
	a := e.actions(t, "", false)
	all := e.podsOn(t, ctx, node)

	needs := func(plan *action.DrainPlan) map[string]action.DrainNeed {
		out := map[string]action.DrainNeed{}
		for _, b := range plan.Blocked {
			out[b.Name] = b.Need
		}
		return out
	}
	cases := []struct {
		opts    action.DrainOptions
		blocked map[string]action.DrainNeed
	}{
		{action.DrainOptions{}, map[string]action.DrainNeed{"cache": action.NeedDeleteEmptyDir, "bare": action.NeedForce, "bare-scratch": action.NeedDeleteEmptyDir}},
		{action.DrainOptions{DeleteEmptyDir: true}, map[string]action.DrainNeed{"bare": action.NeedForce, "bare-scratch": action.NeedForce}},
		{action.DrainOptions{Force: true}, map[string]action.DrainNeed{"cache": action.NeedDeleteEmptyDir, "bare-scratch": action.NeedDeleteEmptyDir}},
	}
	for _, tc := range cases {
		plan, err := a.PlanDrain(ctx, node, tc.opts)
		var blocked *action.DrainBlockedError
		if !errors.As(err, &blocked) {
			t.Fatalf("%+v: plan %v, want blocked", tc.opts, err)
		}
		if got := needs(plan); !mapsEqual(got, tc.blocked) {
			t.Errorf("%+v: blocked %v, want %v", tc.opts, got, tc.blocked)
		}
		// A blocked drain changes nothing, not even the cordon.
		if _, err := a.Drain(ctx, plan, tc.opts, nil); !errors.As(err, &blocked) {
			t.Errorf("%+v: drain %v, want blocked", tc.opts, err)
		}
		if n, _ := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); n.Spec.Unschedulable {
			t.Fatalf("%+v: a blocked drain cordoned the node", tc.opts)
		}
		if got := e.podsOn(t, ctx, node); !slices.Equal(got, all) {
			t.Fatalf("%+v: a blocked drain removed pods: %v left of %v", tc.opts, got, all)
		}
	}

	opts := action.DrainOptions{DeleteEmptyDir: true, Force: true, GracePeriod: 30 * time.Second, Timeout: 2 * time.Minute}
	plan, err := a.PlanDrain(ctx, node, opts)
	if err != nil {
		t.Fatalf("plan with both options: %v", err)
	}
	var lost []string
	for _, p := range plan.Evict {
		if p.EmptyDir && !p.Finished {
			lost = append(lost, p.Name+":"+p.EmptyDirVolumes[0])
		}
	}
	if !slices.Equal(lost, []string{"bare-scratch:scratch", "cache:scratch"}) {
		t.Errorf("emptyDir data lost = %v", lost)
	}
	started := time.Now()
	sum, err := a.Drain(ctx, plan, opts, nil)
	took := time.Since(started)
	if err != nil {
		t.Fatalf("drain with both options: %v (%s)", err, sum)
	}
	t.Logf("drain with --delete-emptydir-data --force --grace-period=30 of 5 pods (1 DaemonSet pod skipped): %v wall time; %s", took.Round(time.Millisecond), sum)
	slices.Sort(sum.Evicted)
	want := []string{"actions/bare", "actions/bare-scratch", "actions/cache", "actions/done", "actions/web-a"}
	if !slices.Equal(sum.Evicted, want) || len(sum.Failed) != 0 || !sum.Cordoned {
		t.Errorf("summary %+v, want evicted %v", sum, want)
	}
	if got := e.podsOn(t, ctx, node); !slices.Equal(got, []string{"actions/agent-x"}) {
		t.Errorf("pods left on the node: %v, want only the DaemonSet's", got)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
