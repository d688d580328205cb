package ui

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// Read-only views of the model for instrumentation: the scale benchmarks
// (kube/kubetest/scale) run the real program and need to know, from a
// wrapping model or tea.WithFilter, the moment the model holds what they
// measure (every pod, a patched restart count) without reaching into its
// fields. None of them changes the model, and each costs O(1) or O(screen),
// so calling them after every Update does not distort what is measured.

// PodCount is the number of pods the tree holds.
func (m Model) PodCount() int { return m.tree.Len() }

// Live reports whether the pods watch has synced and is live.
func (m Model) Live() bool { return m.state == live.Live && !m.ended }

// PodByUID returns the row the tree holds for a pod.
func (m Model) PodByUID(uid types.UID) (live.PodRow, bool) {
	it := m.tree.rows[uid]
	if it == nil {
		return live.PodRow{}, false
	}
	return *it.row, true
}

// VisiblePods returns the pods whose rows are on screen, top to bottom.
func (m Model) VisiblePods() []live.PodRow {
	t := &m.tree
	var out []live.PodRow
	for i := t.top; i < len(t.lines) && i < t.top+t.rowsVisible(); i++ {
		if l := t.lines[i]; l.kind == podNode {
			out = append(out, *l.pod)
		}
	}
	return out
}

// FilterPending reports whether the query typed into the filter is still
// being matched: the frame that shows its result comes after.
func (m Model) FilterPending() bool { return m.tree.FilterPending() }
