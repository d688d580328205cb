package ui

import (
	"cmp"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// maxEvents bounds the feed: a flood of events must not grow memory without
// limit; the oldest are forgotten first.
const maxEvents = 5000

// EventFeed holds the scope's Warning events as the watch delivers them,
// for the scope's events pane. It is a map handle: copies share it.
type EventFeed struct {
	events map[types.UID]live.EventRow
}

// NewEventFeed returns an empty feed.
func NewEventFeed() EventFeed { return EventFeed{events: map[types.UID]live.EventRow{}} }

// Apply merges new or updated events. Only warnings are kept: the watch
// asks the API server for them, and a server (or the demo's fake) that
// ignores the field selector must not put Normal events under a header
// that says warnings.
func (f *EventFeed) Apply(evs []live.EventRow) {
	for _, e := range evs {
		if e.Type != "" && e.Type != corev1.EventTypeWarning {
			continue
		}
		f.events[e.UID] = e
	}
	if len(f.events) > maxEvents {
		all := make([]live.EventRow, 0, len(f.events))
		for _, e := range f.events {
			all = append(all, e)
		}
		slices.SortFunc(all, func(a, b live.EventRow) int { return a.Last.Compare(b.Last) })
		for _, e := range all[:len(all)-maxEvents] {
			delete(f.events, e.UID)
		}
	}
}

// Rows returns the events held.
func (f *EventFeed) Rows() []live.EventRow {
	out := make([]live.EventRow, 0, len(f.events))
	for _, e := range f.events {
		out = append(out, e)
	}
	return out
}

// Len is the number of events held.
func (f *EventFeed) Len() int { return len(f.events) }

// eventGroup is one object+reason+type with counts summed over its events.
type eventGroup struct {
	namespace, kind, name, reason, message string
	warning                                bool
	count                                  int32
	first, last                            time.Time
}

// groupEvents groups rows by object, reason and type: warnings first, then
// newest first, the way an incident channel wants to read them.
func groupEvents(rows []live.EventRow) []eventGroup {
	byKey := map[string]*eventGroup{}
	for _, e := range rows {
		warning := e.Type == "" || e.Type == corev1.EventTypeWarning
		k := e.Namespace + "/" + e.ObjectKind + "/" + e.ObjectName + "/" + e.Reason + "/" + e.Type
		g := byKey[k]
		if g == nil {
			g = &eventGroup{namespace: e.Namespace, kind: e.ObjectKind, name: e.ObjectName, reason: e.Reason, warning: warning, first: e.First}
			byKey[k] = g
		}
		g.count += e.Count
		if !e.First.IsZero() && (g.first.IsZero() || e.First.Before(g.first)) {
			g.first = e.First
		}
		if !e.Last.Before(g.last) {
			g.last, g.message = e.Last, e.Message
		}
	}
	out := make([]eventGroup, 0, len(byKey))
	for _, g := range byKey {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b eventGroup) int {
		return cmp.Or(-cmp.Compare(boolInt(a.warning), boolInt(b.warning)), b.last.Compare(a.last),
			cmp.Compare(a.name, b.name), cmp.Compare(a.reason, b.reason))
	})
	return out
}
