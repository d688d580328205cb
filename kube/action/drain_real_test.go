package action_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// drainNode creates a Ready node with a ReplicaSet's pods on it.
func (e *realEnv) drainNode(t *testing.T, ctx context.Context, node string, pods ...string) *metav1.OwnerReference {
	t.Helper()
	if _, err := e.srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	rs, err := e.srv.Client().AppsV1().ReplicaSets(realNS).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: node + "-rs"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"rs": node}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"rs": node}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	for _, name := range pods {
		if err := e.createPod(ctx, node, name, func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*owner} }, "app"); err != nil {
			t.Fatal(err)
		}
	}
	return owner
}

// agentDaemonSet creates the DaemonSet "agent" (a node agent, as drains
// meet on every node) and returns the reference its pods point at.
func (e *realEnv) agentDaemonSet(t *testing.T, ctx context.Context) *metav1.OwnerReference {
	t.Helper()
	ds, err := e.srv.Client().AppsV1().DaemonSets(realNS).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"ds": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"ds": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "example/agent"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
}

func (e *realEnv) podsOn(t *testing.T, ctx context.Context, node string) []string {
	t.Helper()
	list, err := e.srv.Client().CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	slices.Sort(out)
	return out
}

func (e *realEnv) testDrainPlan(t *testing.T) {
	ctx := kubetest.Timeout(t, 60*time.Second)
	a := e.actions(t, rwUser, false)
	const node = "plan-node"
	owner := e.drainNode(t, ctx, node, "web-a")
	dsRef := e.agentDaemonSet(t, ctx)
	for _, p := range []struct {
		name   string
		mutate func(*corev1.Pod)
	}{
		{"agent-x", func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*dsRef} }},
		{"scratch", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
			p.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}},
		{"bare", nil},
	} {
		if err := e.createPod(ctx, node, p.name, p.mutate, "app"); err != nil {
			t.Fatal(err)
		}
	}

	plan, err := a.PlanDrain(ctx, node, action.DrainOptions{})
	var blocked *action.DrainBlockedError
	if !errors.As(err, &blocked) || len(blocked.Blockers) != 2 {
		t.Fatalf("plan without options: %v, want blocked by emptyDir and the unmanaged pod", err)
	}
	names := func(pods []action.DrainPod) string {
		var s []string
		for _, p := range pods {
			s = append(s, p.Name)
		}
		return strings.Join(s, ",")
	}
	if names(plan.Evict) != "web-a" || names(plan.DaemonSet) != "agent-x" || names(plan.EmptyDir) != "scratch" || names(plan.Unmanaged) != "bare" || plan.Cordoned {
		t.Errorf("plan: evict %s, daemonset %s, emptyDir %s, unmanaged %s, cordoned %v",
			names(plan.Evict), names(plan.DaemonSet), names(plan.EmptyDir), names(plan.Unmanaged), plan.Cordoned)
	}
	// A blocked drain changes nothing, not even the cordon.
	if _, err := a.Drain(ctx, plan, action.DrainOptions{}, nil); !errors.As(err, &blocked) {
		t.Errorf("drain with blockers: %v", err)
	}
	if n, _ := e.srv.Client().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); n.Spec.Unschedulable {
		t.Error("a blocked drain cordoned the node")
	}

	// With both options the drain goes through, leaving the DaemonSet pod.
	opts := action.DrainOptions{DeleteEmptyDir: true, Force: true, Timeout: 30 * time.Second}
	plan, err = a.PlanDrain(ctx, node, opts)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var steps []action.DrainProgress
	started := time.Now()
	sum, err := a.Drain(ctx, plan, opts, func(p action.DrainProgress) {
		mu.Lock()
		steps = append(steps, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	t.Logf("drained 3 pods in %v: %s", time.Since(started).Round(time.Millisecond), sum)
	slices.Sort(sum.Evicted)
	if !slices.Equal(sum.Evicted, []string{"actions/bare", "actions/scratch", "actions/web-a"}) || len(sum.Failed) != 0 ||
		len(sum.Skipped) != 1 || sum.Skipped[0].Pod != "actions/agent-x" || !sum.Cordoned {
		t.Errorf("summary = %+v", sum)
	}
	if got := e.podsOn(t, ctx, node); !slices.Equal(got, []string{"actions/agent-x"}) {
		t.Errorf("pods left on the node: %v, want only the DaemonSet's", got)
	}
	count := map[action.DrainStep]int{}
	for _, s := range steps {
		count[s.Step]++
	}
	if count[action.DrainCordoned] != 1 || count[action.DrainSkipping] != 1 || count[action.DrainEvicting] != 3 || count[action.DrainEvicted] != 3 || count[action.DrainFinished] != 1 {
		t.Errorf("progress steps = %v", count)
	}
}

func (e *realEnv) testDrainBlockedByPDB(t *testing.T) {
	ctx := kubetest.Timeout(t, 60*time.Second)
	a := e.actions(t, rwUser, false)
	const node = "pdb-node"
	e.drainNode(t, ctx, node, "free", "guarded")
	pdbs := e.srv.Client().PolicyV1().PodDisruptionBudgets(realNS)
	minAvailable := intstr.FromInt32(1)
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded-pdb"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &minAvailable,
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No disruption controller runs here: the harness plays its part.
	setAllowed := func(n int32) {
		pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: n, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1}
		if pdb, err = pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setAllowed(0)

	opts := action.DrainOptions{Timeout: 3 * time.Second, RetryDelay: 300 * time.Millisecond}
	plan, err := a.PlanDrain(ctx, node, opts)
	if err != nil {
		t.Fatal(err)
	}
	if nh := plan.NoHeadroom(); len(nh) != 1 || nh[0].Name != "guarded-pdb" || !slices.Equal(nh[0].Pods, []string{"actions/guarded"}) {
		t.Errorf("plan PDBs without headroom = %+v", nh)
	}

	// The timeout ends the drain cleanly, the refusals shown as they came.
	var mu sync.Mutex
	var steps []action.DrainProgress
	record := func(p action.DrainProgress) {
		mu.Lock()
		steps = append(steps, p)
		mu.Unlock()
	}
	started := time.Now()
	sum, err := a.Drain(ctx, plan, opts, record)
	took := time.Since(started)
	if !errors.Is(err, context.DeadlineExceeded) || !sum.TimedOut {
		t.Fatalf("drain against a PDB without headroom: %v (%+v), want a timeout", err, sum)
	}
	if took > opts.Timeout+opts.RetryDelay+2*time.Second {
		t.Errorf("a %v timeout took %v", opts.Timeout, took)
	}
	if !slices.Equal(sum.Evicted, []string{"actions/free"}) || len(sum.Failed) != 1 || sum.Failed[0].Pod != "actions/guarded" ||
		!strings.HasPrefix(sum.Failed[0].Reason, "eviction blocked by PodDisruptionBudget guarded-pdb") {
		t.Errorf("summary = %+v", sum)
	}
	retries := 0
	for _, s := range steps {
		if s.Step == action.DrainRetrying {
			retries++
			if s.Pod != "actions/guarded" || s.PDB != "guarded-pdb" || s.Message != "eviction of actions/guarded blocked by PodDisruptionBudget guarded-pdb, retrying in 300ms" {
				t.Errorf("retry step = %+v", s)
			}
		}
	}
	if retries < 3 {
		t.Errorf("%d retries shown in %v with a %v delay", retries, took, opts.RetryDelay)
	}
	if last := steps[len(steps)-1]; last.Step != action.DrainFinished || !strings.HasPrefix(last.Message, "drain of node pdb-node timed out after") {
		t.Errorf("last step = %+v", last)
	}
	t.Logf("timed out drain: %d retries shown, %v: %s", retries, took.Round(time.Millisecond), sum)

	// Cancelling ends it as cleanly, within one retry delay.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.Timeout = 0
	started = time.Now()
	var cancelledAt time.Time
	sum, err = a.Drain(cctx, plan, opts, func(p action.DrainProgress) {
		if p.Step == action.DrainRetrying && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || !sum.Cancelled || len(sum.Failed) != 1 {
		t.Fatalf("cancelled drain: %v (%+v)", err, sum)
	}
	if lag := time.Since(cancelledAt); lag > opts.RetryDelay+2*time.Second {
		t.Errorf("drain returned %v after the cancel", lag)
	}

	// Once the budget allows a disruption, the drain completes.
	setAllowed(1)
	plan, err = a.PlanDrain(ctx, node, opts)
	if err != nil || len(plan.NoHeadroom()) != 0 {
		t.Fatalf("plan: %v, no headroom %+v", err, plan.NoHeadroom())
	}
	opts.Timeout = 20 * time.Second
	sum, err = a.Drain(ctx, plan, opts, nil)
	if err != nil || !slices.Equal(sum.Evicted, []string{"actions/guarded"}) {
		t.Errorf("drain with headroom: %v, %+v", err, sum)
	}
	if left := e.podsOn(t, ctx, node); len(left) != 0 {
		t.Errorf("pods left: %v", left)
	}
}
