package demo

import (
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
)

// Metrics serves metrics.k8s.io for the demo's running pods, as a
// metrics-server would: each running container gets a steady usage derived
// from its name, between a fifth and three quarters of its limit (or
// request), except that a container the kernel OOM-killed before is back at
// 93% of its memory limit, the way a leak climbs again after a restart.
func (d *Demo) Metrics() metricsclient.MetricsV1beta1Interface {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.metrics == nil {
		d.metrics = d.newMetrics()
	}
	return d.metrics
}

func (d *Demo) newMetrics() metricsclient.MetricsV1beta1Interface {
	fc := metricsfake.NewSimpleClientset()
	pods := func(ns string) ([]corev1.Pod, error) {
		obj, err := d.client.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), ns)
		if err != nil {
			return nil, err
		}
		return obj.(*corev1.PodList).Items, nil
	}
	fc.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		items, err := pods(a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := &metricsv1beta1.PodMetricsList{}
		for i := range items {
			if pm, ok := Sample(&items[i], d.clock()); ok {
				list.Items = append(list.Items, *pm)
			}
		}
		return true, list, nil
	})
	fc.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.GetAction).GetName()
		items, err := pods(a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for i := range items {
			if items[i].Name != name {
				continue
			}
			if pm, ok := Sample(&items[i], d.clock()); ok {
				return true, pm, nil
			}
		}
		gr := metricsv1beta1.Resource("podmetrics")
		return true, nil, errors.NewNotFound(gr, a.GetNamespace()+"/"+name)
	})
	return fc.MetricsV1beta1()
}

// Sample is the demo's usage of a running pod at a moment (see Metrics);
// other pods have none, as with metrics-server. The sandbox serves the same.
func Sample(p *corev1.Pod, at time.Time) (*metricsv1beta1.PodMetrics, bool) {
	if p.Status.Phase != corev1.PodRunning {
		return nil, false
	}
	pm := &metricsv1beta1.PodMetrics{
		TypeMeta:   metav1.TypeMeta{APIVersion: metricsv1beta1.SchemeGroupVersion.String(), Kind: "PodMetrics"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels},
		Timestamp:  metav1.NewTime(at),
		Window:     metav1.Duration{Duration: demoWindow},
	}
	for _, c := range p.Spec.Containers {
		st := containerStatus(p, c.Name)
		if st == nil || st.State.Running == nil {
			continue
		}
		share := 0.2 + float64(hash(p.Namespace, p.Name, c.Name)%55)/100
		memShare := share
		if t := st.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
			memShare = 0.93
		}
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(share*float64(reference(c.Resources, corev1.ResourceCPU, 100))), resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(int64(memShare*float64(reference(c.Resources, corev1.ResourceMemory, 256<<20))), resource.BinarySI),
		}})
	}
	return pm, len(pm.Containers) > 0
}

func (d *Demo) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

// demoWindow is metrics-server's default window.
const demoWindow = 15 * time.Second

// reference is what a demo usage is a share of: the limit, else the
// request, else a typical small container's (in millicores or bytes).
func reference(r corev1.ResourceRequirements, name corev1.ResourceName, fallback int64) int64 {
	for _, l := range []corev1.ResourceList{r.Limits, r.Requests} {
		if q, ok := l[name]; ok && !q.IsZero() {
			if name == corev1.ResourceCPU {
				return q.MilliValue()
			}
			return q.Value()
		}
	}
	return fallback
}

func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func hash(parts ...string) uint32 {
	h := fnv.New32a()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum32()
}
