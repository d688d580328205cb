package inspect

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Exists reads one object to learn whether it exists: nil when it does,
// an error for which apierrors.IsNotFound holds when it does not, and the
// API's error otherwise (a forbidden read says nothing about existence).
func Exists(ctx context.Context, client kubernetes.Interface, kind, namespace, name string) error {
	t, err := resolve(kind, namespace, name)
	if err != nil {
		return err
	}
	_, err = t.kind.get(ctx, client, t.namespace, t.name)
	return wrap("get", t, err)
}

// ScopeEvents returns every event (Normal and Warning) of the namespaces
// given — all namespaces when none is — warnings first, newest first. A
// big cluster holds hundreds of thousands of events: reading stops after
// limit events, and truncated says so.
func ScopeEvents(ctx context.Context, client kubernetes.Interface, namespaces []string, limit int) (evs []corev1.Event, truncated bool, err error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		opts := metav1.ListOptions{Limit: pageSize}
		for {
			list, err := client.CoreV1().Events(ns).List(ctx, opts)
			if err != nil {
				if apierrors.IsResourceExpired(err) && opts.Continue != "" {
					// The continue token outlived etcd's compaction: keep
					// what was read.
					break
				}
				return nil, false, err
			}
			evs = append(evs, list.Items...)
			if len(evs) >= limit {
				evs, truncated = evs[:limit], true
				SortEvents(evs)
				return evs, truncated, nil
			}
			if list.Continue == "" {
				break
			}
			opts.Continue = list.Continue
		}
	}
	SortEvents(evs)
	return evs, false, nil
}
