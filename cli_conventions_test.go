package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestDiagnoseOutputYAML: -o yaml is the -o json document, for one target
// (an object) and for the target-less form (a list).
func TestDiagnoseOutputYAML(t *testing.T) {
	dir := "testdata/scenarios/oom-killed"
	for name, target := range map[string][]string{"one target": {"ledger-7d9f8b6c5-qz4wn"}, "all": {"-A"}} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"diagnose", "--from-file", dir}, target...)
			code, js, errOut := runCLI(t, append(args, "-o", "json")...)
			if code != 0 {
				t.Fatalf("json: exit %d: %s", code, errOut)
			}
			code, ys, errOut := runCLI(t, append(args, "-o", "yaml")...)
			if code != 0 {
				t.Fatalf("yaml: exit %d: %s", code, errOut)
			}
			if strings.HasPrefix(strings.TrimSpace(ys), "{") || strings.HasPrefix(strings.TrimSpace(ys), "[") {
				t.Fatalf("-o yaml printed JSON:\n%s", ys)
			}
			var fromJSON, fromYAML any
			if err := json.Unmarshal([]byte(js), &fromJSON); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(ys), &fromYAML); err != nil {
				t.Fatalf("-o yaml does not parse: %v\n%s", err, ys)
			}
			if !reflect.DeepEqual(fromJSON, fromYAML) {
				t.Errorf("yaml and json documents differ:\njson %v\nyaml %v", fromJSON, fromYAML)
			}
			if !strings.Contains(ys, "rule: crash.oom-killed") {
				t.Errorf("yaml lacks the root cause:\n%s", ys)
			}
		})
	}
}

// TestDiagnoseFailOn: exit 3 exactly when a finding reaches the threshold;
// the document is printed either way, and stderr says why in one line.
func TestDiagnoseFailOn(t *testing.T) {
	const (
		oom     = "testdata/scenarios/oom-killed"                  // an error finding
		stuck   = "testdata/scenarios/stuck-terminating-finalizer" // a warning finding only
		healthy = "testdata/scenarios/healthy"                     // nothing wrong
		pleg    = "testdata/scenarios/node-not-ready-pleg"         // critical findings
	)
	cases := []struct {
		dir    string
		args   []string
		failOn string
		want   int
	}{
		{oom, []string{"ledger-7d9f8b6c5-qz4wn"}, "", 0},
		{oom, []string{"ledger-7d9f8b6c5-qz4wn"}, "warning", 3},
		{oom, []string{"ledger-7d9f8b6c5-qz4wn"}, "error", 3},
		{oom, []string{"ledger-7d9f8b6c5-qz4wn"}, "critical", 0},
		{stuck, []string{"-A"}, "warning", 3},
		{stuck, []string{"-A"}, "error", 0},
		{pleg, []string{"-A"}, "critical", 3},
		{healthy, []string{"-A"}, "warning", 0},
		{healthy, []string{"-n", "shop", "storefront-7c5d8b9f6c-4jx2q"}, "warning", 0},
	}
	for _, c := range cases {
		args := append([]string{"diagnose", "--from-file", c.dir, "-o", "json"}, c.args...)
		if c.failOn != "" {
			args = append(args, "--fail-on", c.failOn)
		}
		code, out, errOut := runCLI(t, args...)
		if code != c.want {
			t.Errorf("%s %v --fail-on %q: exit %d, want %d (stderr %q)", filepath.Base(c.dir), c.args, c.failOn, code, c.want, errOut)
			continue
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("%s %v: the document must be printed whatever the exit code: %q", filepath.Base(c.dir), c.args, out)
		}
		if c.want == 3 {
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "--fail-on "+c.failOn) {
				t.Errorf("%s: want one stderr line naming --fail-on, got %q", filepath.Base(c.dir), errOut)
			}
		} else if errOut != "" {
			t.Errorf("%s %v: stderr %q", filepath.Base(c.dir), c.args, errOut)
		}
	}
	// The exit code table is in the command's help.
	_, help, _ := runCLI(t, "diagnose", "--help")
	for _, want := range []string{"--fail-on", "-o, --output", "yaml", "3  --fail-on SEVERITY"} {
		if !strings.Contains(help, want) {
			t.Errorf("diagnose --help lacks %q", want)
		}
	}
}

func TestInvokedAs(t *testing.T) {
	for argv0, want := range map[string]invocation{
		"kdoctor":                                  {display: "kdoctor"},
		"/usr/local/bin/kdoctor":                   {display: "kdoctor"},
		"/home/u/.krew/bin/kubectl-kdoctor":        {display: "kubectl kdoctor"},
		`C:\Users\u\.krew\bin\kubectl-kdoctor.exe`: {display: "kubectl kdoctor"},
		"kubectl-kdoctor.EXE":                      {display: "kubectl kdoctor"},
		"/usr/bin/kubectl_complete-kdoctor":        {display: "kubectl kdoctor", complete: true},
		"kubectl_complete-kdoctor.exe":             {display: "kubectl kdoctor", complete: true},
		"kubectl-kdoctor-extra":                    {display: "kdoctor"},
		"kdoctor.test":                             {display: "kdoctor"},
	} {
		if got := invokedAs(argv0); got != want {
			t.Errorf("invokedAs(%q) = %+v, want %+v", argv0, got, want)
		}
	}
}

func runAsCLI(t *testing.T, argv0 string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	code = runAs(invokedAs(argv0), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestPluginNamesItselfKubectlKdoctor: run as kubectl-kdoctor, usage,
// help and examples say `kubectl kdoctor`; run as kdoctor, they do not.
func TestPluginNamesItselfKubectlKdoctor(t *testing.T) {
	code, out, _ := runAsCLI(t, "/opt/bin/kubectl-kdoctor", "--help")
	if code != 0 || !strings.Contains(out, "  kubectl kdoctor [flags]") || !strings.Contains(out, "kubectl kdoctor [command] --help") {
		t.Errorf("root help as a plugin: exit %d\n%s", code, out)
	}
	code, out, _ = runAsCLI(t, "/opt/bin/kubectl-kdoctor", "diagnose", "--help")
	if code != 0 || !strings.Contains(out, "kubectl kdoctor diagnose [TYPE/]NAME [flags]") ||
		!strings.Contains(out, "  kubectl kdoctor diagnose web-5d9 -n shop") ||
		!strings.Contains(out, "| kubectl kdoctor diagnose --from-file -") {
		t.Errorf("diagnose help as a plugin: exit %d\n%s", code, out)
	}
	code, _, errOut := runAsCLI(t, "/opt/bin/kubectl-kdoctor", "--bogus")
	if code != exitUsage || !strings.Contains(errOut, "Run 'kubectl kdoctor --help'") {
		t.Errorf("usage error as a plugin: exit %d, %q", code, errOut)
	}
	_, out, _ = runAsCLI(t, "kdoctor", "diagnose", "--help")
	if strings.Contains(out, "kubectl kdoctor") {
		t.Errorf("plain kdoctor calls itself a plugin:\n%s", out)
	}
}

// TestPluginCompletionHelper: kubectl runs kubectl_complete-kdoctor with the
// words after `kubectl kdoctor` (the last one being completed) and reads
// cobra's __complete output: completions, then :directive.
func TestPluginCompletionHelper(t *testing.T) {
	code, out, _ := runAsCLI(t, "kubectl_complete-kdoctor", "dia")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 2 || !strings.HasPrefix(lines[0], "diagnose") || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("exit %d, output %q", code, out)
	}
	code, out, _ = runAsCLI(t, "kubectl_complete-kdoctor", "diagnose", "--fail-on", "")
	if code != 0 || !strings.Contains(out, "warning\nerror\ncritical\n:4") {
		t.Errorf("--fail-on values: exit %d, %q", code, out)
	}
}

// writeKubeconfig writes a kubeconfig with the given server, several
// contexts, clusters and users (none needing credentials).
func writeNamesKubeconfig(t *testing.T, server string) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: prod-eu
  cluster: {server: ` + server + `}
- name: prod-us
  cluster: {server: ` + server + `}
- name: staging
  cluster: {server: ` + server + `}
users:
- name: alice
  user: {token: a}
- name: admin
  user: {token: b}
- name: ci-bot
  user: {token: c}
contexts:
- name: prod
  context: {cluster: prod-eu, user: alice, namespace: payments}
- name: staging
  context: {cluster: staging, user: ci-bot}
current-context: prod
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// completions runs cobra's __complete in-process and returns the
// completions (without the directive line) and the directive.
func completions(t *testing.T, args ...string) (comps []string, directive string, stderr string) {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1], errOut
}

func TestCompletionFromKubeconfig(t *testing.T) {
	kc := writeNamesKubeconfig(t, "https://127.0.0.1:1")
	for _, c := range []struct {
		flag, prefix string
		want         []string
	}{
		{"--cluster", "", []string{"prod-eu", "prod-us", "staging"}},
		{"--cluster", "prod", []string{"prod-eu", "prod-us"}},
		{"--user", "", []string{"admin", "alice", "ci-bot"}},
		{"--user", "a", []string{"admin", "alice"}},
		{"--context", "st", []string{"staging"}},
	} {
		got, dir, _ := completions(t, "diagnose", "--kubeconfig", kc, c.flag, c.prefix)
		if !reflect.DeepEqual(got, c.want) || dir != ":4" {
			t.Errorf("%s %q: got %q %s, want %q :4", c.flag, c.prefix, got, dir, c.want)
		}
	}
}

// TestCompletionDiagnoseTargetsUnreachable: with no cluster to ask, the
// TYPE/ prefixes are still offered, quickly, and nothing but cobra's own
// directive note reaches stderr.
func TestCompletionDiagnoseTargetsUnreachable(t *testing.T) {
	kc := writeNamesKubeconfig(t, "https://127.0.0.1:1")
	got, dir, errOut := completions(t, "diagnose", "--kubeconfig", kc, "")
	want := []string{"pod/", "deploy/", "sts/", "ds/", "rs/", "job/", "cronjob/"}
	if !reflect.DeepEqual(got, want) || dir != ":6" {
		t.Errorf("got %q %s, want %q :6 (no file completion, no space after /)", got, dir, want)
	}
	if strings.TrimSpace(errOut) != "Completion ended with directive: ShellCompDirectiveNoSpace, ShellCompDirectiveNoFileComp" {
		t.Errorf("stderr: %q", errOut)
	}
	got, _, _ = completions(t, "diagnose", "--kubeconfig", kc, "deploym")
	if !reflect.DeepEqual(got, []string{"deployment/"}) {
		t.Errorf("deploym: %q", got)
	}
	got, _, _ = completions(t, "diagnose", "--kubeconfig", kc, "c")
	if !reflect.DeepEqual(got, []string{"cronjob/"}) {
		t.Errorf("c: %q", got)
	}
}

// TestCompletionDiagnoseTargetsRealAPIServer completes pod and workload
// names from a real kube-apiserver, in every form diagnose accepts.
func TestCompletionDiagnoseTargetsRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed", "limitrange-rejection")
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kc, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string
		dir  string
	}{
		// A bare word: pod names first, then TYPE/ prefixes (a space may
		// follow, since a pod name is complete).
		{[]string{"-n", "payments", ""}, []string{"ledger-7d9f8b6c5-qz4wn", "pod/", "deploy/", "sts/", "ds/", "rs/", "job/", "cronjob/"}, ":4"},
		{[]string{"-n", "payments", "led"}, []string{"ledger-7d9f8b6c5-qz4wn"}, ":4"},
		{[]string{"-n", "payments", "deploy/"}, []string{"deploy/ledger"}, ":4"},
		{[]string{"-n", "payments", "rs/ledger"}, []string{"rs/ledger-7d9f8b6c5"}, ":4"},
		{[]string{"-n", "payments", "pod/x"}, nil, ":4"},
		{[]string{"-n", "inventory", "deployments.apps/"}, []string{"deployments.apps/api"}, ":4"},
		// TYPE NAME as two words.
		{[]string{"-n", "inventory", "deployment", ""}, []string{"api"}, ":4"},
		{[]string{"-n", "payments", "po", ""}, []string{"ledger-7d9f8b6c5-qz4wn"}, ":4"},
		// Nothing for unknown types, a third word, -A or a dump that
		// cannot be read (TestCompletionDiagnoseTargetsOffline reads one).
		{[]string{"-n", "payments", "svc/"}, nil, ":4"},
		{[]string{"-n", "payments", "pod", "ledger-7d9f8b6c5-qz4wn", ""}, nil, ":4"},
		{[]string{"-A", "deploy/"}, nil, ":4"},
		{[]string{"-n", "payments", "--from-file", "x.yaml", "deploy/"}, nil, ":4"},
	}
	for _, c := range cases {
		args := append([]string{"diagnose", "--kubeconfig", kc}, c.args...)
		got, dir, errOut := completions(t, args...)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, c.want) || dir != c.dir {
			t.Errorf("%q: got %q %s, want %q %s (stderr %q)", c.args, got, dir, c.want, c.dir, errOut)
		}
	}
	// logs completes its one argument the same way, and no second word.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-n", "payments", "deploy/"}, []string{"deploy/ledger"}},
		{[]string{"-n", "payments", "led"}, []string{"ledger-7d9f8b6c5-qz4wn"}},
		{[]string{"-n", "inventory", "deployment", ""}, nil},
	} {
		got, _, errOut := completions(t, append([]string{"logs", "--kubeconfig", kc}, c.args...)...)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("logs %q: got %q, want %q (stderr %q)", c.args, got, c.want, errOut)
		}
	}
}

// TestKubectlPlugin installs the built binary as kubectl-kdoctor (and its
// completion helper kubectl_complete-kdoctor) on PATH and drives it through
// the real kubectl: plugin dispatch, help naming, and plugin completion
// (kubectl ≥ 1.26 runs the helper for `kubectl __complete kdoctor …`).
func TestKubectlPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl-kdoctor")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Symlink("kubectl-kdoctor", filepath.Join(dir, "kubectl_complete-kdoctor")); err != nil {
		t.Fatal(err)
	}
	kc := writeNamesKubeconfig(t, "https://127.0.0.1:1")
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+kc)
	kube := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := kube("kdoctor", "--help"); !strings.Contains(out, "  kubectl kdoctor [flags]") || !strings.Contains(out, "diagnose") {
		t.Errorf("kubectl kdoctor --help:\n%s", out)
	}
	if out := kube("kdoctor", "diagnose", "--help"); !strings.Contains(out, "kubectl kdoctor diagnose [TYPE/]NAME [flags]") {
		t.Errorf("kubectl kdoctor diagnose --help:\n%s", out)
	}
	if out := kube("kdoctor", "version"); !strings.HasPrefix(out, "kdoctor v9.8.7 ") {
		t.Errorf("kubectl kdoctor version: %q", out)
	}
	// Real work through kubectl, whose exit code is the plugin's: a
	// --fail-on gate in a CI script written with `kubectl kdoctor`.
	scenario, err := filepath.Abs("testdata/scenarios/oom-killed")
	if err != nil {
		t.Fatal(err)
	}
	gate := exec.Command(kubectl, "kdoctor", "diagnose", "--from-file", scenario, "-A", "-o", "yaml", "--fail-on", "error")
	gate.Env = env
	out, err := gate.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFindings || !strings.Contains(string(out), "rule: crash.oom-killed") {
		t.Errorf("kubectl kdoctor diagnose --fail-on error: %v, output %q", err, out)
	}
	// Plugin completion: subcommands, then values from the kubeconfig
	// kubectl hands down through the environment.
	if out := kube("__complete", "kdoctor", "diag"); !strings.HasPrefix(out, "diagnose\t") || !strings.HasSuffix(out, "\n:4\n") {
		t.Errorf("kubectl __complete kdoctor diag: %q", out)
	}
	if out := kube("__complete", "kdoctor", "diagnose", "--context", ""); out != "prod\nstaging\n:4\n" {
		t.Errorf("kubectl __complete kdoctor diagnose --context '': %q", out)
	}
	if out := kube("__complete", "kdoctor", "diagnose", "deploy"); out != "deploy/\n:6\n" {
		t.Errorf("kubectl __complete kdoctor diagnose deploy: %q", out)
	}
}

// TestCompletionDiagnoseTargetsOffline: with --demo the names are the demo
// cluster's, with --from-file the dump's, in the same shapes as against a
// cluster; without -n every namespace's (a name in two of them offered
// once), since diagnose then finds the namespace holding it. A dump read
// from standard input, or one that cannot be read, completes only the TYPE/
// prefixes, and nothing is printed.
func TestCompletionDiagnoseTargetsOffline(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none")) // no cluster is asked
	dir := t.TempDir()
	pod := func(ns, name string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns + ", uid: u-" + ns + "-" + name + "}\n" +
			"spec: {containers: [{name: app, image: example/app}]}\nstatus: {phase: Running}\n"
	}
	writeFiles(t, dir, map[string]string{
		"dump/pods.yaml": pod("shop", "web-1") + "---\n" + pod("staging", "web-1") + "---\n" + pod("shop", "api-0"),
		"dump/apps.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n" +
			"spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: example/app}]}}}\n",
	})
	dump := filepath.Join(dir, "dump")
	prefixes := []string{"pod/", "deploy/", "sts/", "ds/", "rs/", "job/", "cronjob/"}
	cases := []struct {
		args []string
		want []string
		dir  string
	}{
		{[]string{"--demo", "-n", "payments", ""}, append([]string{"ledger-7d9f8b6c5-qz4wn"}, prefixes...), ":4"},
		{[]string{"--demo", "postgres-"}, []string{"postgres-0", "postgres-1", "postgres-2"}, ":4"},
		{[]string{"--demo", "deploy/led"}, []string{"deploy/ledger"}, ":4"},
		{[]string{"--demo", "-n", "payments", "deploy/"}, []string{"deploy/ledger"}, ":4"},
		{[]string{"--demo", "sts/"}, []string{"sts/postgres", "sts/redis"}, ":4"},
		{[]string{"--demo", "statefulset", ""}, []string{"postgres", "redis"}, ":4"},
		{[]string{"--demo", "cj/"}, []string{"cj/nightly-report"}, ":4"},
		{[]string{"--demo", "-n", "payments", "sts/"}, nil, ":4"},
		{[]string{"--demo", "-A", "deploy/"}, nil, ":4"},
		{[]string{"--from-file", dump, ""}, append([]string{"api-0", "web-1"}, prefixes...), ":4"},
		{[]string{"--from-file", dump, "-n", "staging", ""}, append([]string{"web-1"}, prefixes...), ":4"},
		{[]string{"--from-file", dump, "deploy/"}, []string{"deploy/web"}, ":4"},
		{[]string{"--from-file", dump, "po", "a"}, []string{"api-0"}, ":4"},
		{[]string{"--from-file", dump, "sts/"}, nil, ":4"},
		{[]string{"--from-file", "-", ""}, prefixes, ":6"},
		{[]string{"--from-file", filepath.Join(dir, "missing.yaml"), ""}, prefixes, ":6"},
	}
	for _, c := range cases {
		got, dir, errOut := completions(t, append([]string{"diagnose"}, c.args...)...)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, c.want) || dir != c.dir {
			t.Errorf("%q: got %q %s, want %q %s", c.args, got, dir, c.want, c.dir)
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "Completion ended with directive:") {
			t.Errorf("%q: stderr %q", c.args, errOut)
		}
	}

	// Every demo pod offered is one diagnose finds without -n.
	got, _, _ := completions(t, "diagnose", "--demo", "")
	var pods []string
	for _, c := range got {
		if !strings.HasSuffix(c, "/") {
			pods = append(pods, c)
		}
	}
	if len(pods) < 20 || !slices.Contains(pods, "ledger-7d9f8b6c5-qz4wn") || !slices.IsSorted(pods) {
		t.Fatalf("demo pods offered: %q", pods)
	}
	for _, name := range []string{"ledger-7d9f8b6c5-qz4wn", pods[0], pods[len(pods)-1]} {
		code, out, errOut := runCLI(t, "diagnose", "--demo", name, "-o", "json")
		if code != exitOK || !strings.Contains(out, `"name": "`+name+`"`) {
			t.Errorf("diagnose --demo %s: exit %d: %s", name, code, errOut)
		}
	}
	code, out, _ := runCLI(t, "diagnose", "--demo", "deploy/ledger", "-o", "json")
	if code != exitOK || !strings.Contains(out, `"namespace": "payments"`) {
		t.Errorf("diagnose --demo deploy/ledger: exit %d:\n%s", code, out)
	}
	// A dump's name in two namespaces needs -n, as before.
	code, _, errOut := runCLI(t, "diagnose", "--from-file", dump, "web-1")
	if code != exitRuntime || !strings.Contains(errOut, `pod "web-1" not found in namespace "default" in the dump`) {
		t.Errorf("an ambiguous dump name: exit %d, %s", code, errOut)
	}
}
