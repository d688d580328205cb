package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// maxEvents bounds the feed: a flood of events must not grow memory without
// limit; the oldest are forgotten first.
const maxEvents = 5000

// EventFeed holds the scope's Warning events and groups them by object and
// reason, newest first, the way an incident channel wants to read them.
type EventFeed struct {
	events map[types.UID]live.EventRow
}

// NewEventFeed returns an empty feed.
func NewEventFeed() EventFeed { return EventFeed{events: map[types.UID]live.EventRow{}} }

// Apply merges new or updated events.
func (f *EventFeed) Apply(evs []live.EventRow) {
	for _, e := range evs {
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

// eventGroup is one object+reason with counts summed over its events.
type eventGroup struct {
	namespace, kind, name, reason, message string
	count                                  int32
	first, last                            time.Time
}

// Groups returns the grouped events, newest first; with ns and name set,
// only those about that object (and, for a pod, its node).
func (f *EventFeed) Groups(filter func(live.EventRow) bool) []eventGroup {
	byKey := map[string]*eventGroup{}
	for _, e := range f.events {
		if filter != nil && !filter(e) {
			continue
		}
		k := e.Namespace + "/" + e.ObjectKind + "/" + e.ObjectName + "/" + e.Reason
		g := byKey[k]
		if g == nil {
			g = &eventGroup{namespace: e.Namespace, kind: e.ObjectKind, name: e.ObjectName, reason: e.Reason, first: e.First}
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
		return cmp.Or(b.last.Compare(a.last), cmp.Compare(a.name, b.name), cmp.Compare(a.reason, b.reason))
	})
	return out
}

// Len is the number of events held.
func (f *EventFeed) Len() int { return len(f.events) }

// renderEvents formats groups for the pane (styled) and for copying (plain).
func renderEvents(st themes.Styles, groups []eventGroup, now time.Time) (styled, plain string) {
	if len(groups) == 0 {
		msg := "No Warning events in scope."
		return st.Muted.Render(msg), msg
	}
	var s, p strings.Builder
	for i, g := range groups {
		if i > 0 {
			s.WriteByte('\n')
			p.WriteByte('\n')
		}
		head := fmt.Sprintf("%s ×%d  %s/%s %s", g.reason, g.count, strings.ToLower(g.kind), g.name, g.namespace)
		when := fmt.Sprintf("last %s ago, first %s ago", age(now, g.last), age(now, g.first))
		msg := clean(g.message)
		s.WriteString(st.Health[live.Warning].Render(clean(head)) + "  " + st.Muted.Render(when) + "\n  " + st.App.Render(msg) + "\n")
		p.WriteString(clean(head) + "  " + when + "\n  " + msg + "\n")
	}
	return s.String(), p.String()
}
