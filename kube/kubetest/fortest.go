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
	var applied []*facts.Scenario
	if len(scenarios) == 1 && scenarios[0] == "*" {
		root, err := RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		applied, err = facts.LoadScenarios(filepath.Join(root, "testdata", "scenarios"))
		if err != nil {
			t.Fatal(err)
		}
	} else {
		applied = fixtures(t, "scenarios", scenarios)
	}
	srv.ApplyForTest(ctx, t, applied...)
	return srv, applied
}

// RuleFixtures loads the one-per-rule fixtures of testdata/rules by name,
// for a test to apply (ApplyForTest) or change first.
func RuleFixtures(t testing.TB, names ...string) []*facts.Scenario {
	t.Helper()
	return fixtures(t, "rules", names)
}

func fixtures(t testing.TB, dir string, names []string) []*facts.Scenario {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var out []*facts.Scenario
	for _, name := range names {
		sc, err := facts.LoadScenario(filepath.Join(root, "testdata", dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

// ApplyForTest applies scenarios, failing the test on the first error.
func (s *Server) ApplyForTest(ctx context.Context, t testing.TB, scs ...*facts.Scenario) {
	t.Helper()
	for _, sc := range scs {
		if _, err := s.ApplyScenario(ctx, sc); err != nil {
			t.Fatalf("apply scenario %s: %v", sc.Name, err)
		}
	}
}
