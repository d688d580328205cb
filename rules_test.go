package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

const teamStory = "testdata/teamrules/db-password-rejected"

// TestRulesCommand: `kdoctor rules` lists the built-ins and the team's
// rules in ranking order, as text and as JSON.
func TestRulesCommand(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	code, out, errOut := runCLI(t, "rules", "--rules", filepath.Join(teamStory, "rules.yaml"), "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list []diag.RuleInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, r := range list {
		pos[r.ID] = i
		if r.Trigger == "" || r.Family == "" || r.Step == "" {
			t.Errorf("%s lacks trigger, family or step: %+v", r.ID, r)
		}
	}
	for _, id := range diag.RuleIDs() {
		if _, ok := pos[id]; !ok {
			t.Errorf("built-in %s not listed", id)
		}
	}
	team, ok := pos["team.db-password-rejected"]
	if !ok || !list[team].Team || list[team].RanksWith != "crash" || list[team].Family != "team" || list[team].Step != diag.StepLogs {
		t.Fatalf("team rule listed as %+v", list[team])
	}
	// Placed with the crash family: after images, before the first crash rule.
	if !(pos["image.not-found"] < team && team < pos["crash.oom-killed"] && team < pos["crash.exit-error"]) {
		t.Errorf("team rule at %d; image.not-found %d, crash.oom-killed %d", team, pos["image.not-found"], pos["crash.oom-killed"])
	}
	if node := pos["team.node-kernel-deadlock"]; !(pos["service.no-endpoints"] < node && node < pos["node.not-ready"] && list[node].Step == diag.StepNode && list[node].RanksWith == "node") {
		t.Errorf("node team rule listed as %+v at %d", list[node], node)
	}

	code, out, _ = runCLI(t, "rules", "--rules", filepath.Join(teamStory, "rules.yaml"))
	if code != exitOK || !strings.HasPrefix(out, "ID") ||
		!strings.Contains(out, "team.db-password-rejected") || !strings.Contains(out, "team rule, ranks with crash: terminated Error and logs --previous ~ /FATAL: +password") {
		t.Errorf("text listing:\n%s", out)
	}
	code, _, errOut = runCLI(t, "rules", "-o", "yaml")
	if code != exitUsage || !strings.Contains(errOut, `unknown output format "yaml"`) {
		t.Errorf("-o yaml: exit %d, %q", code, errOut)
	}
	code, out, _ = runCLI(t, "rules", "--help")
	if code != exitOK || !strings.Contains(out, "ranking order") || !strings.Contains(out, "--rules") {
		t.Errorf("rules --help:\n%s", out)
	}
}

// TestTeamRulesOffline: `diagnose --from-file` with --rules, and with the
// default file in $XDG_CONFIG_HOME, names the team's cause; a broken file
// is one error line with the file, line and field and exit code 2.
func TestTeamRulesOffline(t *testing.T) {
	sc, err := facts.LoadScenario(teamStory)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"diagnose", "--from-file", teamStory, "-n", sc.Target.Namespace, targetArg(sc.Target), "-o", "json"}
	rootCause := func(t *testing.T, extra ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append(slices.Clone(args), extra...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var d diag.Diagnosis
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		return d.RootCause.Rule
	}
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	if got := rootCause(t); got != "crash.exit-error" {
		t.Errorf("without team rules: %s", got)
	}
	if got := rootCause(t, "--rules", filepath.Join(teamStory, "rules.yaml")); got != sc.Rule {
		t.Errorf("with --rules: %s, want %s", got, sc.Rule)
	}
	data, err := os.ReadFile(filepath.Join(teamStory, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, config, map[string]string{"kdoctor/rules.yaml": string(data)})
	if got := rootCause(t); got != sc.Rule {
		t.Errorf("with $XDG_CONFIG_HOME/kdoctor/rules.yaml: %s, want %s", got, sc.Rule)
	}

	bad := filepath.Join(config, "kdoctor", "rules.yaml")
	writeFiles(t, config, map[string]string{"kdoctor/rules.yaml": strings.Replace(string(data), "previousLog: 'FATAL: +password", "previousLog: 'FATAL: +(password", 1)})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"diagnose", args},
		{"rules", []string{"rules"}},
		{"tui", []string{"tui", "--demo"}},
	} {
		code, out, errOut := runCLI(t, c.args...)
		line := errorLine(t, code, errOut)
		if code != exitUsage || out != "" || !strings.Contains(line, "rules file "+bad+":20:") ||
			!strings.Contains(line, "rules[0].match.previousLog: bad regexp") {
			t.Errorf("%s with a bad default file: exit %d, %q", c.name, code, line)
		}
	}
	code, _, errOut := runCLI(t, "rules", "--rules", filepath.Join(config, "nope.yaml"))
	if line := errorLine(t, code, errOut); code != exitUsage || !strings.Contains(line, "rules file "+filepath.Join(config, "nope.yaml")+": no such file") {
		t.Errorf("missing --rules file: exit %d, %q", code, line)
	}
	// Commands that do not diagnose do not read the file.
	if code, _, errOut := runCLI(t, "version"); code != exitOK {
		t.Errorf("version with a bad rules file: exit %d, %s", code, errOut)
	}
}

// TestTeamRulesAgainstRealAPIServer: the team story applied to a real
// kube-apiserver (its log served by the fake kubelet through the API
// server's pods/log), diagnosed live with --rules: the team rule reading
// `logs --previous` names the cause, as for the one pod and in the
// target-less form.
func TestTeamRulesAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	sc, err := facts.LoadScenario(teamStory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ApplyScenario(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	rules := filepath.Join(teamStory, "rules.yaml")

	code, out, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "--rules", rules, "-n", sc.Target.Namespace, targetArg(sc.Target), "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.RootCause.Rule != sc.Rule || !d.Has("crash.exit-error") {
		t.Fatalf("root cause %s (%s), want %s with crash.exit-error", d.RootCause.Rule, d.RootCause.Summary, sc.Rule)
	}
	f := d.Findings[0]
	if !strings.Contains(f.Summary, "user invoices") || !slices.ContainsFunc(f.Evidence, func(e string) bool {
		return strings.HasPrefix(e, "logs --previous (invoices): ") && strings.Contains(e, `FATAL: password authentication failed for user "invoices"`)
	}) {
		t.Errorf("the finding does not show the previous log read through the API server: %+v", f)
	}

	code, out, errOut = runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "--rules", rules, "-A", "-o", "json")
	if code != exitOK {
		t.Fatalf("-A: exit %d: %s", code, errOut)
	}
	var ds []diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ds, func(d diag.Diagnosis) bool { return d.Target.Name == sc.Target.Name && d.RootCause.Rule == sc.Rule }) {
		t.Errorf("target-less diagnosis: %+v", ds)
	}
	// Without the rules file the same pod is a generic crash.
	code, out, _ = runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-n", sc.Target.Namespace, targetArg(sc.Target), "-o", "json")
	if err := json.Unmarshal([]byte(out), &d); code != exitOK || err != nil || d.RootCause.Rule != "crash.exit-error" {
		t.Errorf("without team rules: exit %d, root cause %s", code, d.RootCause.Rule)
	}
}
