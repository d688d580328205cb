package facts_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// jobFixtures are rule fixtures whose namespaces do not collide: a CronJob
// whose latest Job failed (CronJob → Job → failed pods), a Forbid CronJob
// blocked behind a hung Job, a standalone Job past its backoff limit, and a
// pod stopped by its own activeDeadlineSeconds.
var jobFixtures = []string{"cronjob-job-failed", "cronjob-concurrency-blocked", "job-backoff-limit-exceeded", "pod-deadline-exceeded"}

// TestJobsAgainstRealAPIServer creates CronJobs, Jobs and their failed pods
// on a real kube-apiserver (statuses written through the status
// subresource, so the server's own Job and pod validation accepts them)
// and checks that the live gather of cronjob/NAME and job/NAME reaches the
// offline diagnosis, names the chain CronJob → Job → pod, reads the failed
// pod's log through pods/log, and that the target-less listing reaches the
// Jobs through their CronJobs instead of listing their pods again.
func TestJobsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 2*time.Minute)
	scs := kubetest.RuleFixtures(t, jobFixtures...)
	srv.ApplyForTest(ctx, t, scs...)

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
			if live.RootCause.Rule != sc.Rule || offline.RootCause.Rule != sc.Rule {
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
		})
	}

	t.Run("cronjob chain", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, spelling := range []string{"cronjob", "cj", "cronjobs"} {
			kind, ok := facts.NormalizeKind(spelling)
			if !ok || kind != "cronjob" {
				t.Fatalf("%s normalizes to %q, %t", spelling, kind, ok)
			}
		}
		target := diag.Target{Kind: "cronjob", Namespace: "reporting", Name: "nightly-report"}
		facts, err := facts.Gather(ctx, srv.Client(), target, facts.GatherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d := diag.Diagnose(&facts)
		text := diag.Text(d, diag.TextStyle{})
		// The server sets every pod's creationTimestamp at apply time, so
		// which of the Job's two equally failed pods is examined is not
		// pinned here; that the chain names one of them, consistently, is.
		if facts.Pod == nil {
			t.Fatalf("no pod examined:\n%s", text)
		}
		pod := facts.Pod.Name
		if !slices.Contains([]string{"nightly-report-29919000-8fk2x", "nightly-report-29919000-t6mnb"}, pod) {
			t.Errorf("examined pod %s, want a pod of the failed Job nightly-report-29919000", pod)
		}
		for _, want := range []string{
			// The chain: the CronJob's most recent failed Job, then its worst pod.
			"examined job nightly-report-29919000, the most recent failed of 3 → pod " + pod,
			"Job nightly-report-29919000 failed: its pods failed 2 time(s), past its backoffLimit of 1; pod " + pod + ", container report exited with code 1",
			// The failed pod's log, read through the API server from the kubelet.
			"logs (report): botocore.exceptions.NoCredentialsError: Unable to locate credentials",
			"kubectl logs -n reporting " + pod + " -c report",
			"Warning BackoffLimitExceeded on job/nightly-report-29919000",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("diagnosis lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("unhealthy listing", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		targets, err := facts.ListUnhealthy(ctx, srv.Client(), "", facts.Selector{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tg := range targets {
			got = append(got, tg.Path())
		}
		for _, want := range []string{"cronjob/reporting/nightly-report", "cronjob/payments/ledger-sync", "job/billing/invoice-backfill", "job/ml/feature-refresh"} {
			if !slices.Contains(got, want) {
				t.Errorf("targets %v lack %s", got, want)
			}
		}
		for _, g := range got {
			// The failed pods of those Jobs are reached through them.
			if strings.HasPrefix(g, "pod/reporting/") || strings.HasPrefix(g, "pod/billing/") || strings.HasPrefix(g, "pod/ml/") {
				t.Errorf("targets %v list %s, which its Job's diagnosis covers", got, g)
			}
		}
	})
}
