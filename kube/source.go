package kube

import (
	"context"
	"io"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// Source is a cluster kdoctor can look at: a real one through a kubeconfig
// (the sandbox is one of those), or the in-process demo. The UI and the
// diagnosis only ever see this interface, so they work the same on all.
type Source interface {
	Client() kubernetes.Interface
	Info() SourceInfo
	// PodLogs opens a container's log, as `kubectl logs` would.
	PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

// MetricsSource is a Source that can read metrics.k8s.io (a cluster, the
// demo). Whether the cluster serves the API is only known by asking.
type MetricsSource interface {
	Metrics() metricsclient.MetricsV1beta1Interface
}

// MetricsOf returns the source's metrics client, or nil when it has none.
func MetricsOf(s Source) metricsclient.MetricsV1beta1Interface {
	if m, ok := s.(MetricsSource); ok {
		return m.Metrics()
	}
	return nil
}

// SourceInfo describes a source for the header.
type SourceInfo struct {
	Context   string
	Server    string
	Namespace string
	Demo      bool
	ReadOnly  bool
	// ReadOnlyWhy names what made it read-only, when known.
	ReadOnlyWhy string
}

// Client returns the typed clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Info describes the connection.
func (c *Cluster) Info() SourceInfo {
	return SourceInfo{Context: c.Context, Server: c.Server, Namespace: c.Namespace, ReadOnly: c.ReadOnly, ReadOnlyWhy: c.ReadOnlyWhy}
}

// Metrics returns the metrics.k8s.io client.
func (c *Cluster) Metrics() metricsclient.MetricsV1beta1Interface { return c.metrics }

// PodLogs streams logs through the API server's pods/log subresource.
func (c *Cluster) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return c.client.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}
