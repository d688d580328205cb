package action

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/kubectl/pkg/drain"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// drainFixture is a node n1 with one pod of each kind a drain treats
// differently, and a pod on another node that must not show up.
func drainFixture() []runtime.Object {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7d4f9", UID: "rs-uid"}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "fluentd", UID: "ds-uid"}}
	rsRef := *metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	dsRef := *metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
	pod := func(ns, name, node string, mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	return []runtime.Object{
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		rs, ds,
		pod("shop", "web-1", "n1", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{rsRef}
			p.Labels["app"] = "web"
		}),
		pod("kube-system", "fluentd-x", "n1", func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{dsRef} }),
		pod("kube-system", "etcd-n1", "n1", func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "abc"}
		}),
		pod("shop", "cache-0", "n1", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{rsRef}
			p.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}),
		pod("shop", "debug", "n1", nil),
		pod("shop", "job-done", "n1", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-pdb"},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0},
		},
		&policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nothing-pdb"},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "none"}}},
		},
	}
}

func podNames(pods []DrainPod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.String())
	}
	return out
}

func TestPlanDrainClassifiesPods(t *testing.T) {
	ctx := context.Background()
	objs := append(drainFixture(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "elsewhere"},
		Spec:       corev1.PodSpec{NodeName: "n2"},
	})
	client := fake.NewClientset(objs...)

	plan, err := PlanDrain(ctx, client, "n1", DrainOptions{})
	var blocked *DrainBlockedError
	if !errors.As(err, &blocked) || plan == nil {
		t.Fatalf("plan without options: err %v, want a *DrainBlockedError and the plan", err)
	}
	if len(blocked.Blockers) != 2 ||
		!strings.Contains(blocked.Blockers[0], "1 pod uses emptyDir volumes") || !strings.Contains(blocked.Blockers[0], "shop/cache-0") ||
		!strings.Contains(blocked.Blockers[1], "1 pod has no controller") || !strings.Contains(blocked.Blockers[1], "shop/debug") {
		t.Errorf("blockers = %q", blocked.Blockers)
	}
	checks := []struct {
		what string
		got  []DrainPod
		want []string
	}{
		{"evict", plan.Evict, []string{"shop/job-done", "shop/web-1"}},
		{"daemonset", plan.DaemonSet, []string{"kube-system/fluentd-x"}},
		{"mirror", plan.Mirror, []string{"kube-system/etcd-n1"}},
		{"emptydir", plan.EmptyDir, []string{"shop/cache-0"}},
		{"unmanaged", plan.Unmanaged, []string{"shop/debug"}},
	}
	for _, c := range checks {
		if got := podNames(c.got); !slices.Equal(got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, got, c.want)
		}
	}
	if len(plan.PDBs) != 1 || plan.PDBs[0].Name != "web-pdb" || !plan.PDBs[0].NoHeadroom() || !slices.Equal(plan.PDBs[0].Pods, []string{"shop/web-1"}) {
		t.Errorf("PDBs = %+v, want web-pdb without headroom covering shop/web-1", plan.PDBs)
	}
	if len(plan.NoHeadroom()) != 1 || plan.Evict[1].Owner != "ReplicaSet/web-7d4f9" || !slices.Equal(plan.Evict[1].PDBs, []string{"web-pdb"}) {
		t.Errorf("web-1 = %+v", plan.Evict[1])
	}

	opts := DrainOptions{DeleteEmptyDir: true, Force: true}
	plan, err = PlanDrain(ctx, client, "n1", opts)
	if err != nil {
		t.Fatalf("plan with both options: %v", err)
	}
	if got := podNames(plan.Evict); !slices.Equal(got, []string{"shop/cache-0", "shop/debug", "shop/job-done", "shop/web-1"}) {
		t.Errorf("evict with both options = %v", got)
	}
	if len(plan.EmptyDir) != 1 || len(plan.Unmanaged) != 1 {
		t.Errorf("the plan still lists what the options allow: emptyDir %v unmanaged %v", podNames(plan.EmptyDir), podNames(plan.Unmanaged))
	}
}

// The plan must agree with kubectl's own drain filters about what goes.
func TestPlanDrainAgreesWithKubectl(t *testing.T) {
	for _, opts := range []DrainOptions{{DeleteEmptyDir: true, Force: true}, {DeleteEmptyDir: true}, {}} {
		client := fake.NewClientset(drainFixture()...)
		plan, planErr := PlanDrain(context.Background(), client, "n1", opts)
		h := &drain.Helper{Ctx: context.Background(), Client: client, Force: opts.Force, DeleteEmptyDirData: opts.DeleteEmptyDir, IgnoreAllDaemonSets: true}
		list, errs := h.GetPodsForDeletion("n1")
		if (planErr != nil) != (len(errs) > 0) {
			t.Errorf("%+v: plan error %v, kubectl errors %v", opts, planErr, errs)
			continue
		}
		if len(errs) > 0 {
			continue
		}
		var kubectl []string
		for _, p := range list.Pods() {
			kubectl = append(kubectl, p.Namespace+"/"+p.Name)
		}
		slices.Sort(kubectl)
		if got := podNames(plan.Evict); !slices.Equal(got, kubectl) {
			t.Errorf("%+v: plan evicts %v, kubectl %v", opts, got, kubectl)
		}
	}
}

func TestPlanDrainOfAMissingNode(t *testing.T) {
	_, err := PlanDrain(context.Background(), fake.NewClientset(), "gone", DrainOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(kube.Explain(err), "node gone: it no longer exists") {
		t.Errorf("err = %v (%q), want a NotFound that says the node is gone", err, kube.Explain(err))
	}
}

// evictingClientset is a fake clientset that advertises the eviction API
// and carries evictions out at once, as a cluster without PDBs would.
func evictingClientset(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	client.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "pods"}, {Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1"},
	}}}
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		return true, nil, client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ev.Namespace, ev.Name)
	})
	return client
}

func TestRunDrainReportsEveryStep(t *testing.T) {
	ctx := context.Background()
	client := evictingClientset(drainFixture()...)
	opts := DrainOptions{DeleteEmptyDir: true, Force: true, Timeout: 20 * time.Second}
	plan, err := PlanDrain(ctx, client, "n1", opts)
	if err != nil {
		t.Fatal(err)
	}
	var steps []DrainProgress
	sum, err := RunDrain(ctx, client, plan, opts, func(p DrainProgress) { steps = append(steps, p) })
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	count := map[DrainStep]int{}
	for _, s := range steps {
		count[s.Step]++
		if s.Message == "" {
			t.Errorf("step %v without a message", s.Step)
		}
	}
	if steps[0].Step != DrainCordoned || steps[0].Message != "node n1 cordoned" {
		t.Errorf("first step = %+v, want the cordon", steps[0])
	}
	if count[DrainSkipping] != 2 || count[DrainEvicting] != 4 || count[DrainEvicted] != 4 || count[DrainFinished] != 1 {
		t.Errorf("steps = %v", count)
	}
	if last := steps[len(steps)-1]; last.Step != DrainFinished || !strings.HasPrefix(last.Message, "node n1 drained in") {
		t.Errorf("last step = %+v", last)
	}
	slices.Sort(sum.Evicted)
	if !sum.Cordoned || len(sum.Failed) != 0 || len(sum.Skipped) != 2 ||
		!slices.Equal(sum.Evicted, []string{"shop/cache-0", "shop/debug", "shop/job-done", "shop/web-1"}) {
		t.Errorf("summary = %+v", sum)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Errorf("node after drain: unschedulable %v, err %v", n.Spec.Unschedulable, err)
	}
}

func TestRunDrainBlockedChangesNothing(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(drainFixture()...)
	plan, _ := PlanDrain(ctx, client, "n1", DrainOptions{})
	var steps []DrainProgress
	_, err := RunDrain(ctx, client, plan, DrainOptions{}, func(p DrainProgress) { steps = append(steps, p) })
	var blocked *DrainBlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("err = %v, want blocked", err)
	}
	if len(steps) != 1 || steps[0].Step != DrainFinished || !strings.Contains(steps[0].Message, "not started") {
		t.Errorf("steps = %+v, want one saying the drain did not start", steps)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("a blocked drain changed something: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestDrainTrackerWordsKubectlMessages(t *testing.T) {
	var got []DrainProgress
	tr := &drainTracker{
		progress: func(p DrainProgress) { got = append(got, p) },
		pods:     map[string]*podTrack{},
		pdbs:     map[string][]string{"shop/web-1": {"web-pdb"}},
	}
	w := &lineWriter{line: tr.message}
	// kubectl writes these, sometimes in pieces.
	for _, part := range []string{
		`evicting pod shop/web-1` + "\n" + `error when evicting pods/"web-1" -n "shop" (will retry after 5s): `,
		"Cannot evict pod as it would violate the pod's disruption budget.\n",
		`error when evicting pods/"api-0" -n "shop" (will retry after 5s): Too many requests, please try again later.` + "\n",
		"something else\n",
	} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	want := []DrainProgress{
		{Step: DrainRetrying, Pod: "shop/web-1", PDB: "web-pdb", RetryIn: 5 * time.Second, Message: "eviction of shop/web-1 blocked by PodDisruptionBudget web-pdb, retrying in 5s"},
		{Step: DrainRetrying, Pod: "shop/api-0", RetryIn: 5 * time.Second, Message: "eviction of shop/api-0 refused for now (Too many requests, please try again later.), retrying in 5s"},
		{Step: DrainNote, Message: "something else"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("progress:\n got %+v\nwant %+v", got, want)
	}
	reason := tr.failureReason(tr.pods["shop/web-1"], "shop/web-1", nil, DrainSummary{TimedOut: true})
	if reason != "eviction blocked by PodDisruptionBudget web-pdb (1 tries); the drain timed out" {
		t.Errorf("failure reason = %q", reason)
	}
}

func TestCordonAndUncordon(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	steps := []struct {
		do      func(context.Context, *fake.Clientset) (NodeResult, error)
		changed bool
		msg     string
	}{
		{func(ctx context.Context, c *fake.Clientset) (NodeResult, error) { return Cordon(ctx, c, "n1") }, true, "node n1 cordoned"},
		{func(ctx context.Context, c *fake.Clientset) (NodeResult, error) { return Cordon(ctx, c, "n1") }, false, "node n1 was already cordoned"},
		{func(ctx context.Context, c *fake.Clientset) (NodeResult, error) { return Uncordon(ctx, c, "n1") }, true, "node n1 uncordoned"},
		{func(ctx context.Context, c *fake.Clientset) (NodeResult, error) { return Uncordon(ctx, c, "n1") }, false, "node n1 was not cordoned: nothing to do"},
	}
	for i, s := range steps {
		res, err := s.do(ctx, client)
		if err != nil || res.Changed != s.changed || res.Message != s.msg {
			t.Errorf("step %d: %+v, %v; want changed %v %q", i, res, err, s.changed, s.msg)
		}
		n, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if n.Spec.Unschedulable != res.Unschedulable {
			t.Errorf("step %d: result says unschedulable=%v, node has %v", i, res.Unschedulable, n.Spec.Unschedulable)
		}
	}
	_, err := Cordon(ctx, client, "n9")
	if !apierrors.IsNotFound(err) || kube.Explain(err) != "cannot cordon node n9: it no longer exists (deleted meanwhile?)" {
		t.Errorf("cordon of a deleted node: %v / %q", err, kube.Explain(err))
	}
}
