package kubetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	syntheticPodsPerRS   = 50  // pods per synthetic ReplicaSet
	syntheticPodsPerNode = 110 // the kubelet's default max pods
)

// CreateSyntheticPods creates n realistic pods in namespace for scale
// benchmarks: two containers with probes and resources, owned by synthetic
// ReplicaSets, spread over synthetic nodes served by the fake kubelet, with
// a fixed mix of statuses (per 100 pods: 86 running and ready, 4 running but
// not ready, 4 CrashLoopBackOff after an OOMKill, 3 ImagePullBackOff, 3
// Pending unschedulable). Names are deterministic (synth-00042), so calling
// it again with a larger n adds the missing pods. workers requests run in
// parallel (the server sustains ~800 pods/s with 32 on two cores).
func (s *Server) CreateSyntheticPods(ctx context.Context, namespace string, n, workers int) error {
	if n <= 0 {
		return nil
	}
	workers = max(min(workers, n), 1)
	ap := &applier{s: s, namespaces: map[string]bool{}}
	if err := ap.ensureNamespace(ctx, namespace); err != nil {
		return fmt.Errorf("kubetest: synthetic pods: %w", err)
	}
	nodes := (n + syntheticPodsPerNode - 1) / syntheticPodsPerNode
	for i := range nodes {
		name := fmt.Sprintf("%s-node-%d", namespace, i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("15800m"), corev1.ResourceMemory: resource.MustParse("62Gi"), corev1.ResourcePods: resource.MustParse("110")},
				NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OperatingSystem: "linux", Architecture: "amd64", ContainerRuntimeVersion: "containerd://2.1.0"},
			},
		}
		if _, err := s.CreateNode(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	rsCount := (n + syntheticPodsPerRS - 1) / syntheticPodsPerRS
	owners := make([]*appsv1.ReplicaSet, rsCount)
	for i := range rsCount {
		rs, err := s.syntheticReplicaSet(ctx, namespace, i)
		if err != nil {
			return err
		}
		owners[i] = rs
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := s.createSyntheticPod(ctx, namespace, i, owners[i/syntheticPodsPerRS]); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("kubetest: synthetic pods: %w", firstErr)
	}
	return ctx.Err()
}

func syntheticLabels(i int) map[string]string {
	return map[string]string{"app": fmt.Sprintf("synth-%d", i), "tier": "backend", "pod-template-hash": fmt.Sprintf("%08x", 0x5f3a0000+i)}
}

func (s *Server) syntheticReplicaSet(ctx context.Context, namespace string, i int) (*appsv1.ReplicaSet, error) {
	labels := syntheticLabels(i)
	replicas := int32(syntheticPodsPerRS)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("synth-%d-%s", i, labels["pod-template-hash"]), Namespace: namespace, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: syntheticPodSpec()},
		},
	}
	c := s.admin.AppsV1().ReplicaSets(namespace)
	created, err := c.Create(ctx, rs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = c.Get(ctx, rs.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("kubetest: synthetic replicaset %s: %w", rs.Name, err)
	}
	return created, nil
}

func syntheticPodSpec() corev1.PodSpec {
	probe := func(path string, port int, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt(port)}},
			PeriodSeconds:    period,
			TimeoutSeconds:   1,
			FailureThreshold: 3,
			SuccessThreshold: 1,
		}
	}
	res := func(cpu, mem, cpuLim, memLim string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLim), corev1.ResourceMemory: resource.MustParse(memLim)},
		}
	}
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "registry.example.com/shop/api:1.42.0",
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Env:            []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
			Resources:      res("100m", "128Mi", "500m", "256Mi"),
			LivenessProbe:  probe("/healthz", 8080, 10),
			ReadinessProbe: probe("/ready", 8080, 5),
		}, {
			Name: "proxy", Image: "registry.example.com/infra/envoy:1.30.2",
			Ports:          []corev1.ContainerPort{{Name: "admin", ContainerPort: 9901, Protocol: corev1.ProtocolTCP}},
			Resources:      res("50m", "64Mi", "200m", "128Mi"),
			ReadinessProbe: probe("/ready", 9901, 5),
		}},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptrTo(int64(30)),
		DNSPolicy:                     corev1.DNSClusterFirst,
	}
}

func ptrTo[T any](v T) *T { return &v }

// createSyntheticPod creates pod i and sets its status; an existing pod is
// left as it is.
func (s *Server) createSyntheticPod(ctx context.Context, namespace string, i int, owner *appsv1.ReplicaSet) error {
	labels := syntheticLabels(i / syntheticPodsPerRS)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("synth-%05d", i), Namespace: namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner.Name, UID: owner.UID,
				Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true),
			}},
		},
		Spec: syntheticPodSpec(),
	}
	bucket := i % 100
	unschedulable := bucket >= 97
	if !unschedulable {
		pod.Spec.NodeName = fmt.Sprintf("%s-node-%d", namespace, i/syntheticPodsPerNode)
	}
	c := s.admin.CoreV1().Pods(namespace)
	created, err := c.Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create pod %s: %w", pod.Name, err)
	}
	created.Status = syntheticStatus(created, bucket, time.Now())
	if _, err := c.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod %s status: %w", pod.Name, err)
	}
	return nil
}

func syntheticStatus(p *corev1.Pod, bucket int, now time.Time) corev1.PodStatus {
	start := metav1.NewTime(now.Add(-time.Duration(2+bucket) * time.Hour))
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		st := corev1.ConditionTrue
		if !ok {
			st = corev1.ConditionFalse
		}
		return corev1.PodCondition{Type: t, Status: st, Reason: reason, LastTransitionTime: start}
	}
	ip := fmt.Sprintf("10.244.%d.%d", (bucket/250)%250, 2+bucket%250)
	running := func(name, image string, ready bool, restarts int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{
			Name: name, Image: image, ImageID: image + "@sha256:0f1e2d3c", Ready: ready, Started: ptrTo(true),
			RestartCount: restarts, ContainerID: fmt.Sprintf("containerd://%s-%s", p.Name, name),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		}
	}
	app, proxy := p.Spec.Containers[0], p.Spec.Containers[1]
	st := corev1.PodStatus{
		Phase: corev1.PodRunning, QOSClass: p.Status.QOSClass, StartTime: &start,
		HostIP: "127.0.0.1", HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}},
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
	}
	switch {
	case bucket < 86: // healthy
		st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true, ""), cond(corev1.PodInitialized, true, ""), cond(corev1.ContainersReady, true, ""), cond(corev1.PodReady, true, "")}
		st.ContainerStatuses = []corev1.ContainerStatus{running(app.Name, app.Image, true, 0), running(proxy.Name, proxy.Image, true, 0)}
	case bucket < 90: // readiness failing
		st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true, ""), cond(corev1.PodInitialized, true, ""), cond(corev1.ContainersReady, false, "ContainersNotReady"), cond(corev1.PodReady, false, "ContainersNotReady")}
		st.ContainerStatuses = []corev1.ContainerStatus{running(app.Name, app.Image, false, 0), running(proxy.Name, proxy.Image, true, 0)}
	case bucket < 94: // CrashLoopBackOff after OOMKilled
		crash := running(app.Name, app.Image, false, int32(5+bucket))
		crash.Started = ptrTo(false)
		crash.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff", Message: fmt.Sprintf("back-off 5m0s restarting failed container=app pod=%s_%s(%s)", p.Name, p.Namespace, p.UID),
		}}
		crash.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "OOMKilled", ContainerID: crash.ContainerID + "-prev",
			StartedAt: metav1.NewTime(now.Add(-3 * time.Minute)), FinishedAt: metav1.NewTime(now.Add(-2 * time.Minute)),
		}}
		st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true, ""), cond(corev1.PodInitialized, true, ""), cond(corev1.ContainersReady, false, "ContainersNotReady"), cond(corev1.PodReady, false, "ContainersNotReady")}
		st.ContainerStatuses = []corev1.ContainerStatus{crash, running(proxy.Name, proxy.Image, true, 0)}
	case bucket < 97: // ImagePullBackOff
		st.Phase = corev1.PodPending
		pull := corev1.ContainerStatus{
			Name: app.Name, Image: app.Image, Started: ptrTo(false),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q", app.Image),
			}},
		}
		st.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, true, ""), cond(corev1.PodInitialized, true, ""), cond(corev1.ContainersReady, false, "ContainersNotReady"), cond(corev1.PodReady, false, "ContainersNotReady")}
		st.ContainerStatuses = []corev1.ContainerStatus{pull, running(proxy.Name, proxy.Image, true, 0)}
	default: // unschedulable
		st = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: p.Status.QOSClass, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, LastTransitionTime: start,
			Message: "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
		}}}
	}
	return st
}
