// Package inspect reads one object of any kind the TUI shows, as kubectl
// shows it: describe, YAML and events. It only reads.
//
// It depends on client-go, the Kubernetes API types, kubectl's describe
// package and the pure diag (for one event clock) only, so that every other
// room of kdoctor can use it.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// Kind is one kind of object inspect can read.
type Kind struct {
	// Name is the kind as the API spells it: "Deployment".
	Name string
	// GroupVersion is the API group and version the object is read and
	// printed as (apps/v1).
	GroupVersion schema.GroupVersion
	// Resource is the plural resource name: "deployments".
	Resource string
	// Namespaced is false for Node and Namespace.
	Namespaced bool
	// Short are kubectl's short names ("deploy").
	Short []string

	get getFunc
}

// GroupKind is the kind with its API group, as kubectl's DescriberFor wants it.
func (k Kind) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: k.GroupVersion.Group, Kind: k.Name}
}

// GroupVersionKind is what `kubectl get -o yaml` prints as apiVersion and kind.
func (k Kind) GroupVersionKind() schema.GroupVersionKind {
	return k.GroupVersion.WithKind(k.Name)
}

// String is the lower-case kind, as kubectl's messages name it ("deployment").
func (k Kind) String() string { return strings.ToLower(k.Name) }

// got turns a typed Get's result into one signature, with a nil interface
// on error (never a typed nil pointer).
func got[T runtime.Object](obj T, err error) (runtime.Object, error) {
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// getFunc reads one object of a kind.
type getFunc = func(ctx context.Context, c kubernetes.Interface, namespace, name string) (runtime.Object, error)

// kinds lists every kind inspect reads: the rows the TUI shows (pods,
// workloads, nodes, namespaces) and the objects they point at.
var kinds = []Kind{
	{Name: "Pod", GroupVersion: corev1.SchemeGroupVersion, Resource: "pods", Namespaced: true, Short: []string{"po"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "Deployment", GroupVersion: appsv1.SchemeGroupVersion, Resource: "deployments", Namespaced: true, Short: []string{"deploy"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "StatefulSet", GroupVersion: appsv1.SchemeGroupVersion, Resource: "statefulsets", Namespaced: true, Short: []string{"sts"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "DaemonSet", GroupVersion: appsv1.SchemeGroupVersion, Resource: "daemonsets", Namespaced: true, Short: []string{"ds"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "ReplicaSet", GroupVersion: appsv1.SchemeGroupVersion, Resource: "replicasets", Namespaced: true, Short: []string{"rs"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "Job", GroupVersion: batchv1.SchemeGroupVersion, Resource: "jobs", Namespaced: true,
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "CronJob", GroupVersion: batchv1.SchemeGroupVersion, Resource: "cronjobs", Namespaced: true, Short: []string{"cj"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "Node", GroupVersion: corev1.SchemeGroupVersion, Resource: "nodes", Short: []string{"no"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "Namespace", GroupVersion: corev1.SchemeGroupVersion, Resource: "namespaces", Short: []string{"ns"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "Service", GroupVersion: corev1.SchemeGroupVersion, Resource: "services", Namespaced: true, Short: []string{"svc"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "PersistentVolumeClaim", GroupVersion: corev1.SchemeGroupVersion, Resource: "persistentvolumeclaims", Namespaced: true, Short: []string{"pvc"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "ConfigMap", GroupVersion: corev1.SchemeGroupVersion, Resource: "configmaps", Namespaced: true, Short: []string{"cm"},
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
	{Name: "Secret", GroupVersion: corev1.SchemeGroupVersion, Resource: "secrets", Namespaced: true,
		get: func(ctx context.Context, c kubernetes.Interface, ns, name string) (runtime.Object, error) {
			return got(c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}))
		}},
}

// Kinds returns every kind inspect reads, in the order listed above.
func Kinds() []Kind { return append([]Kind(nil), kinds...) }

// ErrUnsupportedKind is wrapped by ParseKind's error for a kind inspect does
// not read (errors.Is).
var ErrUnsupportedKind = errors.New("unsupported kind")

// ParseKind accepts what kubectl accepts for these kinds, in any case: the
// kind ("Deployment"), its plural resource ("deployments"), its short name
// ("deploy"), each optionally followed by its API group ("deployments.apps")
// or version and group ("deployments.v1.apps").
func ParseKind(s string) (Kind, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	name, group, version := in, "", ""
	if i := strings.IndexByte(in, '.'); i >= 0 {
		name, group = in[:i], in[i+1:]
		// "deployments.v1.apps": the first part after the name is a version
		// when what follows it is the group.
		if v, g, ok := strings.Cut(group, "."); ok && strings.HasPrefix(v, "v") {
			for _, k := range kinds {
				if k.GroupVersion.Version == v && k.GroupVersion.Group == g {
					version, group = v, g
					break
				}
			}
		}
	}
	for _, k := range kinds {
		if !k.matches(name) {
			continue
		}
		if strings.Contains(in, ".") && group != k.GroupVersion.Group {
			continue
		}
		if version != "" && version != k.GroupVersion.Version {
			continue
		}
		return k, nil
	}
	return Kind{}, fmt.Errorf("%w %q: inspect reads %s", ErrUnsupportedKind, s, kindList())
}

func (k Kind) matches(name string) bool {
	if name == strings.ToLower(k.Name) || name == k.Resource {
		return true
	}
	for _, s := range k.Short {
		if name == s {
			return true
		}
	}
	return false
}

// kindList names the supported kinds for an error message.
func kindList() string {
	var names []string
	for _, k := range kinds {
		n := k.String()
		if len(k.Short) > 0 {
			n += " (" + strings.Join(k.Short, ", ") + ")"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
