package live

import (
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// NodeRow is the compact form of a node: what the group-by-node view and the
// header need.
type NodeRow struct {
	Name          string
	Ready         corev1.ConditionStatus
	ReadyMessage  string
	Unschedulable bool
	// Pressures lists the true pressure conditions (MemoryPressure, DiskPressure,
	// PIDPressure, NetworkUnavailable).
	Pressures []string
	Health    Health
	// QuietRule, QuietHealth and QuietShort are the diagnosis rules' verdict
	// on a quiet pod on this node (diag.NodeVerdict), which the tree shows
	// for such pods (see PodRow.OnNode); QuietRule is "ok" for a sound node.
	QuietRule   string
	QuietHealth Health
	QuietShort  string
}

// NewNodeRow condenses a node.
func NewNodeRow(n *corev1.Node) NodeRow {
	r := NodeRow{Name: n.Name, Ready: corev1.ConditionUnknown, Unschedulable: n.Spec.Unschedulable}
	v := diag.NodeVerdict(n, time.Now())
	r.QuietRule, r.QuietHealth, r.QuietShort = v.Rule, severityHealth(v), v.Short
	for _, c := range n.Status.Conditions {
		switch c.Type {
		case corev1.NodeReady:
			r.Ready, r.ReadyMessage = c.Status, c.Message
		case corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable:
			if c.Status == corev1.ConditionTrue {
				r.Pressures = append(r.Pressures, string(c.Type))
			}
		}
	}
	switch {
	case r.Ready != corev1.ConditionTrue:
		r.Health = Failing
	case len(r.Pressures) > 0 || r.Unschedulable:
		r.Health = Warning
	}
	return r
}

// Summary is the node's state in a few words ("NotReady · PLEG is not healthy").
func (r NodeRow) Summary() string {
	var parts []string
	switch r.Ready {
	case corev1.ConditionTrue:
		parts = append(parts, "Ready")
	case corev1.ConditionFalse:
		parts = append(parts, "NotReady")
	default:
		parts = append(parts, "Unknown")
	}
	if r.Unschedulable {
		parts = append(parts, "SchedulingDisabled")
	}
	parts = append(parts, r.Pressures...)
	s := strings.Join(parts, ",")
	if r.Ready != corev1.ConditionTrue && r.ReadyMessage != "" {
		s += " · " + r.ReadyMessage
	}
	return s
}

// WorkloadRow is the compact form of a controller, so a workload whose pods
// were never created (FailedCreate) still shows in the tree.
type WorkloadRow struct {
	UID       types.UID
	Kind      string
	Namespace string
	Name      string
	Desired   int32
	Current   int32
	Ready     int32
	Created   time.Time
	// Owner is the CronJob of a Job ("" for other kinds and bare Jobs), so
	// the tree shows CronJob → Job → pod without guessing from names.
	Owner string
}

// Missing is how many pods the workload wants but does not have.
func (w WorkloadRow) Missing() int32 { return max(0, w.Desired-w.Current) }

func deploymentRow(d *appsv1.Deployment) WorkloadRow {
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	return WorkloadRow{UID: d.UID, Kind: "Deployment", Namespace: d.Namespace, Name: d.Name,
		Desired: desired, Current: d.Status.Replicas, Ready: d.Status.ReadyReplicas, Created: d.CreationTimestamp.Time}
}

func statefulSetRow(s *appsv1.StatefulSet) WorkloadRow {
	desired := int32(1)
	if s.Spec.Replicas != nil {
		desired = *s.Spec.Replicas
	}
	return WorkloadRow{UID: s.UID, Kind: "StatefulSet", Namespace: s.Namespace, Name: s.Name,
		Desired: desired, Current: s.Status.Replicas, Ready: s.Status.ReadyReplicas, Created: s.CreationTimestamp.Time}
}

func daemonSetRow(d *appsv1.DaemonSet) WorkloadRow {
	return WorkloadRow{UID: d.UID, Kind: "DaemonSet", Namespace: d.Namespace, Name: d.Name,
		Desired: d.Status.DesiredNumberScheduled, Current: d.Status.CurrentNumberScheduled, Ready: d.Status.NumberReady, Created: d.CreationTimestamp.Time}
}

func jobRow(j *batchv1.Job) WorkloadRow {
	// A Job's "desired" is not a replica count; it is missing pods only when it
	// is active but has none, which the tree shows through its events instead.
	r := WorkloadRow{UID: j.UID, Kind: "Job", Namespace: j.Namespace, Name: j.Name,
		Desired: j.Status.Active, Current: j.Status.Active, Ready: ptrVal(j.Status.Ready), Created: j.CreationTimestamp.Time}
	for _, o := range j.OwnerReferences {
		if o.Kind == "CronJob" && o.Controller != nil && *o.Controller {
			r.Owner = o.Name
		}
	}
	return r
}

func ptrVal(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// EventRow is a Warning event in the events feed.
type EventRow struct {
	UID        types.UID
	Type       string // Warning or Normal
	Namespace  string
	ObjectKind string
	ObjectName string
	Reason     string
	Message    string
	Count      int32
	First      time.Time
	Last       time.Time
}

// NewEventRow condenses an event, taking the newest of its timestamps since
// events.k8s.io-era writers fill eventTime/series instead of lastTimestamp.
func NewEventRow(e *corev1.Event) EventRow {
	r := EventRow{UID: e.UID, Type: e.Type, Namespace: e.Namespace, ObjectKind: e.InvolvedObject.Kind, ObjectName: e.InvolvedObject.Name,
		Reason: e.Reason, Message: e.Message, Count: max(e.Count, 1), First: e.FirstTimestamp.Time, Last: e.LastTimestamp.Time}
	if e.Series != nil {
		r.Count = max(r.Count, e.Series.Count)
		if e.Series.LastObservedTime.After(r.Last) {
			r.Last = e.Series.LastObservedTime.Time
		}
	}
	if r.Last.IsZero() {
		r.Last = e.EventTime.Time
	}
	if r.First.IsZero() {
		r.First = r.Last
	}
	if len(r.Message) > 1024 {
		r.Message = r.Message[:1024] + "…"
	}
	return r
}
