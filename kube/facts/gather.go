package facts

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kdoctor-dev/kdoctor/diag"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
)

// GatherOptions tunes Gather.
type GatherOptions struct {
	// Now is the diagnosis clock; zero means time.Now().
	Now time.Time
	// TailLines and LimitBytes bound each log read (default 100 lines, 64 KiB).
	TailLines, LimitBytes int64
	// Parallel bounds concurrent requests (default 8).
	Parallel int
	// Logs opens a container log; nil reads through the client's pods/log.
	// The demo passes its kube.Source PodLogs, whose fake clientset has no logs.
	Logs func(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
	// Metrics reads the pod's usage from metrics.k8s.io; nil skips it
	// (kube.MetricsOf gives a source's).
	Metrics usage.Client
}

// nodeEventsKind marks node events in an ObjectSet's unknown kinds: they
// are listed apart from the namespace's events and may fail on their own.
const nodeEventsKind = "Event/Node"

// Gather fetches the facts about target from a live cluster with as few
// requests as it can, independent ones concurrently: the target (and for
// a workload its ReplicaSets and pods), then its owners, the events of
// each involved object by UID, the node and its events, the log tails,
// and the objects the pod references. A piece that is forbidden or fails
// becomes an unknown fact with the reason; only the target itself being
// unreadable is an error.
func Gather(ctx context.Context, client kubernetes.Interface, target diag.Target, opts GatherOptions) (diag.Facts, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.TailLines == 0 {
		opts.TailLines = 100
	}
	if opts.LimitBytes == 0 {
		opts.LimitBytes = 64 << 10
	}
	if opts.Parallel == 0 {
		opts.Parallel = 8
	}
	g := &gatherer{client: client, ns: target.Namespace, opts: opts, set: NewObjectSet()}
	g.set.Complete, g.set.LogsComplete = true, true

	if err := g.target(ctx, target); err != nil {
		return diag.Facts{Target: target, Now: opts.Now}, err
	}
	pod := g.pod(target)
	// Owners, events, node, logs and references do not depend on each
	// other: fetch them together.
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(opts.Parallel)
	g.owners(ectx, eg, g.set.Get(APIKind(target.Kind), target.Namespace, target.Name))
	if pod != nil {
		g.owners(ectx, eg, pod)
		g.podPieces(ectx, eg, pod)
	}
	g.namespacePieces(ectx, eg, target)
	_ = eg.Wait() // every piece records its own failure
	g.eventsOfOwners(ctx)
	if target.Kind == "pod" {
		g.stalledRollout(ctx)
	}
	return BuildFacts(g.set, target, opts.Now)
}

type gatherer struct {
	client kubernetes.Interface
	ns     string
	opts   GatherOptions

	mu  sync.Mutex
	set *ObjectSet
}

func (g *gatherer) add(objs ...Object) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.set.Add(objs...)
}

// unknown records a failed lookup: anything but "not found" makes the
// kind unknown, since absence was not established.
func (g *gatherer) unknown(kind, ns string, err error) {
	if err == nil || apierrors.IsNotFound(err) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.set.MarkUnknown(kind, ns, kube.FailureReason(err))
}

// target fetches the target; for a workload also its ReplicaSets and pods,
// which decide the pod to examine.
func (g *gatherer) target(ctx context.Context, t diag.Target) error {
	obj, err := g.get(ctx, APIKind(t.Kind), t.Namespace, t.Name)
	if apierrors.IsNotFound(err) {
		return &NotFoundError{Target: t}
	}
	if err != nil {
		return err
	}
	g.add(obj)
	if t.Kind == "pod" {
		return nil
	}
	if t.Kind == "cronjob" {
		// A CronJob's pods are those of the Job it examines: list its Jobs
		// (they carry the job template's labels, not a selector of the
		// CronJob's, so ownership decides), then that Job's pods.
		list, err := g.client.BatchV1().Jobs(t.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			g.unknown("Job", t.Namespace, err)
			return nil
		}
		for i := range list.Items {
			if ownedBy(&list.Items[i], obj) {
				g.add(withKind(&list.Items[i], "batch/v1", "Job"))
			}
		}
		b := &factBuilder{set: g.set, f: &diag.Facts{}}
		children := b.children(obj)
		if len(children) == 0 || children[0].Job == nil {
			return nil
		}
		obj = children[0].Job
	}
	selector := workloadSelector(obj)
	eg, ectx := errgroup.WithContext(ctx)
	if t.Kind == "deployment" {
		eg.Go(func() error {
			list, err := g.client.AppsV1().ReplicaSets(t.Namespace).List(ectx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				g.unknown("ReplicaSet", t.Namespace, err)
				return nil
			}
			for i := range list.Items {
				if ownedBy(&list.Items[i], obj) {
					g.add(withKind(&list.Items[i], "apps/v1", "ReplicaSet"))
				}
			}
			return nil
		})
	}
	eg.Go(func() error {
		list, err := g.client.CoreV1().Pods(t.Namespace).List(ectx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			g.unknown("Pod", t.Namespace, err)
			return nil
		}
		for i := range list.Items {
			g.add(withKind(&list.Items[i], "v1", "Pod"))
		}
		return nil
	})
	return eg.Wait()
}

// pod returns the pod the facts will examine: the target pod, or the
// workload's worst pod.
func (g *gatherer) pod(t diag.Target) *corev1.Pod {
	if t.Kind == "pod" {
		p, _ := g.set.Get("Pod", t.Namespace, t.Name).(*corev1.Pod)
		return p
	}
	obj := g.set.Get(APIKind(t.Kind), t.Namespace, t.Name)
	b := &factBuilder{set: g.set, f: &diag.Facts{}}
	pods := b.workloadPods(obj, b.children(obj))
	if p := diag.WorstPod(pods); p != nil {
		return g.set.Get("Pod", p.Namespace, p.Name).(*corev1.Pod)
	}
	return nil
}

// owners follows o's controller references, one Get per link.
func (g *gatherer) owners(ctx context.Context, eg *errgroup.Group, o Object) {
	if o == nil {
		return
	}
	eg.Go(func() error {
		for range 5 {
			ref := controllerRef(o)
			if ref == nil {
				return nil
			}
			g.mu.Lock()
			known := g.set.ByUID(ref.UID)
			g.mu.Unlock()
			if known != nil {
				o = known
				continue
			}
			owner, err := g.get(ctx, ref.Kind, o.GetNamespace(), ref.Name)
			if err != nil {
				g.unknown(ref.Kind, o.GetNamespace(), err)
				return nil
			}
			g.add(owner)
			o = owner
		}
		return nil
	})
}

// get fetches one object of a kind kdoctor follows.
func (g *gatherer) get(ctx context.Context, kind, ns, name string) (Object, error) {
	opts := metav1.GetOptions{}
	switch kind {
	case "Pod":
		o, err := g.client.CoreV1().Pods(ns).Get(ctx, name, opts)
		return withKind(o, "v1", kind), err
	case "ReplicaSet":
		o, err := g.client.AppsV1().ReplicaSets(ns).Get(ctx, name, opts)
		return withKind(o, "apps/v1", kind), err
	case "Deployment":
		o, err := g.client.AppsV1().Deployments(ns).Get(ctx, name, opts)
		return withKind(o, "apps/v1", kind), err
	case "StatefulSet":
		o, err := g.client.AppsV1().StatefulSets(ns).Get(ctx, name, opts)
		return withKind(o, "apps/v1", kind), err
	case "DaemonSet":
		o, err := g.client.AppsV1().DaemonSets(ns).Get(ctx, name, opts)
		return withKind(o, "apps/v1", kind), err
	case "Job":
		o, err := g.client.BatchV1().Jobs(ns).Get(ctx, name, opts)
		return withKind(o, "batch/v1", kind), err
	case "CronJob":
		o, err := g.client.BatchV1().CronJobs(ns).Get(ctx, name, opts)
		return withKind(o, "batch/v1", kind), err
	}
	return nil, fmt.Errorf("kind %s is not followed", kind)
}

// withKind sets the TypeMeta typed clients leave empty; a nil object
// stays nil.
func withKind(o Object, apiVersion, kind string) Object {
	if o == nil || reflect.ValueOf(o).IsNil() {
		return nil
	}
	o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	return o
}

// usage reads the pod's sample from metrics.k8s.io, the step `kubectl top
// pod` adds to describe. A cluster without the API, or a metrics-server
// that is down, makes usage unknown (never an error); a pod the API has no
// sample for is NotFound.
func (g *gatherer) usage(ctx context.Context, eg *errgroup.Group, pod *corev1.Pod) {
	if g.opts.Metrics == nil {
		g.mu.Lock()
		g.set.MarkUnknown("PodMetrics", pod.Namespace, "metrics.k8s.io was not read")
		g.mu.Unlock()
		return
	}
	if pod.Spec.NodeName == "" {
		return // nothing runs, nothing to measure
	}
	eg.Go(func() error {
		pm, err := usage.GetPod(ctx, g.opts.Metrics, pod.Namespace, pod.Name)
		switch {
		case err == nil:
			g.add(pm)
		case apierrors.IsNotFound(err):
		default:
			g.mu.Lock()
			g.set.MarkUnknown("PodMetrics", pod.Namespace, err.Error())
			g.mu.Unlock()
		}
		return nil
	})
}

// podPieces fetches what hangs off the pod: its events, node, node events,
// log tails and referenced objects.
func (g *gatherer) podPieces(ctx context.Context, eg *errgroup.Group, pod *corev1.Pod) {
	g.events(ctx, eg, pod.Namespace, pod.UID)
	g.usage(ctx, eg, pod)
	if node := pod.Spec.NodeName; node != "" {
		eg.Go(func() error {
			n, err := g.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				g.unknown("Node", "", err)
				return nil
			}
			g.add(withKind(n, "v1", "Node"))
			return nil
		})
		eg.Go(func() error {
			sel := fields.Set{"involvedObject.kind": "Node", "involvedObject.name": node}.String()
			list, err := g.client.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel})
			if apierrors.IsForbidden(err) {
				// The kubelet records node events in the default namespace.
				list, err = g.client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: sel})
			}
			if err != nil {
				g.unknown(nodeEventsKind, "", err)
				return nil
			}
			g.addEvents(list.Items)
			return nil
		})
	} else {
		eg.Go(func() error {
			list, err := g.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				g.unknown("Node", "", err)
				return nil
			}
			for i := range list.Items {
				g.add(withKind(&list.Items[i], "v1", "Node"))
			}
			return nil
		})
	}
	g.logs(ctx, eg, pod)
	refs := diag.References(&pod.Spec)
	for _, name := range refs.ConfigMaps {
		eg.Go(func() error {
			o, err := g.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
			g.record("ConfigMap", pod.Namespace, withKind(o, "v1", "ConfigMap"), err)
			return nil
		})
	}
	for _, name := range refs.Secrets {
		eg.Go(func() error {
			o, err := g.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
			g.record("Secret", pod.Namespace, withKind(o, "v1", "Secret"), err)
			return nil
		})
	}
	for _, name := range refs.PVCs {
		eg.Go(func() error {
			o, err := g.client.CoreV1().PersistentVolumeClaims(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
			g.record("PersistentVolumeClaim", pod.Namespace, withKind(o, "v1", "PersistentVolumeClaim"), err)
			if err != nil {
				return nil
			}
			// The claim's own events say why it stays Pending
			// (ProvisioningFailed, WaitForFirstConsumer). Listed here, not
			// in a new goroutine: the group may be at its limit.
			sel := fields.OneTermEqualSelector("involvedObject.uid", string(o.UID)).String()
			list, err := g.client.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				g.unknown("Event", pod.Namespace, err)
				return nil
			}
			g.addEvents(list.Items)
			return nil
		})
	}
	eg.Go(func() error {
		o, err := g.client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, refs.ServiceAccount, metav1.GetOptions{})
		g.record("ServiceAccount", pod.Namespace, withKind(o, "v1", "ServiceAccount"), err)
		return nil
	})
}

func (g *gatherer) record(kind, ns string, o Object, err error) {
	if err != nil {
		g.unknown(kind, ns, err)
		return
	}
	g.add(o)
}

// events lists the events of one object by UID.
func (g *gatherer) events(ctx context.Context, eg *errgroup.Group, ns string, uid types.UID) {
	eg.Go(func() error {
		sel := fields.OneTermEqualSelector("involvedObject.uid", string(uid)).String()
		list, err := g.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			g.unknown("Event", ns, err)
			return nil
		}
		g.addEvents(list.Items)
		return nil
	})
}

func (g *gatherer) addEvents(evs []corev1.Event) {
	for i := range evs {
		g.add(withKind(&evs[i], "v1", "Event"))
	}
}

// eventsOfOwners lists the events of the target workload, its owners and
// children once they are known.
func (g *gatherer) eventsOfOwners(ctx context.Context) {
	// Collect first: the event lists add to the set while they run.
	type owner struct {
		ns  string
		uid types.UID
	}
	var owners []owner
	seen := map[types.UID]bool{}
	for _, kind := range []string{"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"} {
		for _, o := range g.set.List(kind, g.ns) {
			if uid := o.GetUID(); uid != "" && !seen[uid] {
				seen[uid] = true
				owners = append(owners, owner{o.GetNamespace(), uid})
			}
		}
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(g.opts.Parallel)
	for _, o := range owners {
		g.events(ectx, eg, o.ns, o.uid)
	}
	_ = eg.Wait()
}

// stalledRollout fetches, for a pod whose Deployment has stopped
// progressing, the Deployment's ReplicaSets and pods: the pod holding the
// rollout up is named in the pod's diagnosis (diag.RolloutFacts). Two
// lists, only for a stalled rollout.
func (g *gatherer) stalledRollout(ctx context.Context) {
	for _, o := range g.set.List("Deployment", g.ns) {
		d, ok := o.(*appsv1.Deployment)
		if !ok || !DeploymentStalled(d) {
			continue
		}
		selector := workloadSelector(d)
		rss, err := g.client.AppsV1().ReplicaSets(g.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			g.unknown("ReplicaSet", g.ns, err)
			return
		}
		for i := range rss.Items {
			if ownedBy(&rss.Items[i], d) {
				g.add(withKind(&rss.Items[i], "apps/v1", "ReplicaSet"))
			}
		}
		pods, err := g.client.CoreV1().Pods(g.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			g.unknown("Pod", g.ns, err)
			return
		}
		for i := range pods.Items {
			g.add(withKind(&pods.Items[i], "v1", "Pod"))
		}
	}
}

// logs reads the tails the facts will hold: the current log of every
// container that started, the previous one of every container that
// terminated before.
func (g *gatherer) logs(ctx context.Context, eg *errgroup.Group, pod *corev1.Pod) {
	read := func(container string, previous bool) {
		eg.Go(func() error {
			key := LogKey{Namespace: pod.Namespace, Pod: pod.Name, Container: container, Previous: previous}
			data, err := g.readLog(ctx, pod, &corev1.PodLogOptions{
				Container: container, Previous: previous, TailLines: &g.opts.TailLines, LimitBytes: &g.opts.LimitBytes,
			})
			g.mu.Lock()
			defer g.mu.Unlock()
			if err != nil {
				g.set.LogErrors[key] = kube.FailureReason(err)
				return nil
			}
			g.set.Logs[key] = data
			return nil
		})
	}
	for _, ss := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, st := range ss {
			if st.State.Running != nil || st.State.Terminated != nil {
				read(st.Name, false)
			}
			if st.LastTerminationState.Terminated != nil || st.RestartCount > 0 {
				read(st.Name, true)
			}
		}
	}
}

func (g *gatherer) readLog(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions) ([]byte, error) {
	open := g.opts.Logs
	if open == nil {
		// Stream, not DoRaw: DoRaw replaces the kubelet's own words
		// ("previous terminated container … not found") with a generic error.
		open = func(ctx context.Context, ns, name string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
			return g.client.CoreV1().Pods(ns).GetLogs(name, o).Stream(ctx)
		}
	}
	rc, err := open(ctx, pod.Namespace, pod.Name, opts)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, *opts.LimitBytes+1))
}

// namespacePieces fetches the namespace-level facts: quotas, limit ranges
// and the Services selecting the pods, with their endpoints.
func (g *gatherer) namespacePieces(ctx context.Context, eg *errgroup.Group, t diag.Target) {
	ns := t.Namespace
	eg.Go(func() error {
		list, err := g.client.CoreV1().ResourceQuotas(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			g.unknown("ResourceQuota", ns, err)
			return nil
		}
		for i := range list.Items {
			g.add(withKind(&list.Items[i], "v1", "ResourceQuota"))
		}
		return nil
	})
	eg.Go(func() error {
		list, err := g.client.CoreV1().LimitRanges(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			g.unknown("LimitRange", ns, err)
			return nil
		}
		for i := range list.Items {
			g.add(withKind(&list.Items[i], "v1", "LimitRange"))
		}
		return nil
	})
	eg.Go(func() error {
		list, err := g.client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			g.unknown("Service", ns, err)
			return nil
		}
		podLabels := g.podLabels(t)
		for i := range list.Items {
			svc := &list.Items[i]
			g.add(withKind(svc, "v1", "Service"))
			if len(svc.Spec.Selector) == 0 || len(podLabels) == 0 ||
				!labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
				continue
			}
			ep, err := g.endpoints(ctx, ns, svc.Name)
			g.record("Endpoints", ns, ep, err)
		}
		return nil
	})
}

func (g *gatherer) podLabels(t diag.Target) map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	obj := g.set.Get(APIKind(t.Kind), t.Namespace, t.Name)
	if p, ok := obj.(*corev1.Pod); ok {
		return p.Labels
	}
	if obj == nil {
		return nil
	}
	wl := asWorkload(obj)
	if tmpl := wl.PodTemplate(); tmpl != nil {
		return tmpl.Labels
	}
	return nil
}

// endpoints reads a Service's endpoints from its EndpointSlices, or from
// the v1 Endpoints object where there are no slices (clusters without the
// slice controllers). The v1 read asks for no deprecation warning.
func (g *gatherer) endpoints(ctx context.Context, ns, svc string) (Object, error) {
	slices, err := g.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{discoveryv1.LabelServiceName: svc}.String(),
	})
	if err == nil && len(slices.Items) > 0 {
		return endpointsFromSlices(svc, ns, slices.Items), nil
	}
	ep := &corev1.Endpoints{}
	if rc, ok := g.client.CoreV1().RESTClient().(*rest.RESTClient); ok && rc != nil {
		err = rc.Get().Namespace(ns).Resource("endpoints").Name(svc).WarningHandler(rest.NoWarnings{}).Do(ctx).Into(ep)
	} else {
		ep, err = g.client.CoreV1().Endpoints(ns).Get(ctx, svc, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	return withKind(ep, "v1", "Endpoints"), nil
}

// endpointsFromSlices folds EndpointSlices into the Endpoints form the
// engine reads: ready addresses and not-ready addresses.
func endpointsFromSlices(svc, ns string, slices []discoveryv1.EndpointSlice) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc, Namespace: ns}}
	var subset corev1.EndpointSubset
	for _, s := range slices {
		for _, e := range s.Endpoints {
			for _, addr := range e.Addresses {
				a := corev1.EndpointAddress{IP: addr, TargetRef: e.TargetRef, NodeName: e.NodeName}
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					subset.Addresses = append(subset.Addresses, a)
				} else {
					subset.NotReadyAddresses = append(subset.NotReadyAddresses, a)
				}
			}
		}
	}
	if len(subset.Addresses)+len(subset.NotReadyAddresses) > 0 {
		ep.Subsets = []corev1.EndpointSubset{subset}
	}
	withKind(ep, "v1", "Endpoints")
	return ep
}

// workloadSelector returns the label selector of a workload's pods.
func workloadSelector(o Object) string {
	wl := asWorkload(o)
	var sel *metav1.LabelSelector
	switch {
	case wl.Deployment != nil:
		sel = wl.Deployment.Spec.Selector
	case wl.ReplicaSet != nil:
		sel = wl.ReplicaSet.Spec.Selector
	case wl.StatefulSet != nil:
		sel = wl.StatefulSet.Spec.Selector
	case wl.DaemonSet != nil:
		sel = wl.DaemonSet.Spec.Selector
	case wl.Job != nil:
		sel = wl.Job.Spec.Selector
	}
	if sel == nil {
		return ""
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}
