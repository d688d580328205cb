package action

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/kubectl/pkg/drain"
)

// mixedNode is node n1 carrying every kind of pod kubectl's drain filters
// tell apart, alone and combined: DaemonSet pods (of a live DaemonSet and
// of a deleted one), mirror (static) pods, emptyDir pods, bare pods,
// completed pods (Succeeded and Failed) and the combinations a real node
// has (a bare pod with emptyDir, a finished DaemonSet pod…). No pod is on
// another node: the fake clientset ignores kubectl's field selector.
func mixedNode() []runtime.Object {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7d4f9", UID: "rs-uid"}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "fluentd", UID: "ds-uid"}}
	goneDS := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "old-agent", UID: "old-uid"}} // not stored
	rsRef := *metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	dsRef := *metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
	goneRef := *metav1.NewControllerRef(goneDS, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
	emptyDir := func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes,
			corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	owned := func(ref metav1.OwnerReference) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{ref} }
	}
	mirror := func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "5f1c0e"} }
	phase := func(ph corev1.PodPhase) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.Phase = ph } }
	pod := func(ns, name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		}
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	return []runtime.Object{
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		rs, ds,
		pod("shop", "web-1", owned(rsRef)),
		pod("shop", "cache-0", owned(rsRef), emptyDir),
		pod("shop", "debug"),
		pod("shop", "scratchpad", emptyDir),
		pod("shop", "job-done", phase(corev1.PodSucceeded), emptyDir),
		pod("shop", "job-failed", owned(rsRef), phase(corev1.PodFailed)),
		pod("shop", "bare-failed", phase(corev1.PodFailed)),
		pod("kube-system", "fluentd-x", owned(dsRef)),
		pod("kube-system", "fluentd-buf", owned(dsRef), emptyDir),
		pod("kube-system", "fluentd-done", owned(dsRef), phase(corev1.PodSucceeded)),
		pod("kube-system", "old-agent-a", owned(goneRef)),
		pod("kube-system", "old-agent-b", owned(goneRef), emptyDir),
		pod("kube-system", "etcd-n1", mirror),
		pod("kube-system", "apiserver-n1", mirror, emptyDir),
	}
}

// kubectlView is what kubectl's GetPodsForDeletion decides, by category.
type kubectlView struct {
	deleted  []string
	errors   map[string][]string // filter message → pods
	warnings map[string][]string // filter message → pods
}

// splitGroups parses kubectl's "msg: a, b" groups (joined by sep, each
// prefixed by prefix) into message → sorted pods.
func splitGroups(t *testing.T, groups []string, prefix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, g := range groups {
		g = strings.TrimPrefix(g, prefix)
		i := strings.LastIndex(g, ": ")
		if i < 0 {
			t.Fatalf("kubectl message %q has no pod list", g)
		}
		pods := strings.Split(g[i+2:], ", ")
		slices.Sort(pods)
		out[g[:i]] = pods
	}
	return out
}

func kubectlDecides(t *testing.T, client *fake.Clientset, opts DrainOptions) kubectlView {
	t.Helper()
	h := &drain.Helper{Ctx: context.Background(), Client: client, Force: opts.Force, DeleteEmptyDirData: opts.DeleteEmptyDir, IgnoreAllDaemonSets: true}
	list, errs := h.GetPodsForDeletion("n1")
	if list == nil {
		t.Fatalf("kubectl listed nothing: %v", errs)
	}
	v := kubectlView{}
	for _, p := range list.Pods() {
		v.deleted = append(v.deleted, p.Namespace+"/"+p.Name)
	}
	slices.Sort(v.deleted)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	v.errors = splitGroups(t, msgs, "cannot delete ")
	if w := list.Warnings(); w != "" {
		v.warnings = splitGroups(t, strings.Split(w, "; "), "")
	} else {
		v.warnings = map[string][]string{}
	}
	return v
}

// kubectl's filter messages (k8s.io/kubectl/pkg/drain/filters.go).
const (
	kubectlLocalStorageFatal = "Pods with local storage (use --delete-emptydir-data to override)"
	kubectlUnmanagedFatal    = "Pods that declare no controller (use --force to override)"
	kubectlDaemonSetWarning  = "ignoring DaemonSet-managed Pods"
	kubectlUnmanagedWarning  = "deleting Pods that declare no controller"
)

// TestDrainPlanMatchesKubectlGetPodsForDeletion: for each combination of
// --delete-emptydir-data and --force (with --ignore-daemonsets, as kdoctor
// always drains), the plan evicts the pods kubectl would delete, is blocked
// by the pods kubectl refuses for the same reason, and lists the pods
// kubectl warns about.
func TestDrainPlanMatchesKubectlGetPodsForDeletion(t *testing.T) {
	for _, opts := range []DrainOptions{
		{},
		{DeleteEmptyDir: true},
		{Force: true},
		{DeleteEmptyDir: true, Force: true},
	} {
		t.Run(fmt.Sprintf("emptydir=%v,force=%v", opts.DeleteEmptyDir, opts.Force), func(t *testing.T) {
			client := fake.NewClientset(mixedNode()...)
			want := kubectlDecides(t, client, opts)
			plan, err := PlanDrain(context.Background(), client, "n1", opts)
			if plan == nil {
				t.Fatalf("no plan: %v", err)
			}
			if (err != nil) != (len(want.errors) > 0) {
				t.Errorf("plan error %v, kubectl errors %v", err, want.errors)
			}

			if got := podNames(plan.Evict); !slices.Equal(got, want.deleted) {
				t.Errorf("plan evicts %v\nkubectl deletes %v", got, want.deleted)
			}

			// Blocked: the same pods for the same reasons. Any other kubectl
			// error (a DaemonSet that is gone, without --force) is NeedOther.
			got := map[string][]string{}
			for _, b := range plan.Blocked {
				k := "other"
				switch b.Need {
				case NeedDeleteEmptyDir:
					k = kubectlLocalStorageFatal
				case NeedForce:
					k = kubectlUnmanagedFatal
				}
				got[k] = append(got[k], b.String())
			}
			wantBlocked := map[string][]string{}
			for msg, pods := range want.errors {
				k := msg
				if msg != kubectlLocalStorageFatal && msg != kubectlUnmanagedFatal {
					k = "other"
				}
				wantBlocked[k] = append(wantBlocked[k], pods...)
			}
			for _, m := range []map[string][]string{got, wantBlocked} {
				for k := range m {
					slices.Sort(m[k])
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(wantBlocked) {
				t.Errorf("plan blocked %v\nkubectl refuses %v", got, wantBlocked)
			}
			if len(plan.Blockers) == 0 != (len(want.errors) == 0) {
				t.Errorf("blockers %q for kubectl errors %v", plan.Blockers, want.errors)
			}

			// Warnings: kubectl keeps only its last filter's warning per pod
			// (DaemonSet pods ignored, bare pods deleted under --force); the
			// plan says the same with DaemonSet and the unmanaged pods it
			// evicts, and says more (emptyDir data lost) besides.
			var forced []string
			for _, p := range plan.Evict {
				if p.Unmanaged && !p.Finished {
					forced = append(forced, p.String())
				}
			}
			planWarns := map[string][]string{}
			if ds := podNames(plan.DaemonSet); len(ds) > 0 {
				planWarns[kubectlDaemonSetWarning] = ds
			}
			if len(forced) > 0 {
				planWarns[kubectlUnmanagedWarning] = forced
			}
			if fmt.Sprint(planWarns) != fmt.Sprint(want.warnings) {
				t.Errorf("plan warns %v\nkubectl warns %v", planWarns, want.warnings)
			}
		})
	}
}

// TestDrainPlanNamesTheEmptyDirVolumes: the data a drain deletes is named, so
// the dialog can say which volumes go.
func TestDrainPlanNamesTheEmptyDirVolumes(t *testing.T) {
	plan, _ := PlanDrain(context.Background(), fake.NewClientset(mixedNode()...), "n1", DrainOptions{DeleteEmptyDir: true, Force: true})
	for _, p := range plan.Evict {
		if p.Name == "cache-0" || p.Name == "scratchpad" {
			if !slices.Equal(p.EmptyDirVolumes, []string{"scratch"}) {
				t.Errorf("%s: emptyDir volumes %v, want [scratch] (not the configMap)", p, p.EmptyDirVolumes)
			}
		}
	}
}
