package diag_test

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// TestCronJobRulesOnPods: diagnosing a pod of a CronJob, the CronJob's
// state is reported only when the pod is the run in the way.
func TestCronJobRulesOnPods(t *testing.T) {
	sc, err := facts.LoadScenario("../testdata/rules/cronjob-concurrency-blocked")
	if err != nil {
		t.Fatal(err)
	}
	sc.Target = diag.Target{Kind: "pod", Namespace: "payments", Name: "ledger-sync-29919270-w2hx6"}
	d := diagnoseScenario(t, sc)
	if d.RootCause.Rule != "cronjob.concurrency-blocked" {
		t.Errorf("the hung run's pod: root cause %s, want cronjob.concurrency-blocked (it blocks the CronJob)", d.RootCause.Rule)
	}

	sc, err = facts.LoadScenario("../testdata/rules/cronjob-missed-schedule")
	if err != nil {
		t.Fatal(err)
	}
	sc.Target = diag.Target{Kind: "job", Namespace: "platform", Name: "cert-rotate-29919270"}
	if d := diagnoseScenario(t, sc); d.Has("cronjob.missed-schedule") {
		t.Errorf("a completed run reports the CronJob's later misses: %v", d.Findings)
	}
}

// TestCronJobLate: due runs are counted from the schedule the way the
// controller counts them, and a bad schedule is no panic.
func TestCronJobLate(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	at := func(h, m int) *metav1.Time {
		t := metav1.NewTime(time.Date(2026, 11, 20, h, m, 0, 0, time.UTC))
		return &t
	}
	cj := func(schedule string, last *metav1.Time, policy batchv1.ConcurrencyPolicy, active int) *batchv1.CronJob {
		c := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: *at(0, 0)},
			Spec:   batchv1.CronJobSpec{Schedule: schedule, ConcurrencyPolicy: policy},
			Status: batchv1.CronJobStatus{LastScheduleTime: last}}
		for range active {
			c.Status.Active = append(c.Status.Active, corev1ObjectReference("c-1"))
		}
		return c
	}
	for _, tc := range []struct {
		name        string
		cj          *batchv1.CronJob
		activeSince time.Time
		want        string
	}{
		{"on time", cj("0 * * * *", at(10, 0), batchv1.AllowConcurrent, 0), time.Time{}, ""},
		{"missed three", cj("0 * * * *", at(6, 0), batchv1.AllowConcurrent, 0), time.Time{}, "3 scheduled run(s) did not start"}, // 07, 08, 09; 10:00 is within the controller's slack,
		{"blocked", cj("*/15 * * * *", at(9, 0), batchv1.ForbidConcurrent, 1), at(9, 0).Time, "3 run(s) skipped behind active job c-1"},
		{"allowed overlap", cj("*/15 * * * *", at(9, 0), batchv1.AllowConcurrent, 1), at(9, 0).Time, ""},
		{"garbage", cj("61 * * * * * *", nil, batchv1.AllowConcurrent, 0), time.Time{}, ""},
		{"bad zone", cj("TZ=Nowhere/Else 0 * * * *", nil, batchv1.AllowConcurrent, 0), time.Time{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diag.CronJobLate(tc.cj, tc.activeSince, now)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("CronJobLate = %q, want %q", got, tc.want)
			}
		})
	}
}

func corev1ObjectReference(name string) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", Name: name}
}
