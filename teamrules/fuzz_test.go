package teamrules_test

import (
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/teamrules"
)

// FuzzTeamRules feeds arbitrary bytes to the rules-file parser: it must
// never panic, an error is one line naming the file, and a file it accepts
// diagnoses and renders without a template error.
// Seeds live in testdata/fuzz/FuzzTeamRules; run with
// go test ./teamrules -run '^$' -fuzz FuzzTeamRules -fuzztime 30s.
func FuzzTeamRules(f *testing.F) {
	f.Add([]byte(good))
	if data, err := os.ReadFile("../testdata/teamrules/db-password-rejected/rules.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("rules:\n  - &r {id: team.a, severity: info, summary: s, explanation: e, match: {exitCode: 1}}\n  - *r\n"))
	f.Add([]byte("rules: [{id: team.a, severity: warning, summary: '{{range .Pod}}{{end}}', explanation: e, match: {event: {message: '(?i)x'}}}]\n"))
	f.Add([]byte("rules:\n  - id: team.n\n    severity: critical\n    step: node\n    rank: node.cordoned\n    summary: '{{.ConditionMessage}}'\n    explanation: e\n    match: {nodeCondition: 'A=Unknown'}\n"))

	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	past := metav1.NewTime(now.Add(-time.Minute))
	facts := diag.Facts{
		Target: diag.Target{Kind: "pod", Namespace: "shop", Name: "web"}, Now: now,
		Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u"},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: past}},
			}}},
		},
		Node: diag.FoundRef("n1", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: "A", Status: "Unknown", Message: "m"}}}}),
		Events: diag.List[corev1.Event]{State: diag.Found, Items: []corev1.Event{{
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", UID: "u"}, Reason: "BackOff", Type: "Warning",
			Message: "x", LastTimestamp: past,
		}}},
		Logs: []diag.ContainerLog{{Container: "app", Previous: true, State: diag.Found, Text: "x\nFATAL: password authentication failed for user \"u\"\n"}},
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := teamrules.Parse("rules.yaml", data)
		if err != nil {
			if rs != nil {
				t.Fatal("an error with a rule set")
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "rules file rules.yaml") {
				t.Fatalf("error is not one line about the file: %q", msg)
			}
			return
		}
		list := rs.List()
		if len(list) < len(diag.RuleIDs()) {
			t.Fatalf("listing lost built-in rules: %d", len(list))
		}
		d := rs.Diagnose(&facts)
		for _, f := range d.Findings {
			for _, s := range append([]string{f.Summary, f.Explanation}, append(f.NextSteps, f.Commands...)...) {
				if strings.Contains(s, "template error") {
					t.Fatalf("accepted a rule whose template fails: %q", s)
				}
			}
		}
		_ = diag.Text(d, diag.TextStyle{})
	})
}
