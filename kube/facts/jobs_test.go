package facts_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// TestJobsOffline loads the Job and CronJob fixtures as one dump, the way
// --from-file does, and checks that batch/v1 Jobs and CronJobs are read,
// that cronjob/NAME names its most recent failed Job and that Job's pod,
// and that the target-less listing reaches failed Jobs through their
// CronJob without listing their pods again.
func TestJobsOffline(t *testing.T) {
	var dirs []string
	for _, name := range append(slices.Clone(jobFixtures), "cronjob-missed-schedule", "job-deadline-exceeded") {
		dirs = append(dirs, filepath.Join("..", "..", "testdata", "rules", name))
	}
	res, err := facts.LoadDump(dirs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("warnings loading Jobs and CronJobs: %v", res.Warnings)
	}
	set := res.Set
	if set.Get("CronJob", "reporting", "nightly-report") == nil || set.Get("Job", "reporting", "nightly-report-29919000") == nil {
		t.Fatal("the dump's CronJob or Job was not loaded")
	}
	now := facts.NewestTimestamp(set.Objects())

	f, err := facts.BuildFacts(set, diag.Target{Kind: "cronjob", Namespace: "reporting", Name: "nightly-report"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Children) == 0 || f.Children[0].Name != "nightly-report-29919000" {
		t.Errorf("examined job %v, want the most recent failed one, nightly-report-29919000", f.Children)
	}
	if f.Pod == nil || f.Pod.Name != "nightly-report-29919000-t6mnb" {
		t.Errorf("examined pod %v, want nightly-report-29919000-t6mnb (the newest failed pod of that Job)", f.Pod)
	}
	d := diag.Diagnose(&f)
	if d.RootCause.Rule != "job.backoff-limit-exceeded" || !strings.Contains(d.RootCause.Summary, "nightly-report-29919000-t6mnb") {
		t.Errorf("root cause %s: %s", d.RootCause.Rule, d.RootCause.Summary)
	}

	var got []string
	for _, tg := range facts.UnhealthyTargetsAt(set, "", now) {
		got = append(got, tg.Path())
	}
	want := []string{
		"job/analytics/warehouse-export",
		"job/billing/invoice-backfill",
		"job/ml/feature-refresh",
		"cronjob/payments/ledger-sync",
		"cronjob/reporting/nightly-report",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("unhealthy targets\n got %v\nwant %v", got, want)
	}
}
