package kube

import (
	"context"
	"sort"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// UnhealthyTargets returns what deserves a diagnosis in namespace ("" for
// all): every pod that looks unhealthy, and every workload short of pods
// that has no pod to show for it (pods never created). A workload whose
// pods exist but fail is covered by those pods. Targets are sorted by
// namespace, kind and name; the caller ranks them by what the diagnosis
// finds.
func UnhealthyTargets(set *ObjectSet, namespace string) []Target {
	var out []Target
	for _, o := range set.List("Pod", namespace) {
		if p, ok := o.(*corev1.Pod); ok && len(diag.PodProblems(p)) > 0 {
			out = append(out, Target{Kind: "pod", Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	b := &factBuilder{set: set, f: &diag.Facts{}}
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"} {
		for _, o := range set.List(kind, namespace) {
			// ReplicaSets of Deployments and Jobs of CronJobs are reached
			// through their owner.
			if kind == "ReplicaSet" && controllerRef(o) != nil {
				continue
			}
			wl := asWorkload(o)
			pods := b.workloadPods(o, b.children(o))
			if len(diag.WorkloadProblems(&wl, len(pods))) == 0 || !missingPods(&wl, len(pods)) {
				continue
			}
			out = append(out, Target{Kind: targetKindOf(kind), Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// missingPods reports whether the workload has fewer pods than it wants.
func missingPods(wl *diag.Workload, pods int) bool {
	switch {
	case wl.Deployment != nil:
		return int32(pods) < replicasOf(wl.Deployment.Spec.Replicas)
	case wl.ReplicaSet != nil:
		return int32(pods) < replicasOf(wl.ReplicaSet.Spec.Replicas)
	case wl.StatefulSet != nil:
		return int32(pods) < replicasOf(wl.StatefulSet.Spec.Replicas)
	case wl.DaemonSet != nil:
		return int32(pods) < wl.DaemonSet.Status.DesiredNumberScheduled
	case wl.Job != nil:
		return pods == 0
	}
	return false
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func targetKindOf(apiKind string) string {
	for k, v := range targetKinds {
		if v == apiKind {
			return k
		}
	}
	return apiKind
}

// ListUnhealthy lists the pods and workloads of namespace ("" for all)
// from a live cluster and returns those UnhealthyTargets picks.
func ListUnhealthy(ctx context.Context, client kubernetes.Interface, namespace string) ([]Target, error) {
	set := NewObjectSet()
	set.Complete = true
	g := &gatherer{client: client, ns: namespace, set: set}
	eg, ctx := errgroup.WithContext(ctx)
	opts := metav1.ListOptions{}
	eg.Go(func() error {
		l, err := client.CoreV1().Pods(namespace).List(ctx, opts)
		if err != nil {
			return err // without pods there is nothing to say
		}
		for i := range l.Items {
			g.add(withKind(&l.Items[i], "v1", "Pod"))
		}
		return nil
	})
	eg.Go(func() error {
		l, err := client.AppsV1().Deployments(namespace).List(ctx, opts)
		if err == nil {
			for i := range l.Items {
				g.add(withKind(&l.Items[i], "apps/v1", "Deployment"))
			}
		}
		return nil
	})
	eg.Go(func() error {
		l, err := client.AppsV1().ReplicaSets(namespace).List(ctx, opts)
		if err == nil {
			for i := range l.Items {
				g.add(withKind(&l.Items[i], "apps/v1", "ReplicaSet"))
			}
		}
		return nil
	})
	eg.Go(func() error {
		l, err := client.AppsV1().StatefulSets(namespace).List(ctx, opts)
		if err == nil {
			for i := range l.Items {
				g.add(withKind(&l.Items[i], "apps/v1", "StatefulSet"))
			}
		}
		return nil
	})
	eg.Go(func() error {
		l, err := client.AppsV1().DaemonSets(namespace).List(ctx, opts)
		if err == nil {
			for i := range l.Items {
				g.add(withKind(&l.Items[i], "apps/v1", "DaemonSet"))
			}
		}
		return nil
	})
	eg.Go(func() error {
		l, err := client.BatchV1().Jobs(namespace).List(ctx, opts)
		if err == nil {
			for i := range l.Items {
				g.add(withKind(&l.Items[i], "batch/v1", "Job"))
			}
		}
		return nil
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return UnhealthyTargets(set, namespace), nil
}
