package kubetest

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// Helpers the real-API-server tests of several kube rooms share (the watch
// in kube/live, the actions in kube/action): connecting as kdoctor does,
// creating namespaces and running pods, and measuring memory.

// Timeout is a context that ends after d or with the test.
func Timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ConnectAs connects as user ("" for the admin) the way kdoctor does:
// through a kubeconfig, with kdoctor's protobuf and rate-limit settings.
// A non-empty server replaces the kubeconfig's API server address.
func ConnectAs(t testing.TB, srv *Server, user, server string) *kube.Cluster {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(path, user); err != nil {
		t.Fatal(err)
	}
	if server != "" {
		cfg, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cfg.Clusters {
			c.Server = server
		}
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	cl, err := kube.Connect(flags, kube.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// CreateNamespace creates a namespace (and nothing else: the ServiceAccount
// admission plugin is off in the harness).
func CreateNamespace(t testing.TB, srv *Server, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := srv.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// StartPod creates a running, ready pod on node with the given containers.
func StartPod(ctx context.Context, t testing.TB, srv *Server, ns, node, name string, owner *metav1.OwnerReference, containers ...string) {
	t.Helper()
	now := metav1.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: node},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	status := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "example/" + c})
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Image: "example/" + c, Ready: true, ContainerID: "containerd://" + name + "-" + c,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	created, err := srv.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status.QOSClass = created.Status.QOSClass
	created.Status = status
	if _, err := srv.Client().CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// HeapInUse forces a collection and returns the live heap in bytes.
func HeapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// MiB formats a byte count in MiB, for test logs.
func MiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
