package diag

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// PodProblems returns short reasons why a pod looks unhealthy, from its
// status alone; none for a running, ready pod or a completed one. It lets
// callers pick pods worth diagnosing without running the whole walk.
func PodProblems(p *corev1.Pod) []string {
	var out []string
	if p.DeletionTimestamp != nil {
		out = append(out, "pod is being deleted")
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return out
	case corev1.PodFailed:
		s := "phase Failed"
		if p.Status.Reason != "" {
			s += " (" + p.Status.Reason + ")"
		}
		out = append(out, s)
	case corev1.PodPending:
		out = append(out, "phase Pending")
	case corev1.PodUnknown:
		out = append(out, "phase Unknown")
	}
	check := func(ss []corev1.ContainerStatus, init bool) {
		for _, s := range ss {
			name := "container " + s.Name
			if init {
				name = "init container " + s.Name
			}
			switch {
			case s.State.Waiting != nil && s.State.Waiting.Reason != "" &&
				!(init && s.State.Waiting.Reason == "PodInitializing") && s.State.Waiting.Reason != "ContainerCreating":
				out = append(out, name+" waiting "+s.State.Waiting.Reason)
			case s.State.Terminated != nil && s.State.Terminated.ExitCode != 0:
				out = append(out, fmt.Sprintf("%s terminated %s (exit code %d)", name, s.State.Terminated.Reason, s.State.Terminated.ExitCode))
			case !init && s.State.Running != nil && !s.Ready && p.Status.Phase == corev1.PodRunning:
				out = append(out, name+" running but not ready")
			}
		}
	}
	check(p.Status.InitContainerStatuses, true)
	check(p.Status.ContainerStatuses, false)
	if p.Status.Phase == corev1.PodRunning && len(out) == 0 {
		// Containers can look fine while the pod is not Ready: the node
		// controller marks pods of a lost node NotReady, readiness gates fail.
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				s := "pod not ready"
				if c.Reason != "" {
					s += " (" + c.Reason + ")"
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// podBadness scores a pod for WorstPod: higher is worse.
func podBadness(p *corev1.Pod) int {
	score := 0
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if s.State.Waiting != nil {
			switch s.State.Waiting.Reason {
			case "ContainerCreating", "PodInitializing", "":
				score += 2
			default:
				score += 10
			}
		}
		if s.State.Terminated != nil && s.State.Terminated.ExitCode != 0 {
			score += 10
		}
		if !s.Ready {
			score++
		}
		score += int(min(s.RestartCount, 5))
	}
	switch p.Status.Phase {
	case corev1.PodPending:
		score += 5
	case corev1.PodFailed, corev1.PodUnknown:
		score += 8
	case corev1.PodSucceeded:
		score = 0
	}
	if p.DeletionTimestamp != nil {
		score += 3
	}
	return score
}

// WorstPod picks the pod of a workload to examine: the least healthy one,
// the newest among equals (it runs the current template). It returns nil
// for no pods.
func WorstPod(pods []corev1.Pod) *corev1.Pod {
	if len(pods) == 0 {
		return nil
	}
	idx := make([]int, len(pods))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := &pods[idx[a]], &pods[idx[b]]
		if sa, sb := podBadness(pa), podBadness(pb); sa != sb {
			return sa > sb
		}
		if !pa.CreationTimestamp.Equal(&pb.CreationTimestamp) {
			return pb.CreationTimestamp.Before(&pa.CreationTimestamp)
		}
		return pa.Name < pb.Name
	})
	return &pods[idx[0]]
}

// WorkloadProblems says why a workload looks unhealthy from its own status
// (fewer pods or ready pods than desired, a failed or stuck rollout); empty
// when it looks fine. pods is how many pods it has, or -1 when unknown.
func WorkloadProblems(wl *Workload, pods int) []string {
	var out []string
	if s := workloadShortfall(wl, pods); s != "" {
		out = append(out, s)
	}
	if d := wl.Deployment; d != nil {
		for _, c := range d.Status.Conditions {
			if (c.Type == "Progressing" && c.Status == corev1.ConditionFalse) || (c.Type == "ReplicaFailure" && c.Status == corev1.ConditionTrue) {
				out = append(out, fmt.Sprintf("%s %s: %s", c.Type, c.Reason, oneLine(c.Message)))
			}
		}
	}
	if j := wl.Job; j != nil {
		for _, c := range j.Status.Conditions {
			if c.Type == "Failed" && c.Status == corev1.ConditionTrue {
				out = append(out, "Job failed: "+c.Reason)
			}
		}
	}
	return out
}

// workloadShortfall says how far the workload is from what it wants.
func workloadShortfall(wl *Workload, pods int) string {
	switch {
	case wl.Deployment != nil:
		d := wl.Deployment
		if want := replicas(d.Spec.Replicas); d.Status.ReadyReplicas < want || d.Status.UpdatedReplicas < want {
			return fmt.Sprintf("deployment %s: %d/%d ready, %d updated", d.Name, d.Status.ReadyReplicas, want, d.Status.UpdatedReplicas)
		}
	case wl.ReplicaSet != nil:
		r := wl.ReplicaSet
		if want := replicas(r.Spec.Replicas); r.Status.ReadyReplicas < want {
			return fmt.Sprintf("replicaset %s: %d/%d ready", r.Name, r.Status.ReadyReplicas, want)
		}
	case wl.StatefulSet != nil:
		s := wl.StatefulSet
		if want := replicas(s.Spec.Replicas); s.Status.ReadyReplicas < want {
			return fmt.Sprintf("statefulset %s: %d/%d ready", s.Name, s.Status.ReadyReplicas, want)
		}
	case wl.DaemonSet != nil:
		d := wl.DaemonSet
		if d.Status.NumberReady < d.Status.DesiredNumberScheduled {
			return fmt.Sprintf("daemonset %s: %d/%d ready", d.Name, d.Status.NumberReady, d.Status.DesiredNumberScheduled)
		}
	case wl.Job != nil:
		j := wl.Job
		if j.Status.Active == 0 && j.Status.Succeeded == 0 && j.Status.CompletionTime == nil && pods == 0 {
			return fmt.Sprintf("job %s: no pods running or completed", j.Name)
		}
	}
	return ""
}

// rootCAConfigMap is the ConfigMap every namespace gets for the service
// account token's CA bundle.
const rootCAConfigMap = "kube-root-ca.crt"

// PodReferences are the objects a pod spec depends on by name.
type PodReferences struct {
	ConfigMaps, Secrets, PVCs []string
	// ImagePullSecrets are also listed in Secrets.
	ImagePullSecrets []string
	ServiceAccount   string
}

// References lists what the pod spec references, each name once, in order
// of first mention. The gatherer looks these up; the rules explain them.
func References(spec *corev1.PodSpec) PodReferences {
	var r PodReferences
	add := func(list *[]string, name string) {
		if name == "" {
			return
		}
		for _, n := range *list {
			if n == name {
				return
			}
		}
		*list = append(*list, name)
	}
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add(&r.ConfigMaps, v.ConfigMap.Name)
		case v.Secret != nil:
			add(&r.Secrets, v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil:
			add(&r.PVCs, v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				// kube-root-ca.crt is published into every namespace by the
				// control plane for the service account token volume: it is
				// not the app's configuration and not worth a lookup.
				if s.ConfigMap != nil && s.ConfigMap.Name != rootCAConfigMap {
					add(&r.ConfigMaps, s.ConfigMap.Name)
				}
				if s.Secret != nil {
					add(&r.Secrets, s.Secret.Name)
				}
			}
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					add(&r.ConfigMaps, e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					add(&r.Secrets, e.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if k := e.ValueFrom.ConfigMapKeyRef; k != nil {
					add(&r.ConfigMaps, k.Name)
				}
				if k := e.ValueFrom.SecretKeyRef; k != nil {
					add(&r.Secrets, k.Name)
				}
			}
		}
	}
	for _, s := range spec.ImagePullSecrets {
		add(&r.ImagePullSecrets, s.Name)
		add(&r.Secrets, s.Name)
	}
	r.ServiceAccount = spec.ServiceAccountName
	if r.ServiceAccount == "" {
		r.ServiceAccount = "default"
	}
	return r
}
