package facts

import (
	"strings"
	"testing"
)

// TestScenariosLoad checks every shipped story: it decodes strictly, names
// its rule and target, and the target is among its objects.
func TestScenariosLoad(t *testing.T) {
	for _, root := range []string{"../../testdata/scenarios", "../../testdata/rules"} {
		scenarios, err := LoadScenarios(root)
		if err != nil {
			t.Fatal(err)
		}
		if len(scenarios) == 0 {
			t.Fatalf("no scenarios in %s", root)
		}
		for _, s := range scenarios {
			if s.Rule == "" || s.Target.Name == "" {
				t.Errorf("%s: README lacks Rule or Target", s.Name)
				continue
			}
			found := false
			for _, o := range s.Objects {
				if strings.EqualFold(KindOf(o), s.Target.Kind) && o.GetNamespace() == s.Target.Namespace && o.GetName() == s.Target.Name {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: target %s not in objects.yaml", s.Name, s.Target.Path())
			}
			if s.Newest().IsZero() {
				t.Errorf("%s: no timestamps", s.Name)
			}
		}
	}
}
