package diag_test

import (
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// BenchmarkDiagnose measures the engine alone on one crash-looping pod
// with its events, previous log and node (the oom-killed story).
func BenchmarkDiagnose(b *testing.B) {
	sc, err := facts.LoadScenario("../testdata/scenarios/oom-killed")
	if err != nil {
		b.Fatal(err)
	}
	set := facts.NewObjectSet(sc.Objects...)
	set.Complete, set.LogsComplete = true, true
	for k, v := range sc.Logs {
		set.Logs[k] = v
	}
	facts, err := facts.BuildFacts(set, sc.Target, sc.Newest())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := diag.Diagnose(&facts); d.RootCause.Rule != "crash.oom-killed" {
			b.Fatal(d.RootCause.Rule)
		}
	}
}
