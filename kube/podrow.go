package kube

import (
	"fmt"
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
	// Cause is a one-line probable cause for unhealthy pods ("ImagePullBackOff · tag not found").
	Cause      string
	Containers []ContainerRow
}

// ContainerRow is one container's line under its pod.
type ContainerRow struct {
	Name     string
	Init     bool
	Ready    bool
	State    string // Running, Waiting: Reason, Terminated: Reason (exit N)
	Restarts int32
}

// NewPodRow condenses a pod into a row.
func NewPodRow(p *corev1.Pod) PodRow {
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
	r.Health, r.Cause = podHealth(p, r.Status)
	for _, c := range p.Spec.InitContainers {
		r.Containers = append(r.Containers, containerRow(c.Name, true, p.Status.InitContainerStatuses))
	}
	for _, c := range p.Spec.Containers {
		r.Containers = append(r.Containers, containerRow(c.Name, false, p.Status.ContainerStatuses))
	}
	return r
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

// podHealth classifies the pod and gives the one-line cause shown in its row.
// It is deliberately shallow (the row must stay cheap to compute on every
// watch event); the diagnosis pane does the real walk.
func podHealth(p *corev1.Pod, status string) (Health, string) {
	if p.DeletionTimestamp != nil {
		if len(p.Finalizers) > 0 {
			return Warning, "Terminating · finalizer " + p.Finalizers[0]
		}
		return Warning, "Terminating"
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return Healthy, ""
	case corev1.PodFailed:
		if p.Status.Reason == "Evicted" {
			return Failing, "Evicted · " + evictedResource(p.Status.Message)
		}
		return Failing, status
	case corev1.PodUnknown:
		return Failing, "Unknown · node lost"
	case corev1.PodPending:
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return Failing, "Unschedulable · " + shortSchedMessage(c.Message)
			}
		}
	}
	worst, cause := Healthy, ""
	consider := func(cs corev1.ContainerStatus, init bool) {
		h, c := containerHealth(cs, init)
		if h > worst {
			worst, cause = h, c
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		consider(cs, true)
	}
	for _, cs := range p.Status.ContainerStatuses {
		consider(cs, false)
	}
	if worst == Healthy && p.Status.Phase == corev1.PodRunning {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				return Warning, "NotReady · readiness failing"
			}
		}
	}
	if worst == Healthy && p.Status.Phase == corev1.PodPending {
		return Pending, ""
	}
	return worst, cause
}

func containerHealth(cs corev1.ContainerStatus, init bool) (Health, string) {
	prefix := ""
	if init {
		prefix = "init " + cs.Name + " · "
	}
	last := cs.LastTerminationState.Terminated
	switch {
	case cs.State.Waiting != nil:
		w := cs.State.Waiting
		switch w.Reason {
		case "", "ContainerCreating", "PodInitializing":
			return Pending, ""
		case "CrashLoopBackOff":
			if last != nil {
				if last.Reason == "OOMKilled" {
					return Failing, fmt.Sprintf("%sOOMKilled ×%d", prefix, cs.RestartCount)
				}
				return Failing, fmt.Sprintf("%sCrashLoopBackOff · exit %d", prefix, last.ExitCode)
			}
			return Failing, prefix + "CrashLoopBackOff"
		case "ErrImagePull", "ImagePullBackOff":
			return Failing, prefix + w.Reason + " · " + pullHint(w.Message)
		default:
			return Failing, prefix + w.Reason
		}
	case cs.State.Terminated != nil:
		t := cs.State.Terminated
		if t.ExitCode == 0 {
			return Healthy, ""
		}
		return Failing, fmt.Sprintf("%s%s · exit %d", prefix, t.Reason, t.ExitCode)
	case cs.State.Running != nil && cs.RestartCount > 0 && last != nil && !init:
		if last.Reason == "OOMKilled" {
			return Warning, fmt.Sprintf("restarting · OOMKilled ×%d", cs.RestartCount)
		}
		return Warning, fmt.Sprintf("restarting · exit %d ×%d", last.ExitCode, cs.RestartCount)
	}
	return Healthy, ""
}

func pullHint(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "unauthorized") || strings.Contains(m, "denied") || strings.Contains(m, "authentication required") || strings.Contains(m, "403"):
		return "access denied"
	case strings.Contains(m, "not found") || strings.Contains(m, "manifest unknown"):
		return "tag not found"
	case strings.Contains(m, "dial tcp") || strings.Contains(m, "no such host") || strings.Contains(m, "timeout"):
		return "registry unreachable"
	case msg == "":
		return "pulling"
	}
	return "pull failed"
}

func evictedResource(msg string) string {
	const p = "low on resource: "
	if i := strings.Index(msg, p); i >= 0 {
		rest := msg[i+len(p):]
		if j := strings.IndexAny(rest, ". ,"); j > 0 {
			return "low " + rest[:j]
		}
	}
	return "evicted"
}

func shortSchedMessage(msg string) string {
	if i := strings.Index(msg, " preemption:"); i > 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, ": "); i > 0 && strings.Contains(msg[:i], "nodes are available") {
		msg = msg[i+2:]
	}
	return strings.TrimSuffix(strings.TrimSpace(msg), ".")
}
