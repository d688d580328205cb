package facts

import (
	"context"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// UnhealthyTargets returns what deserves a diagnosis in namespace ("" for
// all): every pod that looks unhealthy, every workload short of pods that
// has no pod to show for it (pods never created), every failed Job, and
// every CronJob whose latest run failed or whose runs do not start. A
// workload whose pods exist but fail is covered by those pods; a failed
// Job covers its pods instead (its diagnosis names the failing pod), and a
// CronJob covers the Job it examines. Targets are sorted by namespace,
// kind and name; the caller ranks them by what the diagnosis finds.
func UnhealthyTargets(set *ObjectSet, namespace string) []diag.Target {
	return UnhealthyTargetsAt(set, namespace, time.Now())
}

// UnhealthyTargetsAt is UnhealthyTargets judging CronJob schedules at now
// (an offline dump's own time).
func UnhealthyTargetsAt(set *ObjectSet, namespace string, now time.Time) []diag.Target {
	var out []diag.Target
	b := &factBuilder{set: set, f: &diag.Facts{}}
	// covered are the Jobs whose pods a Job or CronJob target reaches.
	covered := map[types.UID]bool{}
	for _, o := range set.List("CronJob", namespace) {
		cj, ok := o.(*batchv1.CronJob)
		if !ok {
			continue
		}
		jobs := b.children(o)
		if !cronJobUnhealthy(b, cj, jobs, now) {
			continue
		}
		if len(jobs) > 0 && jobs[0].Job != nil {
			covered[jobs[0].Job.UID] = true
		}
		out = append(out, diag.Target{Kind: "cronjob", Namespace: o.GetNamespace(), Name: o.GetName()})
	}
	for _, o := range set.List("Job", namespace) {
		j, ok := o.(*batchv1.Job)
		if !ok {
			continue
		}
		if ref := controllerRef(o); ref != nil && ref.Kind == "CronJob" {
			continue // reached through its CronJob
		}
		wl := asWorkload(o)
		pods := b.workloadPods(o, nil)
		if diag.JobFailed(j) || (len(diag.WorkloadProblems(&wl, len(pods))) > 0 && missingPods(&wl, len(pods))) {
			covered[j.UID] = true
			out = append(out, diag.Target{Kind: "job", Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	for _, o := range set.List("Pod", namespace) {
		p, ok := o.(*corev1.Pod)
		if !ok || len(diag.PodProblems(p)) == 0 {
			continue
		}
		if ref := controllerRef(o); ref != nil && ref.Kind == "Job" && covered[ref.UID] {
			continue
		}
		out = append(out, diag.Target{Kind: "pod", Namespace: o.GetNamespace(), Name: o.GetName()})
	}
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"} {
		for _, o := range set.List(kind, namespace) {
			// ReplicaSets of Deployments are reached through their owner.
			if kind == "ReplicaSet" && controllerRef(o) != nil {
				continue
			}
			wl := asWorkload(o)
			pods := b.workloadPods(o, b.children(o))
			if len(diag.WorkloadProblems(&wl, len(pods))) == 0 || !missingPods(&wl, len(pods)) {
				continue
			}
			out = append(out, diag.Target{Kind: targetKindOf(kind), Namespace: o.GetNamespace(), Name: o.GetName()})
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

// cronJobUnhealthy reports whether a CronJob deserves a diagnosis: its
// newest Job failed, or its runs do not start on schedule.
func cronJobUnhealthy(b *factBuilder, cj *batchv1.CronJob, jobs []diag.Workload, now time.Time) bool {
	var newest *batchv1.Job
	for _, j := range jobs {
		if j.Job != nil && (newest == nil || newest.CreationTimestamp.Before(&j.Job.CreationTimestamp)) {
			newest = j.Job
		}
	}
	if newest != nil {
		if diag.JobFailed(newest) {
			return true
		}
		// A run whose pods were never created (FailedCreate: quota,
		// admission) shows only on its Job.
		wl := asWorkload(newest)
		if pods := len(b.workloadPods(newest, nil)); len(diag.WorkloadProblems(&wl, pods)) > 0 && missingPods(&wl, pods) {
			return true
		}
	}
	var activeSince time.Time
	for _, a := range cj.Status.Active {
		for _, j := range jobs {
			// By name: unique in the namespace, and what status.active is
			// read by everywhere else (a restored or copied object's UIDs
			// may be stale).
			if j.Job != nil && j.Job.Name == a.Name {
				t := j.Job.CreationTimestamp.Time
				if j.Job.Status.StartTime != nil {
					t = j.Job.Status.StartTime.Time
				}
				if activeSince.IsZero() || t.Before(activeSince) {
					activeSince = t
				}
			}
		}
	}
	return diag.CronJobLate(cj, activeSince, now) != ""
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

// Selector narrows what ListUnhealthy lists, as kubectl's -l and
// --field-selector do: Label applies to pods and workloads (their own
// labels); Field to pods only (spec.nodeName=…, status.phase!=Running), and
// with it only pods are listed.
type Selector struct {
	Label, Field string
}

// ListUnhealthy lists the pods and workloads of a namespace ("" for all) in
// pages of 500 (client-go's pager, as kubectl's --chunk-size), and returns
// those that need a diagnosis. A workload kind the user may not list is
// recorded as unknown, not taken as absent; without pods there is nothing
// to say, so their error is returned.
func ListUnhealthy(ctx context.Context, client kubernetes.Interface, namespace string, sel Selector) ([]diag.Target, error) {
	set := NewObjectSet()
	set.Complete = true
	g := &gatherer{client: client, ns: namespace, set: set}
	eg, ctx := errgroup.WithContext(ctx)
	list := func(kind, apiVersion string, pods bool, fn func(context.Context, metav1.ListOptions) (runtime.Object, error)) {
		if !pods && sel.Field != "" {
			// A field selector picks pods: the workloads' other pods are not
			// listed, so a workload would look as if its pods were missing.
			return
		}
		eg.Go(func() error {
			opts := metav1.ListOptions{LabelSelector: sel.Label}
			if pods {
				opts.FieldSelector = sel.Field
			}
			p := pager.New(pager.SimplePageFunc(func(opts metav1.ListOptions) (runtime.Object, error) { return fn(ctx, opts) }))
			p.PageSize = 500
			err := p.EachListItemWithAlloc(ctx, opts, func(obj runtime.Object) error {
				if o, ok := obj.(Object); ok {
					g.add(withKind(o, apiVersion, kind))
				}
				return nil
			})
			if err != nil && pods {
				return err
			}
			g.unknown(kind, namespace, err)
			return nil
		})
	}
	list("Pod", "v1", true, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.CoreV1().Pods(namespace).List(ctx, o)
	})
	list("Deployment", "apps/v1", false, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.AppsV1().Deployments(namespace).List(ctx, o)
	})
	list("ReplicaSet", "apps/v1", false, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.AppsV1().ReplicaSets(namespace).List(ctx, o)
	})
	list("StatefulSet", "apps/v1", false, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.AppsV1().StatefulSets(namespace).List(ctx, o)
	})
	list("DaemonSet", "apps/v1", false, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.AppsV1().DaemonSets(namespace).List(ctx, o)
	})
	list("CronJob", "batch/v1", false, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.BatchV1().CronJobs(namespace).List(ctx, o)
	})
	list("Job", "batch/v1", false, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return client.BatchV1().Jobs(namespace).List(ctx, o)
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return UnhealthyTargetsAt(set, namespace, time.Now()), nil
}
