package live

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// TestTreeAgreesWithDiagnosis judges every pod of every scenario and rule
// fixture the way the watch does (the pod, its node, the Warning events
// about it; no logs) and diagnoses it the way the pane does (everything).
// The tree's rule must be the diagnosis's root cause, or a finding of its
// describe step that the root cause refines (the logs tell what the crash
// the status shows was about).
func TestTreeAgreesWithDiagnosis(t *testing.T) {
	pods := 0
	for _, root := range []string{"../../testdata/scenarios", "../../testdata/rules"} {
		scs, err := facts.LoadScenarios(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range scs {
			set := facts.NewObjectSet(sc.Objects...)
			set.Complete, set.LogsComplete = true, true
			for k, v := range sc.Logs {
				set.Logs[k] = v
			}
			now := sc.Newest()
			for _, o := range sc.Objects {
				p, ok := o.(*corev1.Pod)
				if !ok {
					continue
				}
				pods++
				name := sc.Name + "/" + p.Name
				rf := rowFactsFrom(set, p, now)
				row := JudgePod(p, rf)
				if rf.Node.Object != nil {
					row = row.OnNode(NewNodeRow(rf.Node.Object), true)
				}
				f, err := facts.BuildFacts(set, diag.Target{Kind: "pod", Namespace: p.Namespace, Name: p.Name}, now)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				d := diag.Diagnose(&f)
				root := d.RootCause.Rule
				switch {
				case row.Rule == root:
				case row.Rule == "" && (root == diag.RuleOK || root == diag.RuleNone) && row.Health != Failing:
					// a quiet or just-starting pod: nothing to name
				case slices.Contains(d.Steps[0].Findings, row.Rule):
				case beyondWatch[root]:
					// the pod is fine; what the diagnosis names needs
					// objects the watch does not hold
				default:
					t.Errorf("%s: tree says %q (%s, %q), diagnosis says %s; describe step found %v",
						name, row.Rule, row.Health, row.Cause, root, d.Steps[0].Findings)
				}
			}
		}
	}
	if pods < 50 {
		t.Fatalf("only %d pods in the fixtures", pods)
	}
}

// beyondWatch are rules that need what the watch does not hold; the tree
// names what it can see of such a pod (its status, the scheduler's words)
// and the pane names the cause.
var beyondWatch = map[string]bool{
	"service.no-endpoints":          true, // Services and Endpoints
	"image.platform-mismatch":       true, // the previous instance's log ("exec format error")
	"volume.provisioning-failed":    true, // the claim and its StorageClass
	"volume.waiting-first-consumer": true, // the claim's Normal events
	"cronjob.concurrency-blocked":   true, // the CronJob's schedule and its Jobs
	"usage.memory-near-limit":       true, // metrics.k8s.io (the usage column colours it)
	"usage.cpu-at-limit":            true, // metrics.k8s.io (the usage column colours it)
}

// rowFactsFrom is what the watch would hold about p in set.
func rowFactsFrom(set *facts.ObjectSet, p *corev1.Pod, now time.Time) RowFacts {
	rf := RowFacts{Now: now, Events: diag.List[corev1.Event]{State: diag.Found}}
	if n := p.Spec.NodeName; n != "" {
		if o, ok := set.Get("Node", "", n).(*corev1.Node); ok {
			rf.Node = diag.FoundRef(n, o)
		} else {
			rf.Node = diag.Ref[corev1.Node]{Name: n, State: diag.NotFound}
		}
	}
	for _, e := range set.EventsFor("Pod", p.Namespace, p.Name, p.UID) {
		if e.Type == corev1.EventTypeWarning {
			rf.Events.Items = append(rf.Events.Items, e)
		}
	}
	if p.Spec.NodeName == "" {
		rf.Nodes.State = diag.Found
		for _, o := range set.List("Node", "") {
			rf.Nodes.Items = append(rf.Nodes.Items, *o.(*corev1.Node))
		}
	}
	rf.ClaimEvents.State = diag.Found
	for _, v := range p.Spec.Volumes {
		if c := v.PersistentVolumeClaim; c != nil {
			for _, e := range set.EventsFor("PersistentVolumeClaim", p.Namespace, c.ClaimName, "") {
				if e.Type == corev1.EventTypeWarning {
					rf.ClaimEvents.Items = append(rf.ClaimEvents.Items, e)
				}
			}
		}
	}
	return rf
}

// TestJudgeRejudgesOnNodeAndEvents: a pod kept by the judge is judged again
// when its node is lost or a Warning event about it arrives, and a deleted
// pod is never handed over again.
func TestJudgeRejudgesOnNodeAndEvents(t *testing.T) {
	j := newJudge(true, true, nil, nil)
	now := metav1.Now()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastTransitionTime: now}}}}
	if rows := j.node(node, false); len(rows) != 0 {
		t.Fatalf("no pod kept yet, got %d rows", len(rows))
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u1", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: false, Started: ptr(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-time.Hour))}}}}},
	}
	first := j.row(p)
	if first.Health == Healthy {
		t.Fatalf("a running pod that is not ready is judged healthy: %+v", first)
	}
	// The readiness probe's warning names the cause.
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.1", Namespace: "shop", UID: "e1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-1", FieldPath: "spec.containers{web}"},
		Type:           corev1.EventTypeWarning, Reason: "Unhealthy", Count: 30,
		Message:        "Readiness probe failed: HTTP probe failed with statuscode: 503",
		FirstTimestamp: metav1.NewTime(now.Add(-50 * time.Minute)), LastTimestamp: now,
	}
	j.event(ev)
	rows := j.flush(time.Now(), false)
	if len(rows) != 1 || rows[0].Rule != "probe.readiness-failing" {
		t.Fatalf("after the Unhealthy event: %+v", rows)
	}
	// The node stops reporting: the pod is on a lost node.
	lost := node.DeepCopy()
	lost.Status.Conditions[0] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
		Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.", LastTransitionTime: now}
	rows = j.node(lost, false)
	if len(rows) != 1 || rows[0].Rule != "pod.node-lost" {
		t.Fatalf("after the node was lost: %+v", rows)
	}
	// A heartbeat alone judges nothing again.
	beat := lost.DeepCopy()
	beat.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(now.Add(time.Minute))
	if rows := j.node(beat, false); len(rows) != 0 {
		t.Fatalf("a heartbeat judged %d pods again", len(rows))
	}
	j.forget(p.UID, p.Namespace, p.Name)
	if !j.deleted(p.UID) {
		t.Fatal("a forgotten pod is not known as deleted")
	}
	if rows := j.node(node, false); len(rows) != 0 {
		t.Fatalf("a deleted pod was judged again: %+v", rows)
	}
}

// BenchmarkJudgePod is the tree's cost of a pod: a quiet one (most of a
// cluster) and one the rules judge.
func BenchmarkJudgePod(b *testing.B) {
	now := metav1.Now()
	quiet := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u1"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: true, Started: ptr(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}},
	}
	crashing := quiet.DeepCopy()
	crashing.Status.Conditions[0].Status = corev1.ConditionFalse
	crashing.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "web", RestartCount: 7,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s restarting failed container=web"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137,
			StartedAt: metav1.NewTime(now.Add(-time.Minute)), FinishedAt: now}}}
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
	}{{"quiet", quiet}, {"crashing", crashing}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = JudgePod(c.pod, RowFacts{Now: now.Time})
			}
		})
	}
}

// TestJudgePodWithTeamRules: the tree judges with the team's rules too, so
// a team rule on what the watch holds (an event) names the row's cause as
// it names the diagnosis's.
func TestJudgePodWithTeamRules(t *testing.T) {
	rules, err := diag.NewRules([]diag.TeamRule{{
		ID: "team.vault-sidecar", Severity: diag.Error, Rank: "sandbox",
		Summary: "Vault agent cannot log in for pod {{.Pod}}", Explanation: "The vault-agent init container is denied.",
		Match: diag.TeamMatch{EventReason: "FailedCreatePodSandBox", EventMessage: regexp.MustCompile(`vault`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-1", Namespace: "shop", UID: "u2", CreationTimestamp: metav1.NewTime(now.Add(-10 * time.Minute))},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "api", Image: "api:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "api",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}},
	}
	ev := corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "api-1.1", Namespace: "shop", UID: "e2"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "api-1"},
		Type:           corev1.EventTypeWarning, Reason: "FailedCreatePodSandBox", Count: 4,
		Message:        `Failed to create pod sandbox: rpc error: code = Unknown desc = vault login failed`,
		FirstTimestamp: metav1.NewTime(now.Add(-9 * time.Minute)), LastTimestamp: now,
	}
	rf := RowFacts{Now: now.Time, Events: diag.List[corev1.Event]{State: diag.Found, Items: []corev1.Event{ev}}, Rules: rules}
	if r := JudgePod(p, rf); r.Rule != "team.vault-sidecar" || r.Health != Failing {
		t.Fatalf("with the team's rules the row says %q (%s, %q)", r.Rule, r.Health, r.Cause)
	}
	rf.Rules = nil
	if r := JudgePod(p, rf); r.Rule == "team.vault-sidecar" {
		t.Fatal("the built-in catalogue alone named the team's rule")
	}
}

// TestJudgeUnscheduledOncePerSecond: a pod not scheduled yet is judged
// against every node, so node changes mark it and the flush judges it at
// most once a second, not once per node of a node list.
func TestJudgeUnscheduledOncePerSecond(t *testing.T) {
	j := newJudge(true, true, nil, nil)
	now := time.Now()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "big-1", Namespace: "ml", UID: "u3", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "big", Image: "big:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "0/2 nodes are available: 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
		}}},
	}
	if r := j.row(p); r.Health != Failing || r.Rule != "sched.insufficient-resources" {
		t.Fatalf("unscheduled pod: %+v", r)
	}
	for i := range 50 {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("n", i)}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
		if rows := j.node(n, false); len(rows) != 0 {
			t.Fatalf("node %d judged %d pods at once", i, len(rows))
		}
	}
	if rows := j.flush(now, false); len(rows) != 1 || rows[0].Rule != "sched.insufficient-resources" {
		t.Fatalf("after the node list: %+v", rows)
	}
	j.node(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-late"}}, false)
	if rows := j.flush(now.Add(100*time.Millisecond), false); len(rows) != 0 {
		t.Fatalf("nothing changed, yet judged again: %d", len(rows))
	}
}

func ptr[T any](v T) *T { return &v }
