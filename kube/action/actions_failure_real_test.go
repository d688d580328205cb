package action_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

const (
	afNS   = "af"
	afNode = "af-node"
)

// TestActionsUnderFailure runs the actions when things go wrong half way:
// a drain held by a PodDisruptionBudget and cancelled, a shell into a
// container that has none, a cordon or drain of a node deleted since the
// user saw it. Each ends with a message saying what was and was not done,
// and the session log records it.
func TestActionsUnderFailure(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 60*time.Second)
	kubetest.CreateNamespace(t, srv, afNS)
	if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: afNode}}); err != nil {
		t.Fatal(err)
	}
	rs, err := srv.Client().AppsV1().ReplicaSets(afNS).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "af-rs"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"rs": "af"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"rs": "af"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	for _, name := range []string{"af-free", "af-guarded"} {
		kubetest.StartPod(ctx, t, srv, afNS, afNode, name, owner, "app")
	}
	// The shell's pod is on a node of its own, out of the drain's way.
	if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "af-exec-node"}}); err != nil {
		t.Fatal(err)
	}
	kubetest.StartPod(ctx, t, srv, afNS, "af-exec-node", "af-shell", nil, "distroless")
	srv.Kubelet().SetNoShell(afNS, "af-shell", "distroless")

	cl := kubetest.ConnectAs(t, srv, "", "")
	log, err := action.OpenSessionLog(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	a := action.NewActions(cl, cl.Config, log)

	t.Run("drain cancelled while a PDB blocks it", func(t *testing.T) { testDrainCancelled(t, srv, a) })
	t.Run("shell into a container without one", func(t *testing.T) {
		cmd := a.Exec(ctx, afNS, "af-shell", "distroless")
		cmd.SetStdin(strings.NewReader("echo hi\n"))
		err := cmd.Run()
		want := "container distroless has no shell (distroless image?): try an ephemeral debug container: kubectl debug -it -n af af-shell --image=busybox --target=distroless"
		if !errors.Is(err, action.ErrNoShell) || kube.Explain(err) != want {
			t.Errorf("shell: %v\nwant %q", err, want)
		}
		if e := lastEntry(t, log); e.Action != "exec" || e.Object != "pod/af/af-shell container distroless" || e.Error != want {
			t.Errorf("session log: %+v", e)
		}
	})
	t.Run("cordon a node deleted meanwhile", func(t *testing.T) {
		const node = "af-gone"
		if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Client().CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := a.Cordon(ctx, node)
		want := "cannot cordon node af-gone: it no longer exists (deleted meanwhile?)"
		if !apierrors.IsNotFound(err) || kube.Explain(err) != want {
			t.Errorf("cordon: %v, want NotFound: %q", err, want)
		}
		if e := lastEntry(t, log); e.Action != "cordon" || e.Object != "node/af-gone" || e.Error != want {
			t.Errorf("session log: %+v", e)
		}
	})
	t.Run("drain a node deleted after the plan", func(t *testing.T) {
		const node = "af-gone-too"
		if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
			t.Fatal(err)
		}
		opts := action.DrainOptions{Timeout: 10 * time.Second}
		plan, err := a.PlanDrain(ctx, node, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Client().CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		var last action.DrainProgress
		sum, err := a.Drain(ctx, plan, opts, func(p action.DrainProgress) { last = p })
		if !apierrors.IsNotFound(err) || sum.Cordoned || len(sum.Evicted)+len(sum.Failed) != 0 {
			t.Errorf("drain: %v, %+v; want NotFound and nothing done", err, sum)
		}
		want := "drain of node af-gone-too not started: cannot drain node af-gone-too: it no longer exists (deleted meanwhile?)"
		if last.Step != action.DrainFinished || last.Message != want {
			t.Errorf("last progress %+v, want %q", last, want)
		}
		if e := lastEntry(t, log); e.Action != "drain" || e.Object != "node/"+node || !strings.Contains(e.Error, "no longer exists") {
			t.Errorf("session log: %+v", e)
		}
	})
}

// testDrainCancelled cancels a drain held up by a PodDisruptionBudget: the
// free pod is evicted, the guarded one stays, the node stays cordoned, the
// summary and session log say so, and no eviction is tried afterwards.
func testDrainCancelled(t *testing.T, srv *kubetest.Server, a *action.Actions) {
	ctx := kubetest.Timeout(t, 30*time.Second)
	pdbs := srv.Client().PolicyV1().PodDisruptionBudgets(afNS)
	one := intstr.FromInt32(1)
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "af-guarded-pdb"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &one,
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "af-guarded"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// No disruption controller runs: the test says the budget is spent.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1}
	if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	opts := action.DrainOptions{RetryDelay: 300 * time.Millisecond}
	plan, err := a.PlanDrain(ctx, afNode, opts)
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var steps []action.DrainProgress
	var cancelledAt time.Time
	sum, err := a.Drain(dctx, plan, opts, func(p action.DrainProgress) {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, p)
		// Cancel once the free pod is gone and the guarded one held up.
		freed := slices.ContainsFunc(steps, func(s action.DrainProgress) bool { return s.Step == action.DrainEvicted })
		if p.Step == action.DrainRetrying && freed && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	returned := time.Now()
	mu.Lock()
	defer mu.Unlock()
	if cancelledAt.IsZero() {
		t.Fatalf("the PDB never held the drain up: %v, %+v", err, sum)
	}
	if lag := returned.Sub(cancelledAt); lag > opts.RetryDelay+2*time.Second {
		t.Errorf("drain returned %v after the cancel", lag)
	}
	if !errors.Is(err, context.Canceled) || !sum.Cancelled || !sum.Cordoned {
		t.Errorf("cancelled drain: %v, %+v", err, sum)
	}
	if !slices.Equal(sum.Evicted, []string{"af/af-free"}) || len(sum.Failed) != 1 || sum.Failed[0].Pod != "af/af-guarded" ||
		!strings.HasPrefix(sum.Failed[0].Reason, "eviction blocked by PodDisruptionBudget af-guarded-pdb") ||
		!strings.HasSuffix(sum.Failed[0].Reason, "; the drain was cancelled") {
		t.Errorf("summary: evicted %v, failed %+v", sum.Evicted, sum.Failed)
	}
	text := sum.String()
	if !strings.HasPrefix(text, "drain of node af-node cancelled after ") || !strings.Contains(text, ": 1 evicted, 0 skipped, 1 failed; af/af-guarded: eviction blocked by PodDisruptionBudget af-guarded-pdb") {
		t.Errorf("summary text %q", text)
	}
	if last := steps[len(steps)-1]; last.Step != action.DrainFinished || last.Message != text {
		t.Errorf("last progress %+v, want the summary", last)
	}
	t.Logf("cancelled drain returned %v after the cancel: %s", returned.Sub(cancelledAt).Round(time.Millisecond), text)

	// What was done stays done, what was not is not tried again.
	node, err := srv.Client().CoreV1().Nodes().Get(ctx, afNode, metav1.GetOptions{})
	if err != nil || !node.Spec.Unschedulable {
		t.Errorf("node after the cancelled drain: %v, unschedulable %v; want cordoned", err, node.Spec.Unschedulable)
	}
	if _, err := srv.Client().CoreV1().Pods(afNS).Get(ctx, "af-guarded", metav1.GetOptions{}); err != nil {
		t.Errorf("guarded pod: %v", err)
	}
	time.Sleep(time.Second)
	events, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Subresource == "eviction" && ev.Time.After(returned) {
			t.Errorf("eviction of %s/%s after the drain returned", ev.Namespace, ev.Name)
		}
	}
	e := lastEntry(t, a.Log)
	if e.Action != "drain" || e.Object != "node/"+afNode || e.Result != text ||
		!strings.Contains(e.Error, "drain of node af-node cancelled: 1 of 2 pods not evicted") {
		t.Errorf("session log: %+v", e)
	}
}

// lastEntry is the session log's latest entry.
func lastEntry(t *testing.T, l *action.SessionLog) action.SessionEntry {
	t.Helper()
	entries := readSessionEntries(t, l)
	if len(entries) == 0 {
		t.Fatal("session log is empty")
	}
	return entries[len(entries)-1]
}
