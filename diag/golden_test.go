package diag_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixtureRoots hold the stories (scenarios) and the one-per-rule fixtures.
var fixtureRoots = []string{"../testdata/scenarios", "../testdata/rules"}

type fixture struct {
	name string
	sc   *facts.Scenario
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	var out []fixture
	for _, root := range fixtureRoots {
		if _, err := os.Stat(root); os.IsNotExist(err) {
			continue
		}
		scs, err := facts.LoadScenarios(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range scs {
			out = append(out, fixture{name: sc.Name, sc: sc})
		}
	}
	if len(out) == 0 {
		t.Fatal("no fixtures under ../testdata")
	}
	return out
}

// diagnoseScenario runs the engine on a scenario the way offline mode does:
// the whole story is the cluster, the clock is its newest timestamp.
func diagnoseScenario(t testing.TB, sc *facts.Scenario) *diag.Diagnosis {
	t.Helper()
	set := facts.NewObjectSet(sc.Objects...)
	set.Complete, set.LogsComplete = true, true
	for k, v := range sc.Logs {
		set.Logs[k] = v
	}
	facts, err := facts.BuildFacts(set, sc.Target, sc.Newest())
	if err != nil {
		t.Fatalf("%s: %v", sc.Name, err)
	}
	return diag.Diagnose(&facts)
}

func TestGolden(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			sc := fx.sc
			if sc.Rule == "" || sc.Target.Name == "" {
				t.Fatalf("README.md must name a Rule and a Target")
			}
			d := diagnoseScenario(t, sc)

			var got []string
			for _, f := range d.Findings {
				got = append(got, f.Rule)
			}
			if d.RootCause.Rule != sc.Rule {
				t.Errorf("root cause %s, README says %s; findings %v", d.RootCause.Rule, sc.Rule, got)
			}
			for _, also := range sc.Also {
				if !d.Has(also) {
					t.Errorf("README promises %s among the findings; got %v", also, got)
				}
			}

			text := diag.Text(d, diag.TextStyle{})
			js, err := diag.JSON(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []string{text, string(js)} {
				if strings.Contains(out, "template error") || strings.Contains(out, "<no value>") {
					t.Errorf("a rule template failed to render:\n%s", out)
				}
			}
			compareGolden(t, filepath.Join("../testdata/golden", fx.name+".txt"), []byte(text))
			compareGolden(t, filepath.Join("../testdata/golden", fx.name+".json"), js)
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./diag -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the output (run with -update after checking):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestJSONShape pins the field names other tools read.
func TestJSONShape(t *testing.T) {
	fx := loadFixtures(t)[0]
	js, err := diag.JSON(diagnoseScenario(t, fx.sc))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"target", "rootCause", "findings", "steps"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	for _, key := range []string{"kind", "namespace", "name"} {
		if _, ok := m["target"].(map[string]any)[key]; !ok {
			t.Errorf("target lacks %q", key)
		}
	}
	for _, key := range []string{"rule", "severity", "summary"} {
		if _, ok := m["rootCause"].(map[string]any)[key]; !ok {
			t.Errorf("rootCause lacks %q", key)
		}
	}
	for _, f := range m["findings"].([]any) {
		for _, key := range []string{"rule", "severity", "summary", "explanation", "evidence", "nextSteps", "commands"} {
			if _, ok := f.(map[string]any)[key]; !ok {
				t.Errorf("finding lacks %q", key)
			}
		}
	}
	steps := m["steps"].([]any)
	var names []string
	for _, s := range steps {
		sm := s.(map[string]any)
		names = append(names, sm["name"].(string))
		for _, key := range []string{"status", "evidence", "findings"} {
			if _, ok := sm[key]; !ok {
				t.Errorf("step lacks %q", key)
			}
		}
	}
	if want := []string{"describe", "events", "logs", "node"}; !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
}

// TestCatalogueImplemented checks the engine implements exactly the
// catalogue (plus nothing else), so a rule cannot be added or dropped
// without the catalogue saying so.
func TestCatalogueImplemented(t *testing.T) {
	impl := diag.RuleIDs()
	var cat []string
	for _, id := range diag.Catalogue {
		if id != diag.RuleOK {
			cat = append(cat, id)
		}
	}
	slices.Sort(impl)
	slices.Sort(cat)
	if !slices.Equal(impl, cat) {
		t.Errorf("engine rules and catalogue differ:\nengine:    %v\ncatalogue: %v", impl, cat)
	}
}

// TestCatalogueCovered checks every catalogue rule has a fixture that
// promises it, as root cause or among the findings.
func TestCatalogueCovered(t *testing.T) {
	covered := map[string]bool{}
	for _, fx := range loadFixtures(t) {
		covered[fx.sc.Rule] = true
		for _, a := range fx.sc.Also {
			covered[a] = true
		}
	}
	var missing []string
	for _, id := range diag.Catalogue {
		if !covered[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("catalogue rules with no fixture in testdata: %v", missing)
	}
}
