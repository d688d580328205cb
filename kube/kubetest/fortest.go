package kubetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// StartForTest starts a server for one test (skipped under -short), applies
// the named scenarios of testdata/scenarios (all of them for "*"), and
// closes the server when the test ends. It returns the scenarios applied.
func StartForTest(t testing.TB, opts Options, scenarios ...string) (*Server, []*facts.Scenario) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the real API server (not in -short mode)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "scenarios")
	var applied []*facts.Scenario
	if len(scenarios) == 1 && scenarios[0] == "*" {
		applied, err = facts.LoadScenarios(dir)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		for _, name := range scenarios {
			sc, err := facts.LoadScenario(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			applied = append(applied, sc)
		}
	}
	for _, sc := range applied {
		if _, err := srv.ApplyScenario(ctx, sc); err != nil {
			t.Fatalf("apply scenario %s: %v", sc.Name, err)
		}
	}
	return srv, applied
}
