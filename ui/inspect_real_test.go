package ui

import (
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestEveryRowKindIsInspectableAgainstRealAPIServer: against the real API
// server, d, y and e answer on every kind of row the tree shows — pod,
// Deployment, StatefulSet, DaemonSet, Job, CronJob, namespace and node —
// with kubectl's describe text, the YAML and the events of that object.
func TestEveryRowKindIsInspectableAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "healthy", "oom-killed")
	src := kubetest.ConnectAs(t, srv, "", "")
	r := startProgramWith(t, Options{Source: src}, 140, 40)
	r.waitLive()

	inspect := func(sel subject, describes, kind string) {
		t.Helper()
		r.keys("d")
		r.until("describe of "+sel.String(), func(m Model) bool {
			return paneKindOf(m) == paneDescribe && m.pane.Subject() == sel && strings.Contains(plainOf(m), describes)
		})
		r.keys("esc", "y")
		m := r.until("YAML of "+sel.String(), func(m Model) bool {
			return paneKindOf(m) == paneYAML && m.pane.Subject() == sel && strings.Contains(plainOf(m), "kind: "+kind)
		})
		if strings.Contains(plainOf(m), "managedFields") {
			t.Errorf("%s: the YAML shows managedFields", sel)
		}
		r.keys("esc", "e")
		r.until("events of "+sel.String(), func(m Model) bool {
			p, ok := m.pane.(*eventsPane)
			return ok && p.Subject() == sel && (p.fetched || p.inScope) && !strings.Contains(p.status, "unavailable")
		})
		r.keys("esc", "esc")
		r.until("the pane closed", func(m Model) bool { return m.pane == nil })
	}

	for _, c := range []struct{ kind, apiKind, describes string }{
		{"pod", "Pod", "Containers:"},
		{"deployment", "Deployment", "Replicas:"},
		{"statefulset", "StatefulSet", "Replicas:"},
		{"daemonset", "DaemonSet", "Desired Number of Nodes Scheduled:"},
		{"cronjob", "CronJob", "Schedule:"},
		{"job", "Job", "Completions:"},
		{"namespace", "Namespace", "Status:"},
	} {
		sel := goToRow(r, c.kind, func(s subject) bool { return s.kind == c.kind })
		inspect(sel, c.describes, c.apiKind)
	}
	r.keys("n")
	r.until("grouped by node", func(m Model) bool { return m.tree.byNode })
	sel := goToRow(r, "node", func(s subject) bool { return s.kind == "node" })
	inspect(sel, "Conditions:", "Node")
}
