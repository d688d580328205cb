package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// scenarioDirs lists every story and rule fixture directory.
func scenarioDirs(t testing.TB) []*facts.Scenario {
	t.Helper()
	var out []*facts.Scenario
	for _, root := range []string{"testdata/scenarios", "testdata/rules"} {
		scs, err := facts.LoadScenarios(root)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, scs...)
	}
	if len(out) == 0 {
		t.Fatal("no scenarios under testdata")
	}
	return out
}

func targetArg(t diag.Target) string { return t.Kind + "/" + t.Name }

// TestDiagnoseOfflineScenarios runs the command on every fixture directory
// and checks the JSON names the README's root cause and its other rules.
func TestDiagnoseOfflineScenarios(t *testing.T) {
	for _, sc := range scenarioDirs(t) {
		t.Run(sc.Name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "diagnose", "--from-file", sc.Dir, "-n", sc.Target.Namespace, targetArg(sc.Target), "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, errOut)
			}
			var d diag.Diagnosis
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatalf("output is not one diagnosis in JSON: %v\n%s", err, out)
			}
			if d.RootCause.Rule != sc.Rule {
				t.Errorf("root cause %s, README says %s", d.RootCause.Rule, sc.Rule)
			}
			for _, also := range sc.Also {
				if !d.Has(also) {
					t.Errorf("missing finding %s", also)
				}
			}
			if d.Target.Kind != sc.Target.Kind || d.Target.Name != sc.Target.Name || d.Target.Namespace != sc.Target.Namespace {
				t.Errorf("target %+v, want %+v", d.Target, sc.Target.Path())
			}
		})
	}
}

// TestDiagnoseOfflineMatchesGolden checks the CLI's text output is the
// engine's golden text: the command adds nothing and loses nothing.
func TestDiagnoseOfflineMatchesGolden(t *testing.T) {
	for _, name := range []string{"oom-killed", "crashloop-exit-1", "healthy"} {
		dir := filepath.Join("testdata/scenarios", name)
		sc, err := facts.LoadScenario(dir)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "diagnose", "--from-file", dir, targetArg(sc.Target))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		want, err := os.ReadFile(filepath.Join("testdata/golden", name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("%s: text output differs from testdata/golden/%s.txt", name, name)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("%s: colour codes in output that is not a terminal", name)
		}
	}
}

func TestDiagnoseOutputFormats(t *testing.T) {
	dir := "testdata/scenarios/oom-killed"
	code, md, _ := runCLI(t, "diagnose", "--from-file", dir, "ledger-7d9f8b6c5-qz4wn", "-o", "markdown")
	if code != 0 || !strings.Contains(md, "**Root cause** (error): `crash.oom-killed`") {
		t.Errorf("markdown: exit %d\n%s", code, md)
	}
	// TYPE spelled every way kubectl accepts, and TYPE NAME as two words.
	for _, args := range [][]string{{"po/ledger-7d9f8b6c5-qz4wn"}, {"pods", "ledger-7d9f8b6c5-qz4wn"}, {"deploy/ledger"}, {"deployment", "ledger"}, {"rs/ledger-7d9f8b6c5"}} {
		full := append([]string{"diagnose", "--from-file", dir, "-o", "json"}, args...)
		code, out, errOut := runCLI(t, full...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
			continue
		}
		var d diag.Diagnosis
		if err := json.Unmarshal([]byte(out), &d); err != nil || d.RootCause.Rule != "crash.oom-killed" {
			t.Errorf("%v: root cause %q (err %v)", args, d.RootCause.Rule, err)
		}
	}
}

func TestDiagnoseUsageErrors(t *testing.T) {
	dir := "testdata/scenarios/oom-killed"
	for _, args := range [][]string{
		{"diagnose", "--from-file", dir, "ledger", "-o", "xml"},
		{"diagnose", "--from-file", dir, "ledger", "--fail-on", "info"},
		{"diagnose", "--from-file", dir, "ledger", "--fail-on", "Error"},
		{"diagnose", "--from-file", dir, "svc/ledger"},
		{"diagnose", "--from-file", dir, "ledger", "--now", "yesterday"},
		{"diagnose", "--from-file", dir, "a", "b", "c"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errOut)
		}
	}
}

func TestDiagnoseBadInput(t *testing.T) {
	tmp := t.TempDir()
	garbage := filepath.Join(tmp, "garbage.yaml")
	if err := os.WriteFile(garbage, []byte("{{{ this is not yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"garbage":        {"diagnose", "--from-file", garbage, "web"},
		"missing file":   {"diagnose", "--from-file", filepath.Join(tmp, "nope.yaml"), "web"},
		"absent target":  {"diagnose", "--from-file", "testdata/scenarios/oom-killed", "-n", "payments", "no-such-pod"},
		"absent in kind": {"diagnose", "--from-file", "testdata/scenarios/oom-killed", "-n", "payments", "sts/ledger"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", name, code)
		}
		if lines := strings.Count(strings.TrimSpace(errOut), "\n") + 1; lines != 1 || out != "" {
			t.Errorf("%s: want one error line and no output, got stderr %q stdout %q", name, errOut, out)
		}
	}
}

// TestDiagnoseUnknownKindWarns feeds a dump holding a custom resource: it
// is skipped with a one-line warning and the diagnosis still runs.
func TestDiagnoseUnknownKindWarns(t *testing.T) {
	data, err := os.ReadFile("testdata/scenarios/oom-killed/objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte("\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: payments\n")...)
	var out, errb bytes.Buffer
	a := []string{"diagnose", "--from-file", "-", "ledger-7d9f8b6c5-qz4wn", "-o", "json"}
	code := runWithStdin(a, bytes.NewReader(data), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "Widget") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("want one warning line naming Widget, got %q", errb.String())
	}
	if !strings.Contains(out.String(), `"rule": "crash.oom-killed"`) {
		t.Errorf("diagnosis did not run:\n%s", out.String())
	}
}

// TestDiagnoseAllUnhealthy diagnoses every unhealthy target of a dump and
// ranks them most severe first, as a JSON array.
func TestDiagnoseAllUnhealthy(t *testing.T) {
	code, out, errOut := runCLI(t, "diagnose", "--from-file", "testdata/scenarios/node-not-ready-pleg", "-A", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ds []diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(ds) == 0 {
		t.Fatal("no unhealthy target found")
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].RootCause.Severity > ds[i-1].RootCause.Severity {
			t.Errorf("not ranked by severity: %s (%s) after %s (%s)", ds[i].Target.Name, ds[i].RootCause.Severity, ds[i-1].Target.Name, ds[i-1].RootCause.Severity)
		}
	}
	found := false
	for _, d := range ds {
		if d.Target.Name == "postgres-0" && d.RootCause.Rule == "pod.node-lost" {
			found = true
		}
		if d.Healthy() {
			t.Errorf("healthy target %s listed as unhealthy", d.Target.Name)
		}
	}
	if !found {
		t.Errorf("postgres-0 (pod.node-lost) missing from %d diagnoses", len(ds))
	}

	code, out, _ = runCLI(t, "diagnose", "--from-file", "testdata/scenarios/healthy", "-A", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("healthy cluster: exit %d, output %q, want []", code, out)
	}
}

// TestDiagnoseClusterInfoDump reads the layout of kubectl cluster-info
// dump --output-directory: per-namespace typed lists without item kinds,
// and NS/POD/logs.txt.
func TestDiagnoseClusterInfoDump(t *testing.T) {
	sc, err := facts.LoadScenario("testdata/scenarios/crashloop-exit-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeClusterInfoDump(t, sc)
	code, out, errOut := runCLI(t, "diagnose", "--from-file", dir, "-n", sc.Target.Namespace, sc.Target.Name, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.RootCause.Rule != "crash.exit-error" {
		t.Errorf("root cause %s, want crash.exit-error", d.RootCause.Rule)
	}
	// The dump keeps current logs only: the previous one is unknown, said so.
	var logs diag.Step
	for _, s := range d.Steps {
		if s.Name == diag.StepLogs {
			logs = s
		}
	}
	if logs.Status != diag.StatusIncomplete || !strings.Contains(strings.Join(logs.Evidence, "\n"), "not in the dump") {
		t.Errorf("logs step: %s %v", logs.Status, logs.Evidence)
	}
}

// runWithStdin runs the command line with stdin standing in for the
// process's standard input.
func runWithStdin(args []string, stdin *bytes.Reader, stdout, stderr *bytes.Buffer) int {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	go func() {
		_, _ = stdin.WriteTo(w)
		w.Close()
	}()
	saved := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = saved; r.Close() }()
	return run(args, stdout, stderr)
}

// writeClusterInfoDump lays a scenario out as kubectl cluster-info dump
// --output-directory does: typed lists whose items carry no kind.
func writeClusterInfoDump(t *testing.T, sc *facts.Scenario) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"Pod": "pods", "Event": "events", "Service": "services", "Deployment": "deployments",
		"ReplicaSet": "replicasets", "DaemonSet": "daemonsets"}
	lists := map[string][]any{}
	for _, o := range sc.Objects {
		kind := facts.KindOf(o)
		var path string
		switch {
		case kind == "Node":
			path = "nodes.json"
		case files[kind] != "":
			path = filepath.Join(o.GetNamespace(), files[kind]+".json")
		default:
			continue // cluster-info dump holds no ConfigMaps, Secrets, …
		}
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "kind")
		delete(m, "apiVersion")
		lists[path+"\x00"+kind] = append(lists[path+"\x00"+kind], m)
	}
	for key, items := range lists {
		path, kind, _ := strings.Cut(key, "\x00")
		apiVersion := "v1"
		if kind == "Deployment" || kind == "ReplicaSet" || kind == "DaemonSet" {
			apiVersion = "apps/v1"
		}
		data, err := json.MarshalIndent(map[string]any{"kind": kind + "List", "apiVersion": apiVersion, "metadata": map[string]any{}, "items": items}, "", "    ")
		if err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	byPod := map[string]*strings.Builder{}
	for key, text := range sc.Logs {
		if key.Previous {
			continue // cluster-info dump fetches current logs only
		}
		p := filepath.Join(key.Namespace, key.Pod, "logs.txt")
		if byPod[p] == nil {
			byPod[p] = &strings.Builder{}
		}
		b := byPod[p]
		b.WriteString("==== START logs for container " + key.Container + " of pod " + key.Namespace + "/" + key.Pod + " ====\n")
		b.Write(text)
		b.WriteString("==== END logs for container " + key.Container + " of pod " + key.Namespace + "/" + key.Pod + " ====\n")
	}
	for p, b := range byPod {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// BenchmarkDiagnoseOffline measures the whole offline command on one
// scenario: load the dump, build the facts, diagnose, render JSON.
func BenchmarkDiagnoseOffline(b *testing.B) {
	args := []string{"diagnose", "--from-file", "testdata/scenarios/oom-killed", "ledger-7d9f8b6c5-qz4wn", "-o", "json"}
	b.ReportAllocs()
	for b.Loop() {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
	}
}

// TestDiagnoseDemo: `kdoctor diagnose --demo` diagnoses the demo cluster, as
// the TUI does with --demo (it ignored the flag and suggested it).
func TestDiagnoseDemo(t *testing.T) {
	code, out, errOut := runCLI(t, "diagnose", "--demo", "pod/ledger-7d9f8b6c5-qz4wn", "-n", "payments")
	if code != 0 || !strings.Contains(out, "crash.oom-killed") || !strings.Contains(out, "OutOfMemoryError") {
		t.Fatalf("exit %d, want the OOMKilled diagnosis with its previous log:\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "diagnose", "--demo", "-o", "json")
	if code != 0 || !strings.Contains(out, `"crash.oom-killed"`) || !strings.Contains(out, `"init.failed"`) {
		t.Fatalf("exit %d, want every unhealthy demo target:\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "diagnose", "--demo", "pod/nosuch", "-n", "payments")
	if code == 0 || !strings.Contains(errOut, `"nosuch" not found`) {
		t.Fatalf("exit %d, want a clear not-found: %s", code, errOut)
	}
}

// TestColorFollowsTheTerminal: text output is coloured only where charm's
// colour detection says the terminal shows colours.
func TestColorFollowsTheTerminal(t *testing.T) {
	var buf strings.Builder
	t.Setenv("CLICOLOR_FORCE", "1")
	t.Setenv("TERM", "xterm-256color")
	if !colorWanted(&buf) {
		t.Error("CLICOLOR_FORCE=1 does not colour")
	}
	t.Setenv("NO_COLOR", "1")
	if colorWanted(&buf) {
		t.Error("NO_COLOR colours")
	}
	os.Unsetenv("NO_COLOR")
	t.Setenv("CLICOLOR_FORCE", "")
	if colorWanted(&buf) {
		t.Error("a buffer (not a terminal) is coloured")
	}
}
