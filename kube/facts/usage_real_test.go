package facts_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
)

// TestGatherUsage diagnoses the usage stories live, with their PodMetrics
// served through the real API server's aggregation layer: the live
// diagnosis must match the offline one. The same pods without
// metrics.k8s.io are diagnosed as before, usage unknown and unmentioned.
func TestGatherUsage(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 2*time.Minute)
	scs := kubetest.RuleFixtures(t, "usage-cpu-throttled-liveness", "usage-memory-near-limit")
	cl := kubetest.ConnectAs(t, srv, "", "")

	// First without metrics.k8s.io: the story without its PodMetrics.
	bare := *scs[0]
	bare.Objects = slices.DeleteFunc(slices.Clone(bare.Objects), func(o facts.Object) bool { return facts.KindOf(o) == "PodMetrics" })
	if _, err := srv.ApplyScenario(ctx, &bare); err != nil {
		t.Fatal(err)
	}
	f, err := facts.Gather(ctx, cl.Client(), bare.Target, facts.GatherOptions{Metrics: cl.Metrics()})
	if err != nil {
		t.Fatal(err)
	}
	if f.Usage.State != diag.Unknown || f.Usage.Reason != usage.NotServed {
		t.Errorf("usage without metrics.k8s.io: %s %q", f.Usage.State, f.Usage.Reason)
	}
	d := diag.Diagnose(&f)
	if d.RootCause.Rule != bare.Rule || d.Has("usage.cpu-at-limit") {
		t.Errorf("without metrics: %v", rules(d))
	}
	if text := diag.Text(d, diag.TextStyle{}); strings.Contains(text, "metrics.k8s.io") {
		t.Errorf("a cluster without metrics is mentioned in the diagnosis:\n%s", text)
	}

	// Then served: each story's PodMetrics go to the metrics server.
	if _, err := srv.ServeMetrics(ctx); err != nil {
		t.Fatal(err)
	}
	for i, sc := range scs {
		if i == 0 {
			// Its objects exist already; only the usage is new.
			if err := srv.PutPodMetrics(sc); err != nil {
				t.Fatal(err)
			}
		} else if _, err := srv.ApplyScenario(ctx, sc); err != nil {
			t.Fatal(err)
		}
		f, err := facts.Gather(ctx, cl.Client(), sc.Target, facts.GatherOptions{Metrics: kube.MetricsOf(cl)})
		if err != nil {
			t.Fatal(err)
		}
		if f.Usage.State != diag.Found {
			t.Fatalf("%s: usage %s %q", sc.Name, f.Usage.State, f.Usage.Reason)
		}
		live, offline := diag.Diagnose(&f), offlineDiagnosis(t, sc)
		if live.RootCause.Rule != sc.Rule || !slices.Equal(rules(live), rules(offline)) {
			t.Errorf("%s: live %v, offline %v, README %s", sc.Name, rules(live), rules(offline), sc.Rule)
		}
		for _, also := range sc.Also {
			if !live.Has(also) {
				t.Errorf("%s: live diagnosis lacks %s: %v", sc.Name, also, rules(live))
			}
		}
	}
}
