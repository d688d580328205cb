package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestDiagnoseCronJobLive runs `kdoctor diagnose cj/NAME` and `-A` with a
// kubeconfig against a real kube-apiserver holding a CronJob whose latest
// Job failed and a Forbid CronJob blocked behind a hung Job.
func TestDiagnoseCronJobLive(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 2*time.Minute)
	srv.ApplyForTest(ctx, t, kubetest.RuleFixtures(t, "cronjob-job-failed", "cronjob-concurrency-blocked")...)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-n", "reporting", "cj/nightly-report", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.Target.Kind != "cronjob" || d.RootCause.Rule != "job.backoff-limit-exceeded" || !d.Has("crash.exit-error") {
		t.Errorf("target %v, root cause %s, findings %v", d.Target, d.RootCause.Rule, d.Findings)
	}

	code, out, errOut = runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-A", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ds []diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.Target.Kind+"/"+d.Target.Name] = d.RootCause.Rule
	}
	if got["cronjob/nightly-report"] != "job.backoff-limit-exceeded" || got["cronjob/ledger-sync"] != "cronjob.concurrency-blocked" {
		t.Errorf("target-less diagnosis found %v", got)
	}
	for k := range got {
		if k != "cronjob/nightly-report" && k != "cronjob/ledger-sync" {
			t.Errorf("target-less diagnosis lists %s, which the CronJobs cover", k)
		}
	}
}
