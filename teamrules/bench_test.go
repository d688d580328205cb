package teamrules_test

import (
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/teamrules"
)

// BenchmarkTeamRules diagnoses the team story with the built-ins alone and
// with its two team rules: what a team's rules add to a diagnosis.
func BenchmarkTeamRules(b *testing.B) {
	const dir = "../testdata/teamrules/db-password-rejected"
	sc, err := facts.LoadScenario(dir)
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
	rs, err := teamrules.Load(dir+"/rules.yaml", true)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		rs   *diag.Rules
		want string
	}{{"builtin", diag.BuiltinRules(), "crash.exit-error"}, {"team", rs, sc.Rule}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if d := c.rs.Diagnose(&facts); d.RootCause.Rule != c.want {
					b.Fatalf("root cause %s", d.RootCause.Rule)
				}
			}
		})
	}
}
