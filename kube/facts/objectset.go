package facts

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ObjectSet is an in-memory snapshot of (part of) a cluster: typed objects
// indexed by kind, namespace, name and UID, events indexed by the object
// they involve, and container logs. Offline diagnosis loads one from a
// dump; the live gatherer fills one with what it fetched. Either way
// BuildFacts reads facts from it, so both modes diagnose the same way.
type ObjectSet struct {
	objects []Object
	byKey   map[objectKey]Object
	byUID   map[types.UID]Object
	byKind  map[string][]Object
	events  []*corev1.Event

	// Logs holds container logs by instance.
	Logs map[LogKey][]byte
	// LogErrors says why a log could not be read (forbidden, not found).
	LogErrors map[LogKey]string

	// Complete means the set holds every object of the cluster (a scenario)
	// or every object that was looked for (a live gather), so an absent
	// object does not exist. A dump is not complete: an object it lacks is
	// unknown unless the dump holds others of its kind in that namespace.
	Complete bool
	// LogsComplete means an absent log is an empty one; false for dumps,
	// which keep only some logs.
	LogsComplete bool

	// unknown records kinds that could not be read, per namespace ("" for
	// cluster-scoped or all namespaces), with the reason.
	unknown map[objectKey]string
}

type objectKey struct{ Kind, Namespace, Name string }

// NewObjectSet returns a set holding objs.
func NewObjectSet(objs ...Object) *ObjectSet {
	s := &ObjectSet{
		byKey: map[objectKey]Object{}, byUID: map[types.UID]Object{}, byKind: map[string][]Object{},
		Logs: map[LogKey][]byte{}, LogErrors: map[LogKey]string{}, unknown: map[objectKey]string{},
	}
	s.Add(objs...)
	return s
}

// Add puts objects into the set; an object with the same kind, namespace
// and name as one already there replaces it. events.k8s.io Events are
// stored as core Events, the form the engine reads.
func (s *ObjectSet) Add(objs ...Object) {
	for _, o := range objs {
		if ev, ok := o.(*eventsv1.Event); ok {
			o = coreEvent(ev)
		}
		kind := KindOf(o)
		key := objectKey{kind, o.GetNamespace(), o.GetName()}
		if old, ok := s.byKey[key]; ok {
			s.remove(old, kind)
		}
		s.byKey[key] = o
		if uid := o.GetUID(); uid != "" {
			s.byUID[uid] = o
		}
		s.byKind[kind] = append(s.byKind[kind], o)
		s.objects = append(s.objects, o)
		if e, ok := o.(*corev1.Event); ok {
			s.events = append(s.events, e)
		}
	}
}

func (s *ObjectSet) remove(old Object, kind string) {
	drop := func(list []Object) []Object {
		for i, o := range list {
			if o == old {
				return append(list[:i:i], list[i+1:]...)
			}
		}
		return list
	}
	s.byKind[kind] = drop(s.byKind[kind])
	s.objects = drop(s.objects)
	if e, ok := old.(*corev1.Event); ok {
		for i, x := range s.events {
			if x == e {
				s.events = append(s.events[:i:i], s.events[i+1:]...)
				break
			}
		}
	}
	if uid := old.GetUID(); uid != "" && s.byUID[uid] == old {
		delete(s.byUID, uid)
	}
}

// Objects returns every object in the order added.
func (s *ObjectSet) Objects() []Object { return s.objects }

// Len returns the number of objects.
func (s *ObjectSet) Len() int { return len(s.objects) }

// Get returns the object of kind ("Pod", "ConfigMap", …) with the name, or nil.
func (s *ObjectSet) Get(kind, namespace, name string) Object {
	return s.byKey[objectKey{kind, namespace, name}]
}

// ByUID returns the object with the UID, or nil.
func (s *ObjectSet) ByUID(uid types.UID) Object { return s.byUID[uid] }

// List returns the objects of kind in namespace ("" for every namespace),
// sorted by namespace and name.
func (s *ObjectSet) List(kind, namespace string) []Object {
	var out []Object
	for _, o := range s.byKind[kind] {
		if namespace == "" || o.GetNamespace() == namespace {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].GetNamespace() != out[j].GetNamespace() {
			return out[i].GetNamespace() < out[j].GetNamespace()
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out
}

// EventsFor returns the events involving the object, matched by UID when
// the event records one, else by kind, namespace and name.
func (s *ObjectSet) EventsFor(kind, namespace, name string, uid types.UID) []corev1.Event {
	var out []corev1.Event
	for _, e := range s.events {
		io := e.InvolvedObject
		if io.Kind != kind || io.Name != name || (io.Namespace != namespace && namespace != "") {
			continue
		}
		// Node events carry the node's name as UID; only compare real UIDs.
		if io.UID != "" && uid != "" && io.UID != uid && string(io.UID) != name {
			continue
		}
		out = append(out, *e)
	}
	return out
}

// MarkUnknown records that objects of kind in namespace ("" for all)
// could not be read, and why. Lookups of that kind then report Unknown
// with the reason instead of "not found".
func (s *ObjectSet) MarkUnknown(kind, namespace, reason string) {
	s.unknown[objectKey{Kind: kind, Namespace: namespace}] = reason
}

// unknownReason returns why kind cannot be trusted in namespace: it was
// marked unreadable, or the set is a partial dump that holds none of it.
func (s *ObjectSet) unknownReason(kind, namespace string) (string, bool) {
	if r, ok := s.unknown[objectKey{Kind: kind, Namespace: namespace}]; ok {
		return r, true
	}
	if r, ok := s.unknown[objectKey{Kind: kind}]; ok {
		return r, true
	}
	if s.Complete {
		return "", false
	}
	for _, o := range s.byKind[kind] {
		if namespace == "" || o.GetNamespace() == namespace || o.GetNamespace() == "" {
			return "", false
		}
	}
	return "no " + kind + " objects in the dump", true
}

// coreEvent converts an events.k8s.io Event to the core form.
func coreEvent(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          *e.ObjectMeta.DeepCopy(),
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Type:                e.Type,
		EventTime:           e.EventTime,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Action:              e.Action,
		Related:             e.Related,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
		Source:              corev1.EventSource{Component: e.DeprecatedSource.Component, Host: e.DeprecatedSource.Host},
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	out.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Event"}
	return out
}
