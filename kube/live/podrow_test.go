package live

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNewPodRow(t *testing.T) {
	yes := true
	owned := metav1.ObjectMeta{
		Name: "web-5d9c7b6f4d-x2k8p", Namespace: "shop",
		Labels:          map[string]string{"pod-template-hash": "5d9c7b6f4d"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-5d9c7b6f4d", Controller: &yes}},
	}
	now := metav1.NewTime(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	cases := []struct {
		name           string
		pod            corev1.Pod
		status, cause  string
		health         Health
		wlKind, wlName string
	}{
		{
			name: "oom crash loop",
			pod: corev1.Pod{ObjectMeta: owned,
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
					Name: "app", RestartCount: 6,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}},
				}}}},
			status: "CrashLoopBackOff", cause: "OOMKilled ×6", health: Failing, wlKind: "Deployment", wlName: "web",
		},
		{
			name: "image tag not found",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "x"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
					Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
						Message: `Back-off pulling image "nginx:1.27.99": ErrImagePull: failed to resolve reference "docker.io/library/nginx:1.27.99": docker.io/library/nginx:1.27.99: not found`}},
				}}}},
			status: "ImagePullBackOff", cause: "image not found", health: Failing,
		},
		{
			name: "init container failing",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "x"},
				Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "migrate"}}, Containers: []corev1.Container{{Name: "app"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{
					Name: "migrate", RestartCount: 3,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}},
				}}}},
			status: "Init:CrashLoopBackOff", cause: "init migrate failing", health: Failing,
		},
		{
			name: "evicted",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "x"},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: ephemeral-storage. Threshold quantity: 1"}},
			status: "Evicted", cause: "the node ran low on disk (ephemeral-storage)", health: Failing,
		},
		{
			name: "stuck terminating",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "x", DeletionTimestamp: &now, Finalizers: []string{"example.com/backup"}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			status: "Terminating", cause: "14d past grace: finalizers example.com/backup still present", health: Warning,
		},
		{
			name: "unschedulable",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "x"},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
					Message: "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}}}},
			status: "Pending", cause: "3 node(s) lack memory", health: Failing,
		},
		{
			name: "healthy",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "x"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning,
					Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}},
			status: "Running", health: Healthy,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewPodRow(&c.pod)
			if r.Status != c.status || r.Cause != c.cause || r.Health != c.health {
				t.Errorf("got status %q cause %q health %v; want %q %q %v", r.Status, r.Cause, r.Health, c.status, c.cause, c.health)
			}
			if r.WorkloadKind != c.wlKind || r.WorkloadName != c.wlName {
				t.Errorf("workload %s/%s, want %s/%s", r.WorkloadKind, r.WorkloadName, c.wlKind, c.wlName)
			}
		})
	}
}

// TestPodRowShowsEphemeralContainers: a debug container added to a pod
// (kubectl debug, kdoctor's debug offer) shows under it with its state,
// after the app containers, without changing the pod's counts.
func TestPodRowShowsEphemeralContainers(t *testing.T) {
	now := metav1.Now()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app"}},
			EphemeralContainers: []corev1.EphemeralContainer{{
				EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "kdoctor-debug-7xk2q", Image: "busybox:1.37"},
				TargetContainerName:      "app",
			}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}},
			EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "kdoctor-debug-7xk2q",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}},
		},
	}
	r := NewPodRow(p)
	if len(r.Containers) != 2 {
		t.Fatalf("containers = %+v, want app and the debug container", r.Containers)
	}
	c := r.Containers[1]
	if c.Name != "kdoctor-debug-7xk2q" || !c.Ephemeral || c.Init || c.State != "Running" {
		t.Errorf("debug container row = %+v", c)
	}
	if r.Total != 1 || r.Ready != 1 || r.Containers[0].Ephemeral {
		t.Errorf("pod counts changed by the debug container: %d/%d, app %+v", r.Ready, r.Total, r.Containers[0])
	}
}
