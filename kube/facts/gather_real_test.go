package facts_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// gatherScenarios are stories whose namespaces do not collide, so one
// server holds them all; together they cover pods and workloads, logs,
// owners' events, the node and referenced objects.
var gatherScenarios = []string{
	"crashloop-exit-1", "oom-killed", "image-tag-not-found", "liveness-probe-failing",
	"unschedulable-insufficient-memory", "limitrange-rejection", "secret-volume-missing",
	"readiness-probe-failing", "init-container-failing",
}

const gatherViewer = "gather-viewer"

// TestGatherAgainstRealAPIServer applies scenarios to a real kube-apiserver
// (with a fake kubelet serving their logs) and checks that the live Gather
// reaches the same root cause as the offline diagnosis of the same story,
// with the previous logs read through pods/log.
func TestGatherAgainstRealAPIServer(t *testing.T) {
	srv, scs := kubetest.StartForTest(t, kubetest.Options{Users: []kubetest.User{{Name: gatherViewer}}}, gatherScenarios...)

	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			facts, err := facts.Gather(ctx, srv.Client(), sc.Target, facts.GatherOptions{})
			if err != nil {
				t.Fatal(err)
			}
			live := diag.Diagnose(&facts)
			offline := offlineDiagnosis(t, sc)
			if live.RootCause.Rule != offline.RootCause.Rule || live.RootCause.Rule != sc.Rule {
				t.Errorf("live root cause %s, offline %s, README %s\nlive findings: %v", live.RootCause.Rule, offline.RootCause.Rule, sc.Rule, rules(live))
			}
			if !slices.Equal(rules(live), rules(offline)) {
				t.Errorf("live findings %v differ from offline %v", rules(live), rules(offline))
			}
			for _, also := range sc.Also {
				if !live.Has(also) {
					t.Errorf("live diagnosis lacks %s: %v", also, rules(live))
				}
			}
			for _, s := range live.Steps {
				if s.Status == diag.StatusIncomplete {
					t.Errorf("step %s incomplete for the admin: %v", s.Name, s.Evidence)
				}
			}
			checkPreviousLogs(t, sc, live)
		})
	}

	t.Run("restricted user", func(t *testing.T) { testRestrictedGather(t, srv, scs) })
	t.Run("absent target", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := facts.Gather(ctx, srv.Client(), diag.Target{Kind: "pod", Namespace: "orders", Name: "no-such-pod"}, facts.GatherOptions{})
		if _, ok := err.(*facts.NotFoundError); !ok {
			t.Errorf("error %v, want a NotFoundError", err)
		}
	})
}

func rules(d *diag.Diagnosis) []string {
	var out []string
	for _, f := range d.Findings {
		out = append(out, f.Rule)
	}
	return out
}

func offlineDiagnosis(t *testing.T, sc *facts.Scenario) *diag.Diagnosis {
	t.Helper()
	set := facts.NewObjectSet(sc.Objects...)
	set.Complete, set.LogsComplete = true, true
	for k, v := range sc.Logs {
		set.Logs[k] = v
	}
	facts, err := facts.BuildFacts(set, sc.Target, sc.Newest())
	if err != nil {
		t.Fatal(err)
	}
	return diag.Diagnose(&facts)
}

// checkPreviousLogs: every previous log of the target pod in the story
// shows in the logs step, line for line, as the kubelet served it.
func checkPreviousLogs(t *testing.T, sc *facts.Scenario, d *diag.Diagnosis) {
	t.Helper()
	var logs diag.Step
	for _, s := range d.Steps {
		if s.Name == diag.StepLogs {
			logs = s
		}
	}
	evidence := strings.Join(logs.Evidence, "\n")
	for key, text := range sc.Logs {
		if !key.Previous || key.Namespace != sc.Target.Namespace || key.Pod != sc.Target.Name {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(text), "\n"), "\n")
		last := lines[len(lines)-1]
		if strings.TrimSpace(last) == "" {
			continue
		}
		if !strings.Contains(evidence, key.Container+" (previous): "+last) {
			t.Errorf("logs step lacks the previous log line %q of %s:\n%s", last, key.Container, evidence)
		}
	}
}

// testRestrictedGather diagnoses as a user who may read pods, events and
// logs in one namespace and nothing else: the gather still succeeds, the
// unreadable pieces are unknown (never "missing"), and the root cause is
// the same.
func testRestrictedGather(t *testing.T, srv *kubetest.Server, scs []*facts.Scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sc *facts.Scenario
	for _, s := range scs {
		if s.Name == "crashloop-exit-1" {
			sc = s
		}
	}
	ns := sc.Target.Namespace
	admin := srv.Client()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "events"}, Verbs: []string{"get", "list"}},
		},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: gatherViewer}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(srv.RESTConfigFor(gatherViewer))
	// The API server's RBAC cache learns of a new binding a moment later.
	for {
		_, err := client.CoreV1().Pods(ns).Get(ctx, sc.Target.Name, metav1.GetOptions{})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the role binding never took effect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	facts, err := facts.Gather(ctx, client, sc.Target, facts.GatherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if facts.Node.State != diag.Unknown || !strings.Contains(facts.Node.Reason, "forbidden") {
		t.Errorf("node: %s (%s), want unknown: forbidden", facts.Node.State, facts.Node.Reason)
	}
	for _, s := range facts.Secrets {
		if s.State == diag.NotFound {
			t.Errorf("secret %s reported not found although it could not be read", s.Name)
		}
	}
	d := diag.Diagnose(&facts)
	if d.RootCause.Rule != sc.Rule {
		t.Errorf("root cause %s, want %s", d.RootCause.Rule, sc.Rule)
	}
	for _, f := range d.Findings {
		if slices.Contains([]string{"config.secret-missing", "config.configmap-missing"}, f.Rule) {
			t.Errorf("forbidden lookups turned into %s", f.Rule)
		}
	}
	if d.Steps[3].Status != diag.StatusIncomplete {
		t.Errorf("node step %s, want incomplete (the node is forbidden)", d.Steps[3].Status)
	}
}
