package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// writeFiles writes name → content under dir, creating directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// errorLine checks stderr is one "kdoctor: …" line (plus the usage hint
// for exit code 2) and returns it.
func errorLine(t *testing.T, code int, stderr string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	want := 1
	if code == exitUsage {
		want = 2
		if len(lines) == 2 && lines[1] != "Run 'kdoctor --help' for usage." {
			t.Errorf("second line %q, want the usage hint", lines[1])
		}
	}
	if len(lines) != want || !strings.HasPrefix(lines[0], "kdoctor: ") {
		t.Errorf("stderr is not one error line:\n%s", stderr)
	}
	return lines[0]
}

const crashingPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, uid: u-web, creationTimestamp: "2026-11-20T09:00:00Z"}
spec:
  containers: [{name: app, image: example/app}]
status:
  phase: Running
  containerStatuses:
  - name: app
    image: example/app
    restartCount: 7
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 5m0s restarting failed container}}
    lastState: {terminated: {exitCode: 1, reason: Error, startedAt: "2026-11-20T09:58:00Z", finishedAt: "2026-11-20T09:58:01Z"}}
`

// TestBadInput feeds kdoctor broken kubeconfigs, dumps, scenarios and
// themes: each is one line saying what is wrong with which file, the
// documented exit code, and no panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("KUBECONFIG", "")
	goodKubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`
	writeFiles(t, dir, map[string]string{
		"kube/empty.yaml":     "",
		"kube/malformed.yaml": "apiVersion: v1\nkind: Config\nclusters: [\n",
		"kube/good.yaml":      goodKubeconfig,

		"dumps/garbage.bin": "\x00\x01\x02 this is not: [yaml\n",
		"dumps/empty.yaml":  "",
		"dumps/notk8s.json": `{"hello": "world"}`,
		"dumps/badpod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: [1, 2]}\n",
		"dumps/web.yaml":    crashingPod,

		"mixed/pods.yaml": crashingPod + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n",
		"mixed/events.json": `{"kind":"EventList","apiVersion":"v1","items":[{"metadata":{"name":"e1","namespace":"shop"},` +
			`"involvedObject":{"kind":"Pod","name":"web","namespace":"shop","uid":"u-web"},"reason":"BackOff","type":"Warning",` +
			`"message":"Back-off restarting failed container app","count":40,"lastTimestamp":"2026-11-20T10:00:00Z"}]}`,
		"mixed/nodes.yml":  "apiVersion: v1\nkind: NodeList\nitems: []\n",
		"mixed/README.txt": "not an object, ignored\n",
		"mixed/crd.yaml":   "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n",

		"scenario-bad-objects/objects.yaml":   "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
		"scenario-bad-objects/README.md":      "# broken\nTarget: pod/shop/web\n",
		"scenario-bad-target/objects.yaml":    crashingPod,
		"scenario-bad-target/README.md":       "# broken\nRule: crash.exit-error\nTarget: pod/web\n",
		"scenario-bad-logs/objects.yaml":      crashingPod,
		"scenario-bad-logs/README.md":         "# broken\nTarget: pod/shop/web\n",
		"scenario-bad-logs/logs/shop/app.log": "a log one level too high\n",

		"themes/badyaml.yaml":   "fg: [\n",
		"themes/badcolour.yaml": "fg: \"#12345\"\naccent: \"#5FAFFF\"\n",
		"themes/typo.yaml":      "foreground: \"#FFFFFF\"\n",
	})
	p := func(name string) string { return filepath.Join(dir, name) }

	for _, c := range []struct {
		name string
		args []string
		code int
		want []string // substrings of the error line
	}{
		{"missing kubeconfig", []string{"diagnose", "--kubeconfig", p("kube/missing.yaml"), "web"}, exitRuntime,
			[]string{"kubeconfig " + p("kube/missing.yaml") + " does not exist"}},
		{"empty kubeconfig", []string{"diagnose", "--kubeconfig", p("kube/empty.yaml"), "web"}, exitRuntime,
			[]string{"no API server configured", "kubeconfig"}},
		{"malformed kubeconfig", []string{"diagnose", "--kubeconfig", p("kube/malformed.yaml"), "web"}, exitRuntime,
			[]string{"kubeconfig " + p("kube/malformed.yaml") + " is not a valid kubeconfig", "yaml: line 3"}},
		{"unknown context", []string{"diagnose", "--kubeconfig", p("kube/good.yaml"), "--context", "nope", "web"}, exitRuntime,
			[]string{`context "nope" does not exist`, "kubectl config get-contexts"}},
		{"unknown context in the TUI", []string{"tui", "--kubeconfig", p("kube/good.yaml"), "--context", "nope"}, exitRuntime,
			[]string{`context "nope" does not exist`}},
		{"garbage dump", []string{"diagnose", "--from-file", p("dumps/garbage.bin")}, exitRuntime,
			[]string{p("dumps/garbage.bin") + ": document 1 is not valid YAML or JSON"}},
		{"empty dump", []string{"diagnose", "--from-file", p("dumps/empty.yaml")}, exitRuntime,
			[]string{"no Kubernetes objects in " + p("dumps/empty.yaml")}},
		{"JSON that is no object", []string{"diagnose", "--from-file", p("dumps/notk8s.json")}, exitRuntime,
			[]string{p("dumps/notk8s.json") + ": not a Kubernetes object or list (no kind)"}},
		{"object of the wrong shape", []string{"diagnose", "--from-file", p("dumps/badpod.yaml")}, exitRuntime,
			[]string{p("dumps/badpod.yaml") + ": document 1: Pod: json: cannot unmarshal array"}},
		{"missing dump", []string{"diagnose", "--from-file", p("dumps/missing.yaml"), "web"}, exitRuntime,
			[]string{p("dumps/missing.yaml"), "no such file"}},
		{"target absent from the dump", []string{"diagnose", "--from-file", p("dumps/web.yaml"), "-n", "shop", "nope"}, exitRuntime,
			[]string{`pod "nope" not found in namespace "shop" in the dump`}},
		{"scenario with broken objects", []string{"diagnose", "--from-file", p("scenario-bad-objects")}, exitRuntime,
			[]string{"objects.yaml: document 1"}},
		{"scenario with a bad target", []string{"diagnose", "--from-file", p("scenario-bad-target")}, exitRuntime,
			[]string{`README.md: target "pod/web": want kind/namespace/name`}},
		{"scenario with a misplaced log", []string{"diagnose", "--from-file", p("scenario-bad-logs")}, exitRuntime,
			[]string{"log file shop/app.log: want logs/<namespace>/<pod>/<container>[.previous].log"}},
		{"theme that is not YAML", []string{"tui", "--theme", p("themes/badyaml.yaml")}, exitUsage,
			[]string{"theme file " + p("themes/badyaml.yaml")}},
		{"theme with a bad colour", []string{"tui", "--theme", p("themes/badcolour.yaml")}, exitUsage,
			[]string{`fg: "#12345" is not a colour (use #RRGGBB or an ANSI number 0-255)`}},
		{"theme with an unknown field", []string{"tui", "--theme", p("themes/typo.yaml")}, exitUsage,
			[]string{"theme file " + p("themes/typo.yaml"), "foreground"}},
		{"unknown theme name", []string{"tui", "--theme", "nosuchtheme"}, exitUsage,
			[]string{`unknown theme "nosuchtheme"`}},
		{"debug image with a space", []string{"tui", "--debug-image", "busy box:1.37"}, exitUsage,
			[]string{`--debug-image: "busy box:1.37" is not an image reference: invalid reference format`}},
		{"debug image with an upper-case repository", []string{"diagnose", "--debug-image", "Registry.example.com/Tools/sh", "web"}, exitUsage,
			[]string{`--debug-image: "Registry.example.com/Tools/sh" is not an image reference`, "must be lowercase"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", code, c.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			line := errorLine(t, code, errOut)
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("error line %q lacks %q", line, w)
				}
			}
		})
	}

	t.Run("JSON, YAML and unknown kinds in one directory", func(t *testing.T) {
		code, out, errOut := runCLI(t, "diagnose", "--from-file", p("mixed"), "-A", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, w := range []string{
			`kdoctor: warning: skipped 1 object(s) of unknown kind "CustomResourceDefinition" (apiVersion "apiextensions.k8s.io/v1")`,
			`kdoctor: warning: skipped 1 object(s) of unknown kind "Widget" (apiVersion "example.com/v1")`,
		} {
			if !strings.Contains(errOut, w+"\n") {
				t.Errorf("stderr lacks %q:\n%s", w, errOut)
			}
		}
		var ds []diag.Diagnosis
		if err := json.Unmarshal([]byte(out), &ds); err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Target.Name != "web" || ds[0].RootCause.Rule != "crash.exit-error" {
			t.Fatalf("diagnoses %+v", ds)
		}
		// The JSON file's event reached the diagnosis.
		if !strings.Contains(out, "Back-off restarting failed container app") {
			t.Error("the event from the JSON file is not in the diagnosis")
		}
	})

	t.Run("themes.Load", func(t *testing.T) {
		for file, want := range map[string]string{
			"badyaml.yaml":   "theme file " + p("themes/badyaml.yaml") + ": ",
			"badcolour.yaml": `fg: "#12345" is not a colour`,
			"typo.yaml":      `unknown field "foreground"`,
		} {
			_, err := themes.Load(p("themes/" + file))
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %v, want one line with %q", file, err, want)
			}
		}
	})
	t.Run("kube.LoadScenario", func(t *testing.T) {
		for name, want := range map[string]string{
			"scenario-bad-objects": "objects.yaml: document 1: not valid YAML or JSON",
			"scenario-bad-target":  `README.md: target "pod/web": want kind/namespace/name`,
			"scenario-bad-logs":    "log file shop/app.log",
		} {
			_, err := facts.LoadScenario(p(name))
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %v, want one line with %q", name, err, want)
			}
		}
	})
}

// TestBadInputAgainstRealAPIServer: credentials the server rejects, and
// names that are not there.
func TestBadInputAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	dir := t.TempDir()
	good := filepath.Join(dir, "good.kubeconfig")
	if err := srv.WriteKubeconfig(good, ""); err != nil {
		t.Fatal(err)
	}
	expired := filepath.Join(dir, "expired.kubeconfig")
	cfg, err := clientcmd.LoadFromFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Token = "expired-or-revoked-token"
	}
	if err := clientcmd.WriteToFile(*cfg, expired); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"expired token", []string{"diagnose", "--kubeconfig", expired, "-n", "default", "web"},
			"kdoctor: the API server rejected your credentials (401 Unauthorized): your token or certificate may have expired; log in again or refresh the kubeconfig"},
		{"expired token, every namespace", []string{"diagnose", "--kubeconfig", expired, "-A"},
			"kdoctor: the API server rejected your credentials (401 Unauthorized)"},
		{"namespace that does not exist", []string{"diagnose", "--kubeconfig", good, "-n", "nope", "web"},
			`kdoctor: pod "web" not found in namespace "nope"`},
		{"unknown context", []string{"diagnose", "--kubeconfig", good, "--context", "nope", "web"},
			`kdoctor: context "nope" does not exist in kubeconfig ` + good},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, c.args...)
			if code != exitRuntime || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and nothing on stdout", code, out)
			}
			if line := errorLine(t, code, errOut); !strings.HasPrefix(line, c.want) {
				t.Errorf("error line\n %q\nwant\n %q", line, c.want)
			}
		})
	}
	t.Run("every pod of a namespace that does not exist", func(t *testing.T) {
		// As `kubectl get pods -n nope`: nothing there is no error.
		code, out, errOut := runCLI(t, "diagnose", "--kubeconfig", good, "-n", "nope")
		if code != exitOK || errOut != "" || out != "No unhealthy pods or workloads found.\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

// TestDiagnoseHugeDump diagnoses a ~100 MB `kubectl get pods -A -o json`
// of 40,000 pods, a few of them crashing: it completes, finds them, and
// the heap stays within a bounded multiple of the file.
func TestDiagnoseHugeDump(t *testing.T) {
	if testing.Short() {
		t.Skip("a 100 MB dump (not in -short mode)")
	}
	const pods, crashing = 40_000, 3
	path := filepath.Join(t.TempDir(), "pods.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, `{"apiVersion":"v1","kind":"List","items":[`)
	annotation := strings.Repeat("x", 1500) // the bulk real pods carry in annotations and managed fields
	for i := range pods {
		if i > 0 {
			w.WriteByte(',')
		}
		state := `"running":{"startedAt":"2026-11-20T09:00:00Z"}`
		ready, condition := "true", "True"
		if i%(pods/crashing) == 7 {
			state = `"waiting":{"reason":"CrashLoopBackOff","message":"back-off 5m0s restarting failed container"}`
			ready, condition = "false", "False"
		}
		fmt.Fprintf(w, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-%05d","namespace":"ns-%02d","uid":"uid-%05d",`+
			`"creationTimestamp":"2026-11-20T09:00:00Z","labels":{"app":"a%d"},"annotations":{"note":"%s"}},`+
			`"spec":{"nodeName":"node-%d","containers":[{"name":"app","image":"example/app:1"}]},`+
			`"status":{"phase":"Running","conditions":[{"type":"Ready","status":"%s","lastTransitionTime":"2026-11-20T09:00:00Z"}],`+
			`"containerStatuses":[{"name":"app","image":"example/app:1","ready":%s,"restartCount":3,"state":{%s},`+
			`"lastState":{"terminated":{"exitCode":1,"reason":"Error","startedAt":"2026-11-20T09:58:00Z","finishedAt":"2026-11-20T09:58:01Z"}}}]}}`,
			i, i%50, i, i%100, annotation, i%20, condition, ready, state)
	}
	fmt.Fprint(w, `]}`)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	f.Close()

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	started := time.Now()
	code, out, errOut := runCLI(t, "diagnose", "--from-file", path, "-A", "-o", "json")
	took := time.Since(started)
	close(stop)
	<-sampled
	t.Logf("%.0f MB dump of %d pods diagnosed in %v, heap peak %s", float64(info.Size())/1e6, pods, took.Round(time.Millisecond), mibStr(peak.Load()))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ds []diag.Diagnosis
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != crashing {
		t.Errorf("%d diagnoses, want the %d crashing pods", len(ds), crashing)
	}
	if took > 60*time.Second {
		t.Errorf("took %v", took)
	}
	// Measured: ~1 GiB for 87 MB, about 2× the live data of the decode
	// (file, raw list, items, typed pods) through GC headroom; the decoded
	// pods alone are ~170 MiB. A copy more or a quadratic step breaks this.
	if limit := uint64(info.Size()) * 16; peak.Load() > limit {
		t.Errorf("heap peaked at %s for a %s file", mibStr(peak.Load()), mibStr(uint64(info.Size())))
	}
}

func mibStr(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
