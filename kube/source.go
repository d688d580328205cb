package kube

import (
	"context"
	"io"

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

// PodLogs streams logs through the API server's pods/log subresource.
func (c *Cluster) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return c.client.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}
