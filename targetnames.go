package main

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// namedIn is a target's name and the namespace it is in.
type namedIn struct{ namespace, name string }

// targetLister lists the objects of one diagnose target kind ("pod",
// "deployment", … as facts.NormalizeKind spells them) in a namespace ("" for
// every namespace). Completion and diagnose's namespace lookup read live
// clusters, the demo and dumps through it alike.
type targetLister func(ctx context.Context, kind, namespace string) ([]namedIn, error)

// dumpLister lists the objects of an offline dump.
func dumpLister(set *facts.ObjectSet) targetLister {
	return func(_ context.Context, kind, namespace string) ([]namedIn, error) {
		var out []namedIn
		for _, o := range set.List(facts.APIKind(kind), namespace) {
			out = append(out, namedIn{o.GetNamespace(), o.GetName()})
		}
		return out, nil
	}
}

// clientLister lists through a clientset, as the demo serves its cluster.
func clientLister(c kubernetes.Interface) targetLister {
	return func(ctx context.Context, kind, namespace string) ([]namedIn, error) {
		var list runtime.Object
		var err error
		o := metav1.ListOptions{}
		switch kind {
		case "pod":
			list, err = c.CoreV1().Pods(namespace).List(ctx, o)
		case "deployment":
			list, err = c.AppsV1().Deployments(namespace).List(ctx, o)
		case "statefulset":
			list, err = c.AppsV1().StatefulSets(namespace).List(ctx, o)
		case "daemonset":
			list, err = c.AppsV1().DaemonSets(namespace).List(ctx, o)
		case "replicaset":
			list, err = c.AppsV1().ReplicaSets(namespace).List(ctx, o)
		case "job":
			list, err = c.BatchV1().Jobs(namespace).List(ctx, o)
		case "cronjob":
			list, err = c.BatchV1().CronJobs(namespace).List(ctx, o)
		default:
			return nil, fmt.Errorf("cannot list targets of kind %q", kind)
		}
		if err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		out := make([]namedIn, 0, len(items))
		for _, it := range items {
			if m, err := meta.Accessor(it); err == nil {
				out = append(out, namedIn{m.GetNamespace(), m.GetName()})
			}
		}
		return out, nil
	}
}

// metadataLister lists from a live cluster, metadata only (completion needs
// no specs), each request bounded by completionTimeout.
func metadataLister(c *kube.Cluster) targetLister {
	return func(ctx context.Context, kind, namespace string) ([]namedIn, error) {
		gvr, ok := gvrOf(kind)
		if !ok {
			return nil, fmt.Errorf("cannot list targets of kind %q", kind)
		}
		cfg := rest.CopyConfig(c.Config)
		cfg.Timeout = completionTimeout
		client, err := metadata.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		list, err := client.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]namedIn, 0, len(list.Items))
		for _, o := range list.Items {
			out = append(out, namedIn{o.Namespace, o.Name})
		}
		return out, nil
	}
}

// gvrOf maps any spelling kubectl accepts ("po", "deployments.apps") to the
// resource to list.
func gvrOf(typ string) (schema.GroupVersionResource, bool) {
	k, ok := facts.NormalizeKind(typ)
	if !ok {
		return schema.GroupVersionResource{}, false
	}
	return schema.GroupVersionResource{Group: kindGroup[k], Version: "v1", Resource: k + "s"}, true
}

var kindGroup = map[string]string{"pod": "", "deployment": "apps", "statefulset": "apps", "daemonset": "apps", "replicaset": "apps", "job": "batch", "cronjob": "batch"}

// namespaceOf picks the namespace of a target given without -n where there
// is no context namespace to look in (a dump, the demo): the only namespace
// holding an object of that kind and name, else "default", as kubectl would.
func namespaceOf(ctx context.Context, list targetLister, kind, name string) string {
	objs, err := list(ctx, kind, "")
	if err != nil {
		return metav1.NamespaceDefault
	}
	var found []string
	for _, o := range objs {
		if o.name == name && !slices.Contains(found, o.namespace) {
			found = append(found, o.namespace)
		}
	}
	if len(found) != 1 {
		return metav1.NamespaceDefault
	}
	return found[0]
}
