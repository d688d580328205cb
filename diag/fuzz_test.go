package diag_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// FuzzDiagnose feeds arbitrary pod statuses, event messages, condition
// messages and log text through the engine and the renderers: whatever the
// API or a runtime writes, the diagnosis must not panic and must name a
// catalogue rule (or none).
// Seeds live in testdata/fuzz/FuzzDiagnose; run with
// go test ./diag -run '^$' -fuzz FuzzDiagnose -fuzztime 30s.
func FuzzDiagnose(f *testing.F) {
	f.Add("Running", "CrashLoopBackOff", "back-off 5m0s restarting failed container=app", "Error", int32(1), int32(7),
		"BackOff", "Back-off restarting failed container", "spec.containers{app}", "PodScheduled", "", "panic: boom\n")
	f.Add("Pending", "", "", "", int32(0), int32(0), "FailedScheduling",
		"0/3 nodes are available: 1 node(s) had taint {a: b}, that the pod didn't tolerate, 2 Insufficient cpu. preemption: 0/3",
		"", "PodScheduled", "0/0 nodes are available", "")
	f.Add("Pending", "ImagePullBackOff", `Back-off pulling image "x"`, "", int32(0), int32(0), "Failed",
		`Failed to pull image "x": pull access denied, repository does not exist or may require authorization`, "spec.containers{app}", "Ready", "", "")
	f.Add("Running", "", "", "OOMKilled", int32(137), int32(3), "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500",
		"spec.containers{", "Ready", "", "java.lang.OutOfMemoryError: Java heap space\nforbidden: User \"system:serviceaccount:a:b\" cannot list resource \"pods\"")
	f.Add("Failed", "", "", "StartError", int32(-1073741819), int32(0), "FailedCreate", `exceeded quota: q, requested: a=1, used: a=, limited:`,
		"", "DisruptionTarget", "The node was low on resource: ", "")

	f.Fuzz(func(t *testing.T, phase, waitReason, waitMsg, termReason string, exitCode, restarts int32,
		evReason, evMsg, fieldPath, condType, condMsg, logText string) {
		now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		past := metav1.NewTime(now.Add(-2 * time.Minute))
		status := corev1.ContainerStatus{Name: "app", RestartCount: restarts}
		if waitReason != "" {
			status.State.Waiting = &corev1.ContainerStateWaiting{Reason: waitReason, Message: waitMsg}
		} else {
			status.State.Running = &corev1.ContainerStateRunning{StartedAt: past}
		}
		if termReason != "" {
			status.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
				Reason: termReason, ExitCode: exitCode, Message: waitMsg, StartedAt: past, FinishedAt: past,
			}
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid"},
			Spec: corev1.PodSpec{
				NodeName:       "n1",
				InitContainers: []corev1.Container{{Name: "init", Image: waitMsg}},
				Containers: []corev1.Container{{
					Name: "app", Image: evMsg,
					LivenessProbe: &corev1.Probe{FailureThreshold: restarts, TimeoutSeconds: exitCode},
					Env:           []corev1.EnvVar{{Name: "PORT", Value: condMsg}, {Name: "JAVA_OPTS", Value: logText}},
				}},
			},
			Status: corev1.PodStatus{
				Phase:                 corev1.PodPhase(phase),
				Reason:                termReason,
				Message:               condMsg,
				Conditions:            []corev1.PodCondition{{Type: corev1.PodConditionType(condType), Status: corev1.ConditionFalse, Message: condMsg, Reason: evReason}},
				ContainerStatuses:     []corev1.ContainerStatus{status},
				InitContainerStatuses: []corev1.ContainerStatus{status},
			},
		}
		if restarts%2 == 0 {
			pod.Spec.NodeName = ""
		}
		ev := corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "e", Namespace: "shop"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "shop", FieldPath: fieldPath},
			Reason:         evReason, Message: evMsg, Type: "Warning", Count: restarts,
			LastTimestamp: past, FirstTimestamp: metav1.NewTime(now.Add(time.Duration(exitCode) * time.Second)),
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeConditionType(condType), Status: corev1.ConditionStatus(phase), Message: condMsg},
		}}}
		facts := &diag.Facts{
			Target:     diag.Target{Kind: "pod", Namespace: "shop", Name: "web"},
			Now:        now,
			Pod:        pod,
			Events:     diag.List[corev1.Event]{State: diag.Found, Items: []corev1.Event{ev}},
			Node:       diag.FoundRef("n1", node),
			NodeEvents: diag.List[corev1.Event]{State: diag.Found, Items: []corev1.Event{ev}},
			Logs: []diag.ContainerLog{
				{Container: "app", Previous: true, State: diag.Found, Text: logText},
				{Container: "init", Init: true, State: diag.Found, Text: logText},
			},
			Secrets: []diag.Ref[corev1.Secret]{{Name: evMsg, State: diag.NotFound}},
		}
		d := diag.Diagnose(facts)
		if len(d.Findings) == 0 || d.RootCause.Rule != d.Findings[0].Rule {
			t.Fatalf("diagnosis without a consistent root cause: %+v", d.RootCause)
		}
		for _, fd := range d.Findings {
			if fd.Rule != diag.RuleNone && !slices.Contains(diag.Catalogue, fd.Rule) {
				t.Fatalf("finding with rule %q outside the catalogue", fd.Rule)
			}
		}
		if len(d.Steps) != len(diag.Steps) {
			t.Fatalf("%d steps", len(d.Steps))
		}
		_ = diag.Text(d, diag.ANSIStyle())
		_ = diag.Markdown(d)
		js, err := diag.JSON(d)
		if err != nil || !json.Valid(js) {
			t.Fatalf("JSON: %v", err)
		}
	})
}
