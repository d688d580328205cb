package facts

import (
	"fmt"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// targetKinds maps the target kinds kdoctor diagnoses (kubectl's singular
// lower-case names) to API kinds.
var targetKinds = map[string]string{
	"pod": "Pod", "deployment": "Deployment", "replicaset": "ReplicaSet",
	"statefulset": "StatefulSet", "daemonset": "DaemonSet", "job": "Job", "cronjob": "CronJob",
}

// kindAliases are the spellings kubectl accepts for those kinds.
var kindAliases = map[string]string{
	"pod": "pod", "pods": "pod", "po": "pod",
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"replicaset": "replicaset", "replicasets": "replicaset", "rs": "replicaset",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
	"job": "job", "jobs": "job",
	"cronjob": "cronjob", "cronjobs": "cronjob", "cj": "cronjob",
}

// NormalizeKind turns a kubectl TYPE ("po", "deploy", "sts", "Deployment",
// "deployments.apps") into kdoctor's target kind ("pod", "deployment").
func NormalizeKind(typ string) (string, bool) {
	t := strings.ToLower(typ)
	if base, group, ok := strings.Cut(t, "."); ok && (group == "apps" || group == "batch" || group == "" ||
		strings.HasPrefix(group, "apps/") || strings.HasPrefix(group, "batch/")) {
		t = base
	}
	k, ok := kindAliases[t]
	return k, ok
}

// APIKind returns the API kind of a target kind ("deployment" → "Deployment").
func APIKind(targetKind string) string { return targetKinds[targetKind] }

// NotFoundError says the target itself is absent.
type NotFoundError struct{ Target diag.Target }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q not found in namespace %q", e.Target.Kind, e.Target.Name, e.Target.Namespace)
}

// BuildFacts reads the facts about target from set: the target, its owner
// chain, its events and those of its owners, its node, its logs and the
// objects its spec references. Only the target's absence is an error;
// anything else missing becomes a not-found or unknown fact.
func BuildFacts(set *ObjectSet, target diag.Target, now time.Time) (diag.Facts, error) {
	f := diag.Facts{Target: target, Now: now}
	apiKind := targetKinds[target.Kind]
	if apiKind == "" {
		return f, fmt.Errorf("cannot diagnose kind %q: want pod, deployment, replicaset, statefulset, daemonset, job or cronjob", target.Kind)
	}
	obj := set.Get(apiKind, target.Namespace, target.Name)
	if obj == nil {
		if reason, unknown := set.unknownReason(apiKind, target.Namespace); unknown && set.Complete {
			return f, fmt.Errorf("%s %q in namespace %q: %s", target.Kind, target.Name, target.Namespace, reason)
		}
		return f, &NotFoundError{Target: target}
	}
	b := &factBuilder{set: set, f: &f}
	var podSpec *corev1.PodSpec
	var podLabels map[string]string
	if pod, ok := obj.(*corev1.Pod); ok {
		f.Pod = pod
		f.Owners = b.owners(pod)
		f.Rollout = b.rollout(f.Owners)
	} else {
		wl := asWorkload(obj)
		f.Workload = &wl
		f.Owners = b.owners(obj)
		f.Children = b.children(obj)
		f.WorkloadPods = b.workloadPods(obj, f.Children)
		f.Pod = diag.WorstPod(f.WorkloadPods)
		if t := wl.PodTemplate(); t != nil {
			podSpec, podLabels = &t.Spec, t.Labels
		}
	}
	if f.Pod != nil {
		podSpec, podLabels = &f.Pod.Spec, f.Pod.Labels
	}

	b.events(obj)
	b.node()
	b.logs()
	b.usage()
	if podSpec != nil {
		b.references(podSpec)
	}
	f.ResourceQuotas = listOf[corev1.ResourceQuota](set, "ResourceQuota", target.Namespace)
	f.LimitRanges = listOf[corev1.LimitRange](set, "LimitRange", target.Namespace)
	b.services(podLabels)
	return f, nil
}

type factBuilder struct {
	set *ObjectSet
	f   *diag.Facts
}

// workloadOf wraps a controller object.
func asWorkload(o Object) diag.Workload {
	w := diag.Workload{Kind: KindOf(o), Name: o.GetName(), State: diag.Found}
	switch x := o.(type) {
	case *appsv1.Deployment:
		w.Deployment = x
	case *appsv1.ReplicaSet:
		w.ReplicaSet = x
	case *appsv1.StatefulSet:
		w.StatefulSet = x
	case *appsv1.DaemonSet:
		w.DaemonSet = x
	case *batchv1.Job:
		w.Job = x
	case *batchv1.CronJob:
		w.CronJob = x
	}
	return w
}

// controllerRef returns the owner reference that controls o, or the first.
func controllerRef(o Object) *metav1.OwnerReference {
	refs := o.GetOwnerReferences()
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) > 0 {
		return &refs[0]
	}
	return nil
}

// owners follows controller references upward (Pod → ReplicaSet →
// Deployment, Pod → Job → CronJob).
func (b *factBuilder) owners(o Object) []diag.Workload {
	var out []diag.Workload
	for range 5 { // owner chains are short; a cycle must not loop forever
		ref := controllerRef(o)
		if ref == nil {
			break
		}
		owner := b.set.ByUID(ref.UID)
		if owner == nil {
			owner = b.set.Get(ref.Kind, o.GetNamespace(), ref.Name)
		}
		if owner == nil {
			w := diag.Workload{Kind: ref.Kind, Name: ref.Name, State: diag.NotFound}
			if reason, unknown := b.set.unknownReason(ref.Kind, o.GetNamespace()); unknown {
				w.State, w.Reason = diag.Unknown, reason
			}
			out = append(out, w)
			break
		}
		out = append(out, asWorkload(owner))
		o = owner
	}
	return out
}

func ownedBy(o Object, owner Object) bool {
	for _, r := range o.GetOwnerReferences() {
		if (r.UID != "" && r.UID == owner.GetUID()) || (r.UID == "" && r.Kind == KindOf(owner) && r.Name == owner.GetName()) {
			return true
		}
	}
	return false
}

// children returns the ReplicaSets of a Deployment, newest first, or the
// Jobs of a CronJob, the one to examine first (see examinedJob), then
// newest first.
func (b *factBuilder) children(o Object) []diag.Workload {
	kind := ""
	switch o.(type) {
	case *appsv1.Deployment:
		kind = "ReplicaSet"
	case *batchv1.CronJob:
		kind = "Job"
	default:
		return nil
	}
	var objs []Object
	for _, c := range b.set.List(kind, o.GetNamespace()) {
		if ownedBy(c, o) {
			objs = append(objs, c)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool {
		ti, tj := objs[i].GetCreationTimestamp(), objs[j].GetCreationTimestamp()
		return tj.Before(&ti)
	})
	if kind == "Job" {
		if i := examinedJob(objs); i > 0 {
			objs = append([]Object{objs[i]}, append(objs[:i:i], objs[i+1:]...)...)
		}
	}
	var out []diag.Workload
	for _, c := range objs {
		out = append(out, asWorkload(c))
	}
	return out
}

// rollout returns, when the pod's Deployment has stopped progressing, the
// Deployment's newest ReplicaSet and its pods (diag.RolloutFacts).
func (b *factBuilder) rollout(owners []diag.Workload) *diag.RolloutFacts {
	for _, o := range owners {
		d := o.Deployment
		if d == nil || !DeploymentStalled(d) {
			continue
		}
		rss := b.children(d)
		if len(rss) == 0 || rss[0].ReplicaSet == nil {
			return nil
		}
		r := &diag.RolloutFacts{NewReplicaSet: rss[0].Name}
		r.Pods = b.workloadPods(rss[0].ReplicaSet, nil)
		return r
	}
	return nil
}

// DeploymentStalled reports whether a Deployment's rollout has stopped
// progressing (Progressing=False, ProgressDeadlineExceeded).
func DeploymentStalled(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
			return true
		}
	}
	return false
}

// examinedJob picks, among a CronJob's Jobs (newest first), the one a
// diagnosis of the CronJob looks into: the most recent failed one, else
// the most recent one. -1 for none.
func examinedJob(jobs []Object) int {
	for i, o := range jobs {
		if j, ok := o.(*batchv1.Job); ok && diag.JobFailed(j) {
			return i
		}
	}
	if len(jobs) == 0 {
		return -1
	}
	return 0
}

// workloadPods returns the pods a workload owns, directly or through its
// ReplicaSets; for a CronJob, the pods of the Job it examines.
func (b *factBuilder) workloadPods(o Object, children []diag.Workload) []corev1.Pod {
	owners := []Object{o}
	for _, c := range children {
		if c.ReplicaSet != nil {
			owners = append(owners, c.ReplicaSet)
		}
	}
	if _, ok := o.(*batchv1.CronJob); ok {
		owners = nil
		if len(children) > 0 && children[0].Job != nil {
			owners = []Object{children[0].Job}
		}
	}
	var out []corev1.Pod
	for _, p := range b.set.List("Pod", o.GetNamespace()) {
		for _, owner := range owners {
			if ownedBy(p, owner) {
				out = append(out, *p.(*corev1.Pod))
				break
			}
		}
	}
	return out
}

// events gathers the events of the target, its pod, owners and children.
func (b *factBuilder) events(target Object) {
	f := b.f
	if reason, unknown := b.set.unknownReason("Event", f.Target.Namespace); unknown {
		f.Events = diag.List[corev1.Event]{State: diag.Unknown, Reason: reason}
	} else {
		f.Events.State = diag.Found
	}
	seen := map[string]bool{}
	add := func(kind, ns, name string, uid string) {
		for _, e := range b.set.EventsFor(kind, ns, name, types.UID(uid)) {
			key := e.Namespace + "/" + e.Name + "/" + string(e.UID)
			if !seen[key] {
				seen[key] = true
				f.Events.Items = append(f.Events.Items, e)
			}
		}
	}
	add(KindOf(target), target.GetNamespace(), target.GetName(), string(target.GetUID()))
	if f.Pod != nil {
		add("Pod", f.Pod.Namespace, f.Pod.Name, string(f.Pod.UID))
	}
	for _, ws := range [][]diag.Workload{f.Owners, f.Children} {
		for _, w := range ws {
			if m := w.Meta(); m != nil {
				add(w.Kind, m.Namespace, m.Name, string(m.UID))
			}
		}
	}
}

// node looks up the pod's node and its events, and all nodes when the pod
// waits for scheduling (to name the nodes behind the scheduler's message).
func (b *factBuilder) node() {
	f := b.f
	f.Nodes = listOf[corev1.Node](b.set, "Node", "")
	if f.Pod == nil || f.Pod.Spec.NodeName == "" {
		return
	}
	name := f.Pod.Spec.NodeName
	f.Node = refOf[corev1.Node](b.set, "Node", "", name)
	if reason, unknown := b.set.unknown[objectKey{Kind: nodeEventsKind}]; unknown {
		f.NodeEvents = diag.List[corev1.Event]{State: diag.Unknown, Reason: reason}
		return
	}
	if reason, unknown := b.set.unknownReason("Event", ""); unknown {
		f.NodeEvents = diag.List[corev1.Event]{State: diag.Unknown, Reason: reason}
		return
	}
	f.NodeEvents.State = diag.Found
	// Node events live in the default namespace (kubelet) or the node's
	// own; match on the node's name wherever they are.
	f.NodeEvents.Items = b.set.EventsFor("Node", "", name, "")
}

// usage finds the pod's metrics.k8s.io sample (a dump without PodMetrics
// says Unknown, as for any kind it lacks).
func (b *factBuilder) usage() {
	if p := b.f.Pod; p != nil {
		b.f.Usage = refOf[metricsv1beta1.PodMetrics](b.set, "PodMetrics", p.Namespace, p.Name)
	}
}

// logs reads the log tails of every container instance worth reading: the
// current one of a container that has started, and the previous one of a
// container that has terminated before.
func (b *factBuilder) logs() {
	p := b.f.Pod
	if p == nil {
		return
	}
	add := func(name string, init bool, st *corev1.ContainerStatus) {
		if st == nil {
			return
		}
		started := st.State.Running != nil || st.State.Terminated != nil
		hadPrevious := st.LastTerminationState.Terminated != nil || st.RestartCount > 0
		for _, previous := range []bool{true, false} {
			if (previous && !hadPrevious) || (!previous && !started) {
				continue
			}
			key := LogKey{Namespace: p.Namespace, Pod: p.Name, Container: name, Previous: previous}
			l := diag.ContainerLog{Container: name, Init: init, Previous: previous}
			if data, ok := b.set.Logs[key]; ok {
				l.State, l.Text = diag.Found, string(data)
			} else if reason, ok := b.set.LogErrors[key]; ok {
				l.State, l.Reason = diag.Unknown, reason
			} else if b.set.LogsComplete {
				l.State = diag.Found
			} else {
				l.State, l.Reason = diag.Unknown, "not in the dump"
			}
			b.f.Logs = append(b.f.Logs, l)
		}
	}
	for _, c := range p.Spec.InitContainers {
		add(c.Name, true, statusOf(p.Status.InitContainerStatuses, c.Name))
	}
	for _, c := range p.Spec.Containers {
		add(c.Name, false, statusOf(p.Status.ContainerStatuses, c.Name))
	}
}

func statusOf(ss []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}

func (b *factBuilder) references(spec *corev1.PodSpec) {
	f, ns := b.f, b.f.Target.Namespace
	refs := diag.References(spec)
	for _, n := range refs.ConfigMaps {
		f.ConfigMaps = append(f.ConfigMaps, refOf[corev1.ConfigMap](b.set, "ConfigMap", ns, n))
	}
	for _, n := range refs.Secrets {
		f.Secrets = append(f.Secrets, refOf[corev1.Secret](b.set, "Secret", ns, n))
	}
	for _, n := range refs.PVCs {
		f.PVCs = append(f.PVCs, refOf[corev1.PersistentVolumeClaim](b.set, "PersistentVolumeClaim", ns, n))
	}
	b.claimEvents(ns)
	f.ServiceAccount = refOf[corev1.ServiceAccount](b.set, "ServiceAccount", ns, refs.ServiceAccount)
}

// claimEvents gathers the events of the claims found: the provisioner and
// the PV controller say why a claim stays Pending there, not on the pod.
func (b *factBuilder) claimEvents(ns string) {
	f := b.f
	if reason, unknown := b.set.unknownReason("Event", ns); unknown {
		f.ClaimEvents = diag.List[corev1.Event]{State: diag.Unknown, Reason: reason}
		return
	}
	f.ClaimEvents.State = diag.Found
	for _, r := range f.PVCs {
		if r.Object != nil {
			f.ClaimEvents.Items = append(f.ClaimEvents.Items, b.set.EventsFor("PersistentVolumeClaim", ns, r.Name, r.Object.UID)...)
		}
	}
}

// services finds the Services whose selector matches the pod's labels,
// with their Endpoints.
func (b *factBuilder) services(podLabels map[string]string) {
	f, ns := b.f, b.f.Target.Namespace
	if reason, unknown := b.set.unknownReason("Service", ns); unknown {
		f.Services = diag.List[diag.ServiceFacts]{State: diag.Unknown, Reason: reason}
		return
	}
	f.Services.State = diag.Found
	if len(podLabels) == 0 {
		return
	}
	for _, o := range b.set.List("Service", ns) {
		svc := o.(*corev1.Service)
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
			continue
		}
		f.Services.Items = append(f.Services.Items, diag.ServiceFacts{
			Service:   *svc,
			Endpoints: refOf[corev1.Endpoints](b.set, "Endpoints", ns, svc.Name),
		})
	}
}

// refOf looks one object up.
func refOf[T any](set *ObjectSet, kind, ns, name string) diag.Ref[T] {
	r := diag.Ref[T]{Name: name}
	if o := set.Get(kind, ns, name); o != nil {
		if t, ok := any(o).(*T); ok {
			r.State, r.Object = diag.Found, t
			return r
		}
	}
	if reason, unknown := set.unknownReason(kind, ns); unknown {
		r.State, r.Reason = diag.Unknown, reason
		return r
	}
	r.State = diag.NotFound
	return r
}

// listOf lists the objects of a kind in a namespace.
func listOf[T any](set *ObjectSet, kind, ns string) diag.List[T] {
	if reason, unknown := set.unknownReason(kind, ns); unknown {
		return diag.List[T]{State: diag.Unknown, Reason: reason}
	}
	l := diag.List[T]{State: diag.Found}
	for _, o := range set.List(kind, ns) {
		if t, ok := any(o).(*T); ok {
			l.Items = append(l.Items, *t)
		}
	}
	return l
}
