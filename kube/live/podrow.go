package live

import (
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Health is how a pod, workload or namespace is doing, worst wins on roll-up.
type Health uint8

// Health values, ordered so that a larger value is worse.
const (
	Healthy Health = iota
	Pending
	Warning
	Failing
)

func (h Health) String() string {
	return [...]string{"ok", "pending", "warning", "failing"}[h]
}

// PodRow is the compact form of a pod that the tree holds: what a row shows,
// nothing more. The full object is fetched on demand for a diagnosis, so a
// big cluster costs a few hundred bytes per pod instead of tens of kilobytes.
type PodRow struct {
	UID          types.UID
	Namespace    string
	Name         string
	WorkloadKind string // Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, or "" for a bare pod
	WorkloadName string
	// Job is the pod's Job when it has one: for a CronJob's pod, the level
	// between the CronJob and the pod.
	Job      string
	Node     string
	Status   string // as kubectl's STATUS column prints it
	Ready    int8
	Total    int8
	Restarts int32
	Created  time.Time
	Health   Health
	// Rule is the diagnosis rule that judged the pod (diag.Classify): the
	// same root cause the diagnosis pane names; empty for a quiet pod.
	Rule string
	// NodeJudged: the pod is quiet and Rule, Health and Cause are its
	// node's verdict (see OnNode).
	NodeJudged bool
	// Cause is a one-line probable cause for unhealthy pods: the rule's
	// short name for it ("OOMKilled ×4"); Status holds kubectl's word.
	Cause      string
	Containers []ContainerRow
}

// ContainerRow is one container's line under its pod.
type ContainerRow struct {
	Name  string
	State string // Running, Waiting: Reason, Terminated: Reason (exit N)
	// CPURequest and CPULimit (millicores), MemRequest and MemLimit
	// (bytes) are the container's resources, 0 when unset: what the usage
	// column measures metrics.k8s.io samples against. (The fields are in
	// size order: 64 bytes a container, not 72.)
	MemRequest, MemLimit int64
	CPURequest, CPULimit int32
	Restarts             int32
	Init                 bool
	// Ephemeral: a debug container added to the running pod (kubectl
	// debug, kdoctor's s on a container without a shell).
	Ephemeral bool
	Ready     bool
}

// NewPodRow condenses a pod into a row judged on the pod alone; the watch
// uses JudgePod with the node and events it holds.
func NewPodRow(p *corev1.Pod) PodRow { return JudgePod(p, RowFacts{}) }

// podRow condenses a pod into a row, healthy until judged.
func podRow(p *corev1.Pod) PodRow {
	r := PodRow{
		UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName,
		Created: p.CreationTimestamp.Time,
	}
	r.WorkloadKind, r.WorkloadName, r.Job = workloadOf(p)
	r.Total = int8(min(len(p.Spec.Containers), 127))
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			r.Ready++
		}
		r.Restarts += cs.RestartCount
	}
	for _, cs := range p.Status.InitContainerStatuses {
		r.Restarts += cs.RestartCount
	}
	r.Status = PodStatus(p)
	for _, c := range p.Spec.InitContainers {
		r.Containers = append(r.Containers, withResources(containerRow(c.Name, true, p.Status.InitContainerStatuses), c.Resources))
	}
	for _, c := range p.Spec.Containers {
		r.Containers = append(r.Containers, withResources(containerRow(c.Name, false, p.Status.ContainerStatuses), c.Resources))
	}
	for _, c := range p.Spec.EphemeralContainers {
		cr := containerRow(c.Name, false, p.Status.EphemeralContainerStatuses)
		cr.Ephemeral = true
		r.Containers = append(r.Containers, cr)
	}
	return r
}

func withResources(cr ContainerRow, res corev1.ResourceRequirements) ContainerRow {
	milli := func(l corev1.ResourceList) int32 {
		return int32(min(l.Cpu().MilliValue(), math.MaxInt32))
	}
	cr.CPURequest, cr.CPULimit = milli(res.Requests), milli(res.Limits)
	cr.MemRequest, cr.MemLimit = res.Requests.Memory().Value(), res.Limits.Memory().Value()
	return cr
}

func containerRow(name string, init bool, statuses []corev1.ContainerStatus) ContainerRow {
	cr := ContainerRow{Name: name, Init: init, State: "Waiting"}
	for _, cs := range statuses {
		if cs.Name != name {
			continue
		}
		cr.Ready, cr.Restarts = cs.Ready, cs.RestartCount
		switch {
		case cs.State.Running != nil:
			cr.State = "Running"
		case cs.State.Waiting != nil:
			cr.State = "Waiting: " + cs.State.Waiting.Reason
		case cs.State.Terminated != nil:
			cr.State = fmt.Sprintf("Terminated: %s (exit %d)", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return cr
}

// workloadOf names the pod's top-level controller without fetching it: a
// ReplicaSet named <deployment>-<pod-template-hash> belongs to that Deployment,
// a Job named <cronjob>-<digits> to that CronJob, as the controllers name them
// (the tree corrects the guess with the Job's own owner when it watches Jobs,
// see CronJobOfJob). job is the pod's Job, if any.
func workloadOf(p *corev1.Pod) (kind, name, job string) {
	for _, o := range p.OwnerReferences {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		switch o.Kind {
		case "ReplicaSet":
			if h := p.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(o.Name, "-"+h) {
				return "Deployment", strings.TrimSuffix(o.Name, "-"+h), ""
			}
			return "ReplicaSet", o.Name, ""
		case "Job":
			if cj := CronJobOfJob(o.Name); cj != "" {
				return "CronJob", cj, o.Name
			}
			return "Job", o.Name, o.Name
		default:
			return o.Kind, o.Name, ""
		}
	}
	return "", "", ""
}

// CronJobOfJob guesses the CronJob of a Job from its name: the CronJob
// controller names its Jobs <cronjob>-<scheduled time in minutes since the
// epoch> (8 digits since 1990; older controllers used seconds, 10). Shorter
// suffixes ("migrate-2") are hand-made names, not CronJob runs.
func CronJobOfJob(job string) string {
	if i := strings.LastIndexByte(job, '-'); i > 0 && len(job)-i-1 >= 8 && isDigits(job[i+1:]) {
		return job[:i]
	}
	return ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// PodStatus reproduces the STATUS column of `kubectl get pods`, because that
// is the word on-call engineers already know (CrashLoopBackOff, Init:0/1,
// Terminating, …).
func PodStatus(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	initializing := false
	for i, cs := range p.Status.InitContainerStatuses {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case isRestartableInit(p, cs.Name) && cs.Started != nil && *cs.Started:
			continue
		case cs.State.Terminated != nil:
			if cs.State.Terminated.Reason == "" {
				if cs.State.Terminated.Signal != 0 {
					reason = fmt.Sprintf("Init:Signal:%d", cs.State.Terminated.Signal)
				} else {
					reason = fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
				}
			} else {
				reason = "Init:" + cs.State.Terminated.Reason
			}
			initializing = true
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
			initializing = true
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
			initializing = true
		}
		break
	}
	if !initializing {
		hasRunning := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "Running"
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					break
				}
				if c.Type == corev1.PodReady {
					reason = "NotReady"
				}
			}
		}
	}
	if p.DeletionTimestamp != nil {
		if p.Status.Reason == "NodeLost" {
			reason = "Unknown"
		} else {
			reason = "Terminating"
		}
	}
	return reason
}

func isRestartableInit(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}
