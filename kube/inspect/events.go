package inspect

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// pageSize is the page size of every list inspect makes (kubectl's
// --chunk-size default), so a namespace with many thousands of events is
// read in bounded pieces. A variable so that tests can make paging happen.
var pageSize int64 = 500

// Events returns the events about one object, as `kubectl describe` finds
// them: events in the object's namespace whose involvedObject is this kind,
// name and namespace, and this UID when the object can be read (so events of
// an earlier object of the same name are left out). Node and Namespace
// events are searched in every namespace, as kubectl does (the kubelet
// records node events in "default"); a node's events are those naming its
// UID or, as the kubelet writes them, its name as UID.
//
// Warnings come first, then the newest first.
func Events(ctx context.Context, client kubernetes.Interface, kind, namespace, name string) ([]corev1.Event, error) {
	t, err := resolve(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	// The UID narrows the search to this very object. Reading the object may
	// fail (deleted meanwhile, or no get permission while events may still
	// be listed): then the search goes by kind and name, as `kubectl events
	// --for` does.
	var uids []string
	if obj, err := t.kind.get(ctx, client, t.namespace, t.name); err == nil {
		if m, err := meta.Accessor(obj); err == nil && m.GetUID() != "" {
			uids = append(uids, string(m.GetUID()))
		}
	}
	if t.kind.Name == "Node" && len(uids) > 0 {
		uids = append(uids, t.name)
	}
	if len(uids) == 0 {
		uids = []string{""}
	}
	var out []corev1.Event
	seen := map[types.UID]bool{}
	for _, uid := range uids {
		evs, err := listEvents(ctx, client, t, uid)
		if err != nil {
			return nil, wrap("events of", t, err)
		}
		for _, e := range evs {
			if e.UID != "" && seen[e.UID] {
				continue
			}
			seen[e.UID] = true
			out = append(out, e)
		}
	}
	SortEvents(out)
	return out, nil
}

// listEvents pages through the events selected by involvedObject fields.
func listEvents(ctx context.Context, client kubernetes.Interface, t target, uid string) ([]corev1.Event, error) {
	set := fields.Set{
		"involvedObject.kind":      t.kind.Name,
		"involvedObject.name":      t.name,
		"involvedObject.namespace": t.namespace,
	}
	if uid != "" {
		set["involvedObject.uid"] = uid
	}
	sel := set.AsSelector()
	opts := metav1.ListOptions{FieldSelector: sel.String(), Limit: pageSize}
	// Events of a cluster-scoped object may be recorded in any namespace.
	api := client.CoreV1().Events(t.namespace)
	var out []corev1.Event
	for {
		list, err := api.List(ctx, opts)
		if err != nil {
			if apierrors.IsResourceExpired(err) && opts.Continue != "" {
				// The continue token outlived etcd's compaction: start over
				// without paging rather than fail.
				out, opts.Continue, opts.Limit = nil, "", 0
				continue
			}
			return nil, err
		}
		// The API server has applied the selector already; a fake clientset
		// (the demo) ignores field selectors, so apply it here as well.
		for _, e := range list.Items {
			if sel.Matches(eventFields(&e)) {
				out = append(out, e)
			}
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// eventFields are the fields the API server lets a field selector on events
// name (k8s.io/kubernetes pkg/registry/core/event ToSelectableFields).
func eventFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"metadata.name":                  e.Name,
		"metadata.namespace":             e.Namespace,
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

// SortEvents orders events warnings first, then newest first (by
// diag.EventLast), then by name so the order is stable.
func SortEvents(evs []corev1.Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		wi, wj := evs[i].Type == corev1.EventTypeWarning, evs[j].Type == corev1.EventTypeWarning
		if wi != wj {
			return wi
		}
		ti, tj := diag.EventLast(&evs[i]), diag.EventLast(&evs[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return evs[i].Name < evs[j].Name
	})
}
