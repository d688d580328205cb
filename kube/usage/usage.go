// Package usage owns metrics.k8s.io, the resource metrics API that
// metrics-server (or another implementation) serves through the aggregation
// layer: what pods and their containers use right now, as `kubectl top`
// shows it. Many clusters do not serve it, or serve it from a
// metrics-server that is down; that is a state to say once (Absent), never
// an error per pod, and nothing else in kdoctor depends on it.
package usage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// Client is the typed metrics.k8s.io client kubectl top uses.
type Client = metricsclient.MetricsV1beta1Interface

// Container is what one container uses.
type Container struct {
	Name        string
	CPUMilli    int64
	MemoryBytes int64
}

// Pod is what a pod's containers use, sampled at Timestamp over Window.
type Pod struct {
	Timestamp  time.Time
	Window     time.Duration
	Containers []Container
}

// Absent says why there is no usage to show: the API is not served, its
// server is down, or the user may not read it. It is the one error callers
// are expected to show as a note rather than as a failure.
type Absent struct {
	Reason string
}

func (a *Absent) Error() string { return a.Reason }

// Pods lists the usage of the pods in namespace ("" for all) that match the
// label selector, keyed by namespace/name (PodMetrics carry no UID).
func Pods(ctx context.Context, c Client, namespace, selector string) (map[types.NamespacedName]*Pod, error) {
	if c == nil {
		return nil, &Absent{Reason: NotServed}
	}
	list, err := c.PodMetricses(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, Explain(err)
	}
	// One backing array: a 100k-pod sample is two allocations, not 100k.
	pods := make([]Pod, len(list.Items))
	out := make(map[types.NamespacedName]*Pod, len(list.Items))
	for i := range list.Items {
		pm := &list.Items[i]
		pods[i] = FromPodMetrics(pm)
		out[types.NamespacedName{Namespace: pm.Namespace, Name: pm.Name}] = &pods[i]
	}
	return out, nil
}

// GetPod reads one pod's PodMetrics. A pod the API has no sample for (not
// running, or started less than a scrape ago) is a NotFound error, which
// Explain leaves alone.
func GetPod(ctx context.Context, c Client, namespace, name string) (*metricsv1beta1.PodMetrics, error) {
	if c == nil {
		return nil, &Absent{Reason: NotServed}
	}
	pm, err := c.PodMetricses(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, Explain(err)
	}
	pm.APIVersion, pm.Kind = metricsv1beta1.SchemeGroupVersion.String(), "PodMetrics"
	return pm, nil
}

// FromPodMetrics condenses a PodMetrics.
func FromPodMetrics(pm *metricsv1beta1.PodMetrics) Pod {
	p := Pod{Timestamp: pm.Timestamp.Time, Window: pm.Window.Duration, Containers: make([]Container, 0, len(pm.Containers))}
	for _, c := range pm.Containers {
		p.Containers = append(p.Containers, Container{Name: c.Name, CPUMilli: c.Usage.Cpu().MilliValue(), MemoryBytes: c.Usage.Memory().Value()})
	}
	return p
}

// NotServed is the reason for a cluster without the API.
const NotServed = "metrics.k8s.io is not served by this cluster (no metrics-server installed)"

// Explain turns the errors that mean "no usage here" into Absent: the group
// is not served (a bare 404 with no object named), it is registered but its
// server does not answer (503, metrics-server down or not ready), or access
// is denied. A 404 that names the pod means only that pod has no sample
// yet, and other failures are real errors; both pass through.
func Explain(err error) error {
	var st apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) && errors.As(err, &st) && groupMissing(st.Status()):
		return &Absent{Reason: NotServed}
	case apierrors.IsServiceUnavailable(err):
		return &Absent{Reason: "metrics.k8s.io is registered but its server is not answering (is metrics-server running?): " + kube.FailureReason(err)}
	case apierrors.IsForbidden(err):
		return &Absent{Reason: "not allowed to read metrics.k8s.io: " + kube.FailureReason(err)}
	}
	return fmt.Errorf("metrics.k8s.io: %w", err)
}

// groupMissing tells the API server's 404 for a path nothing serves ("the
// server could not find the requested resource", which client-go also
// writes when the body is not a Status) from metrics-server's 404 for one
// pod (`podmetrics.metrics.k8s.io "ns/name" not found`).
func groupMissing(st metav1.Status) bool {
	return st.Details == nil || st.Details.Name == "" || strings.Contains(st.Message, "the server could not find the requested resource")
}

// Served asks once whether the API answers in namespace ("" for all), so a
// caller about to read many pods' usage can skip them all with one Absent
// instead of failing each. It lists with a selector nothing carries, which
// costs metrics-server next to nothing.
func Served(ctx context.Context, c Client, namespace string) error {
	if c == nil {
		return &Absent{Reason: NotServed}
	}
	_, err := c.PodMetricses(namespace).List(ctx, metav1.ListOptions{LabelSelector: "kdoctor.dev/served-probe=none"})
	return Explain(err)
}
