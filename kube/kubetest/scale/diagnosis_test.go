package scale

import (
	"context"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

func genericFlags(kubeconfig string) *genericclioptions.ConfigFlags {
	f := genericclioptions.NewConfigFlags(true)
	f.KubeConfig = &kubeconfig
	return f
}

// liveDiagnosis is what the diagnosis pane does for one pod: gather the
// facts through the API server (the pod, its owners, events, node, log
// tails including the previous container's) and walk them.
func liveDiagnosis(b *testing.B, c *kube.Cluster, sc *facts.Scenario) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	facts, err := facts.Gather(ctx, c.Client(), sc.Target, facts.GatherOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if !hasPreviousLog(facts) {
		b.Fatal("the live facts hold no previous log: the timing would leave out logs --previous")
	}
	return diag.Diagnose(&facts).RootCause.Rule
}

// offlineDiagnosis is `kdoctor diagnose --from-file` on the scenario's
// directory: read the dump, build the facts, walk them.
func offlineDiagnosis(b *testing.B, sc *facts.Scenario) string {
	dump, err := facts.LoadDump([]string{sc.Dir}, nil)
	if err != nil {
		b.Fatal(err)
	}
	facts, err := facts.BuildFacts(dump.Set, sc.Target, sc.Newest())
	if err != nil {
		b.Fatal(err)
	}
	return diag.Diagnose(&facts).RootCause.Rule
}

func hasPreviousLog(f diag.Facts) bool {
	for _, l := range f.Logs {
		if l.Previous && l.State == diag.Found && l.Text != "" {
			return true
		}
	}
	return false
}
