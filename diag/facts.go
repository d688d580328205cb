// Package diag is kdoctor's diagnosis engine: facts about a pod or workload
// go in, a ranked list of findings comes out. It walks the same four steps a
// senior engineer runs by hand (describe → events → logs → node) and matches
// what it sees against a table of rules taken from docs/decision-tree.md.
//
// The package does no I/O, holds no client and reads no clock: the caller
// gathers the facts (package kube does, live or from a dump) and passes the
// moment to judge ages against, so the same facts always give the same
// diagnosis.
package diag

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Target names what is being diagnosed, kind in kubectl's lower-case singular
// form ("pod", "deployment", …).
type Target struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String is kind/name, as a diagnosis names its subject.
func (t Target) String() string { return t.Kind + "/" + t.Name }

// Path is kind/namespace/name (kind/name without a namespace), as scenario
// READMEs and the CLI's warnings name a target.
func (t Target) Path() string {
	if t.Namespace == "" {
		return t.Kind + "/" + t.Name
	}
	return t.Kind + "/" + t.Namespace + "/" + t.Name
}

// LookupState says what became of looking a referenced object up.
type LookupState int

const (
	// Unknown means the object could not be looked at: access was denied, the
	// request failed, or the source (a dump) does not hold that kind. A rule
	// must never treat Unknown as missing.
	Unknown LookupState = iota
	// Found means the object exists and Object holds it.
	Found
	// NotFound means the API server said the object does not exist.
	NotFound
)

func (s LookupState) String() string {
	switch s {
	case Found:
		return "found"
	case NotFound:
		return "not found"
	default:
		return "unknown"
	}
}

// Ref is the result of looking one named object up.
type Ref[T any] struct {
	Name  string
	State LookupState
	// Reason explains an Unknown state ("forbidden: …", "not in the dump").
	Reason string
	Object *T
}

// List is the result of listing objects of one kind (in the target's
// namespace, or selecting the target).
type List[T any] struct {
	State  LookupState
	Reason string
	Items  []T
}

// FoundRef returns a Found Ref holding obj.
func FoundRef[T any](name string, obj *T) Ref[T] {
	return Ref[T]{Name: name, State: Found, Object: obj}
}

// Workload is one controller object: the target when a workload is
// diagnosed, or a link of a pod's owner chain. Exactly one of the typed
// pointers is set, matching Kind.
type Workload struct {
	// Kind is the API kind: "ReplicaSet", "Deployment", "StatefulSet",
	// "DaemonSet", "Job", "CronJob", or another kind found in an ownerReference.
	Kind        string
	Name        string
	Deployment  *appsv1.Deployment
	ReplicaSet  *appsv1.ReplicaSet
	StatefulSet *appsv1.StatefulSet
	DaemonSet   *appsv1.DaemonSet
	Job         *batchv1.Job
	CronJob     *batchv1.CronJob
	// State is Found when the object itself could be read; an owner that is
	// only known from an ownerReference is Unknown or NotFound.
	State  LookupState
	Reason string
}

// Meta returns the workload's object metadata, or nil when it was not read.
func (w *Workload) Meta() *metav1.ObjectMeta {
	switch {
	case w.Deployment != nil:
		return &w.Deployment.ObjectMeta
	case w.ReplicaSet != nil:
		return &w.ReplicaSet.ObjectMeta
	case w.StatefulSet != nil:
		return &w.StatefulSet.ObjectMeta
	case w.DaemonSet != nil:
		return &w.DaemonSet.ObjectMeta
	case w.Job != nil:
		return &w.Job.ObjectMeta
	case w.CronJob != nil:
		return &w.CronJob.ObjectMeta
	}
	return nil
}

// PodTemplate returns the pod template of the workload, or nil.
func (w *Workload) PodTemplate() *corev1.PodTemplateSpec {
	switch {
	case w.Deployment != nil:
		return &w.Deployment.Spec.Template
	case w.ReplicaSet != nil:
		return &w.ReplicaSet.Spec.Template
	case w.StatefulSet != nil:
		return &w.StatefulSet.Spec.Template
	case w.DaemonSet != nil:
		return &w.DaemonSet.Spec.Template
	case w.Job != nil:
		return &w.Job.Spec.Template
	case w.CronJob != nil:
		return &w.CronJob.Spec.JobTemplate.Spec.Template
	}
	return nil
}

// ContainerLog is the tail of one container instance's log.
type ContainerLog struct {
	Container string
	Init      bool
	// Previous is true for the last terminated instance (kubectl logs --previous).
	Previous bool
	State    LookupState
	Reason   string
	Text     string
}

// ServiceFacts is a Service whose selector matches the target's pods, with
// its Endpoints.
type ServiceFacts struct {
	Service   corev1.Service
	Endpoints Ref[corev1.Endpoints]
}

// Facts is everything the engine looks at for one target. The zero value of
// a lookup is Unknown, so a fact nobody gathered never reads as "missing".
type Facts struct {
	Target Target
	// Now is the moment ages are measured against.
	Now time.Time

	// Pod is the target pod; for a workload target it is the workload's pod
	// that looks worst (see WorstPod), or nil when the workload has none.
	Pod *corev1.Pod
	// Workload is the target when it is not a pod.
	Workload *Workload
	// WorkloadPods are all pods of a workload target.
	WorkloadPods []corev1.Pod
	// Children are the objects a workload target creates pods through: a
	// Deployment's ReplicaSets (their FailedCreate events explain pods that
	// were never created), or a CronJob's Jobs, the one examined first (its
	// most recent failed Job, else its most recent), then newest first;
	// WorkloadPods and Pod are then that Job's.
	Children []Workload
	// Owners is the owner chain of the pod (or of the workload target),
	// nearest first: ReplicaSet, then Deployment.
	Owners []Workload
	// Rollout, for a pod target whose Deployment's rollout has stalled
	// (Progressing=False), holds the Deployment's newest ReplicaSet and its
	// pods: the pod that holds the rollout up may not be the target.
	Rollout *RolloutFacts

	// Events involve the pod, the workload target, its children and owners.
	Events List[corev1.Event]
	// ClaimEvents are the events of the pod's PersistentVolumeClaims: the
	// provisioner and the PV controller report on the claim, not the pod.
	ClaimEvents List[corev1.Event]

	// Node is the node the pod is bound to (Name empty when unscheduled).
	Node       Ref[corev1.Node]
	NodeEvents List[corev1.Event]
	// Nodes are the cluster's nodes; gathered when the pod is unscheduled, to
	// name the nodes behind a scheduler message.
	Nodes List[corev1.Node]

	// Logs are log tails per container instance (init containers too).
	Logs []ContainerLog

	// Usage is what the pod's containers use now, from metrics.k8s.io (as
	// kubectl top shows it): NotFound when the API has no sample for the
	// pod, Unknown when the cluster does not serve the API, it failed, or
	// the source (a dump) does not hold it. Rules use it only when Found,
	// so a cluster without metrics is diagnosed as before.
	Usage Ref[metricsv1beta1.PodMetrics]

	ConfigMaps     []Ref[corev1.ConfigMap]
	Secrets        []Ref[corev1.Secret]
	PVCs           []Ref[corev1.PersistentVolumeClaim]
	ServiceAccount Ref[corev1.ServiceAccount]
	ResourceQuotas List[corev1.ResourceQuota]
	LimitRanges    List[corev1.LimitRange]
	// Services are the Services selecting the target's pods.
	Services List[ServiceFacts]
}

// Log returns the log of one container instance, or nil if none was gathered.
func (f *Facts) Log(container string, previous bool) *ContainerLog {
	for i := range f.Logs {
		if f.Logs[i].Container == container && f.Logs[i].Previous == previous {
			return &f.Logs[i]
		}
	}
	return nil
}

func findRef[T any](refs []Ref[T], name string) (Ref[T], bool) {
	for _, r := range refs {
		if r.Name == name {
			return r, true
		}
	}
	return Ref[T]{Name: name}, false
}

// RolloutFacts are the newest ReplicaSet of a Deployment and its pods.
type RolloutFacts struct {
	NewReplicaSet string
	Pods          []corev1.Pod
}
