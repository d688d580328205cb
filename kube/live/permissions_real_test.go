package live_test

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// Restricted identities of the permissions tests.
const (
	nsReader = "ns-reader" // pods, events and logs of one namespace
	podsOnly = "pods-only" // pods of one namespace, nothing else
)

// TestPermissionsAgainstRealAPIServer watches and diagnoses as users who
// may read only part of the cluster: what they cannot read is reported as
// forbidden, with a sentence saying so, never as absent.
func TestPermissionsAgainstRealAPIServer(t *testing.T) {
	srv, applied := kubetest.StartForTest(t, withUsers(nsReader, podsOnly), "crashloop-exit-1")
	sc := applied[0]
	ctx := kubetest.Timeout(t, 60*time.Second)
	ns := sc.Target.Namespace
	grant(t, srv, ns, nsReader, []string{"pods", "pods/log", "events"})
	grant(t, srv, ns, podsOnly, []string{"pods"})

	t.Run("watch one namespace", func(t *testing.T) {
		cl := kubetest.ConnectAs(t, srv, nsReader, "")
		wctx, cancel := context.WithCancel(context.Background())
		w := live.Watch(wctx, cl.Client(), live.Scope{Namespaces: []string{ns}}, live.AllResources)
		defer stopWatcher(t, cancel, w, 5*time.Second)
		tr := trackRows(w)
		want := listPods(ctx, t, srv, ns)
		wantStates := map[string]live.ConnState{
			live.ResPods: live.Live, live.ResEvents: live.Live,
			live.ResNodes: live.Forbidden, live.ResWorkloads: live.Forbidden,
		}
		settled := tr.waitUntil(20*time.Second, func(tr *rowTracker) bool {
			for res, st := range wantStates {
				if tr.resources[res].State != st {
					return false
				}
			}
			return len(tr.rows) == len(want) && tr.events > 0
		})
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if !settled {
			t.Fatalf("resources %+v, %d rows (want %d), %d events", tr.resources, len(tr.rows), len(want), tr.events)
		}
		if st := tr.states[len(tr.states)-1]; st.State != live.Live {
			t.Errorf("header state %v, want live: the pods of the namespace are readable", st.State)
		}
		nodes := kube.Explain(tr.resources[live.ResNodes].Err)
		if !strings.Contains(nodes, "access denied") || !strings.Contains(nodes, `cannot list resource "nodes"`) {
			t.Errorf("nodes forbidden explained as %q", nodes)
		}
	})

	t.Run("watch all namespaces", func(t *testing.T) {
		cl := kubetest.ConnectAs(t, srv, nsReader, "")
		wctx, cancel := context.WithCancel(context.Background())
		w := live.Watch(wctx, cl.Client(), live.Scope{}, live.AllResources)
		defer stopWatcher(t, cancel, w, 5*time.Second)
		tr := trackRows(w)
		if !tr.waitUntil(20*time.Second, func(tr *rowTracker) bool {
			return len(tr.states) > 0 && tr.states[len(tr.states)-1].State == live.Forbidden
		}) {
			t.Fatalf("pods of every namespace: state %+v, want forbidden", tr.lastState())
		}
		// It stays forbidden: retries do not flap to reconnecting.
		time.Sleep(2 * time.Second)
		st := tr.lastState()
		if st.State != live.Forbidden {
			t.Errorf("state went from forbidden to %v", st.State)
		}
		msg := kube.Explain(st.Err)
		want := `access denied: pods is forbidden: User "ns-reader" cannot list resource "pods" in API group "" at the cluster scope; ask for read access, or narrow the scope with -n`
		if msg != want {
			t.Errorf("forbidden explained as\n %q\nwant\n %q", msg, want)
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if len(tr.rows) != 0 {
			t.Errorf("%d rows shown although nothing is readable", len(tr.rows))
		}
	})

	t.Run("diagnose without events, logs and nodes", func(t *testing.T) {
		cl := kubetest.ConnectAs(t, srv, podsOnly, "")
		facts, err := facts.Gather(ctx, cl.Client(), sc.Target, facts.GatherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if facts.Events.State != diag.Unknown || facts.Node.State != diag.Unknown {
			t.Errorf("events %v, node %v: want unknown", facts.Events.State, facts.Node.State)
		}
		for _, l := range facts.Logs {
			if l.State != diag.Unknown || !strings.HasPrefix(l.Reason, "forbidden: ") {
				t.Errorf("log of %s (previous %v): %v %q, want unknown: forbidden", l.Container, l.Previous, l.State, l.Reason)
			}
		}
		d := diag.Diagnose(&facts)
		steps := map[diag.StepName]diag.Step{}
		for _, s := range d.Steps {
			steps[s.Name] = s
		}
		for _, c := range []struct {
			step diag.StepName
			want string
		}{
			{diag.StepEvents, "events: not available (forbidden: "},
			{diag.StepLogs, " (previous): not available (forbidden: "},
			{diag.StepNode, ": not available (forbidden: "},
		} {
			s := steps[c.step]
			ev := strings.Join(s.Evidence, "\n")
			if s.Status != diag.StatusIncomplete || !strings.Contains(ev, c.want) {
				t.Errorf("step %s: %s, evidence:\n%s\nwant incomplete with %q", c.step, s.Status, ev, c.want)
			}
		}
		for _, s := range d.Steps {
			for _, e := range s.Evidence {
				if l := strings.ToLower(e); strings.Contains(l, "not found") || strings.Contains(l, "missing") || strings.Contains(l, "no events") {
					t.Errorf("step %s claims an absence it could not see: %q", s.Name, e)
				}
			}
		}
		for _, f := range d.Findings {
			if strings.HasSuffix(f.Rule, "-missing") || strings.HasSuffix(f.Rule, "-not-found") {
				t.Errorf("finding %s rests on a lookup that was forbidden", f.Rule)
			}
		}
		if d.RootCause.Rule != sc.Rule {
			t.Errorf("root cause %s, want %s from the pod's own status", d.RootCause.Rule, sc.Rule)
		}
	})
}

// grant lets user get, list and watch resources in namespace ns, and waits
// until the authorizer agrees.
func grant(t *testing.T, srv *kubetest.Server, ns, user string, resources []string) {
	t.Helper()
	ctx := kubetest.Timeout(t, 20*time.Second)
	rbac := srv.Client().RbacV1()
	_, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: resources, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client := kubetest.ConnectAs(t, srv, user, "").Client()
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("%s never got to list pods in %s: %v", user, ns, err)
	}
}
