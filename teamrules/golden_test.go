package teamrules_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/teamrules"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden diagnoses each story of testdata/teamrules with its own
// rules.yaml, as `kdoctor diagnose --from-file DIR --rules DIR/rules.yaml`
// does, and compares with testdata/golden/team-NAME.{txt,json}. Without
// the team rules the same story must name a built-in cause: the team rule
// is what changes the answer.
func TestGolden(t *testing.T) {
	scs, err := facts.LoadScenarios("../testdata/teamrules")
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) == 0 {
		t.Fatal("no stories under ../testdata/teamrules")
	}
	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			rs, err := teamrules.Load(filepath.Join("../testdata/teamrules", sc.Name, "rules.yaml"), true)
			if err != nil {
				t.Fatal(err)
			}
			set := facts.NewObjectSet(sc.Objects...)
			set.Complete, set.LogsComplete = true, true
			for k, v := range sc.Logs {
				set.Logs[k] = v
			}
			facts, err := facts.BuildFacts(set, sc.Target, sc.Newest())
			if err != nil {
				t.Fatal(err)
			}
			d := rs.Diagnose(&facts)
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
			if builtin := diag.Diagnose(&facts); builtin.RootCause.Rule == sc.Rule {
				t.Errorf("the built-in catalogue alone already names %s: the story does not show a team rule", sc.Rule)
			}
			text := diag.Text(d, diag.TextStyle{})
			js, err := diag.JSON(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []string{text, string(js)} {
				if strings.Contains(out, "template error") || strings.Contains(out, "<no value>") {
					t.Errorf("a template failed to render:\n%s", out)
				}
			}
			compareGolden(t, filepath.Join("../testdata/golden", "team-"+sc.Name+".txt"), []byte(text))
			compareGolden(t, filepath.Join("../testdata/golden", "team-"+sc.Name+".json"), js)
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./teamrules -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
		for i := range max(len(wl), len(gl)) {
			if i >= len(wl) || i >= len(gl) || wl[i] != gl[i] {
				t.Errorf("%s differs from the output at line %d (run with -update after checking)", path, i+1)
				return
			}
		}
	}
}
