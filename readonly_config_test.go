package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kdoctor-dev/kdoctor/kube"
)

func TestConfigReadOnlyPatterns(t *testing.T) {
	c := config{
		Contexts: map[string]contextConfig{"prod-*": {ReadOnly: true}, "eu-?-live": {ReadOnly: true}, "staging": {ReadOnly: false}},
		Servers:  map[string]contextConfig{"https://*.prod.example.com*": {ReadOnly: true}, "https://rancher.example.com/k8s/clusters/c-m-4x7k2": {ReadOnly: true}},
	}
	cases := []struct {
		ctx, server string
		want        bool
		why         string
	}{
		{"prod-eu", "https://10.0.0.1:6443", true, `"prod-*"`},
		{"prod-", "https://10.0.0.1:6443", true, `"prod-*"`},
		{"preprod-eu", "https://10.0.0.1:6443", false, ""},
		{"eu-1-live", "https://10.0.0.1:6443", true, `"eu-?-live"`},
		{"eu-12-live", "https://10.0.0.1:6443", false, ""},
		{"staging", "https://10.0.0.1:6443", false, ""},
		// A production API server is read-only whatever the context is called.
		{"my-laptop-alias", "https://api.prod.example.com:6443", true, `"https://*.prod.example.com*"`},
		{"x", "https://API.Prod.Example.com:6443/", true, "servers matching"},
		{"x", "https://rancher.example.com/k8s/clusters/c-m-4x7k2/", true, "c-m-4x7k2"},
		{"x", "https://rancher.example.com/k8s/clusters/c-m-other", false, ""},
		{"x", "https://api.staging.example.com:6443", false, ""},
	}
	for _, tc := range cases {
		got, why := c.readOnlyFor(tc.ctx, tc.server)
		if got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s at %s: read-only %v (%q), want %v (%q)", tc.ctx, tc.server, got, why, tc.want, tc.why)
		}
	}
	if ro, why := (config{ReadOnly: true}).readOnlyFor("anything", "https://x"); !ro || !strings.Contains(why, "every context") {
		t.Errorf("global readOnly: %v %q", ro, why)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*b*c", "aXXbYYc", true}, {"a*b*c", "aXXbYY", false}, {"?", "é", true},
		{"https://*", "https://a/b/c", true}, {"prod", "prod-eu", false}, {"*-eu", "prod-eu", true}, {"a**", "a", true},
	} {
		if got := globMatch(c.p, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// parsedApp parses args as kdoctor would, up to the point where a command
// runs (config loaded, flags set).
func parsedApp(t *testing.T, args ...string) *app {
	t.Helper()
	a := &app{kubeFlags: genericclioptions.NewConfigFlags(true)}
	root := newRootCmd(a)
	if err := root.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	if err := root.PersistentPreRunE(root, nil); err != nil {
		t.Fatal(err)
	}
	return a
}

func writeConfig(t *testing.T, yaml string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if err := os.MkdirAll(filepath.Join(dir, "kdoctor"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kdoctor", "config.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDemoReadOnly: `kdoctor --demo --read-only` (or a config that says so)
// opens a demo that says read-only and refuses a cordon; before, the demo
// ignored the flag and c, enter cordoned a demo node.
func TestDemoReadOnly(t *testing.T) {
	for name, setup := range map[string]struct {
		config string
		args   []string
	}{
		"flag":          {"", []string{"--demo", "--read-only"}},
		"global config": {"readOnly: true\n", []string{"--demo"}},
		"demo pattern":  {"contexts:\n  \"kdoctor-*\":\n    readOnly: true\n", []string{"--demo"}},
	} {
		t.Run(name, func(t *testing.T) {
			writeConfig(t, setup.config)
			a := parsedApp(t, setup.args...)
			d, _, err := a.openDemo()
			if err != nil {
				t.Fatal(err)
			}
			if !d.Info().ReadOnly {
				t.Fatal("the demo does not say read-only: no READ-ONLY badge")
			}
			ctx := context.Background()
			nodes, err := d.Client().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil || len(nodes.Items) == 0 {
				t.Fatalf("nodes: %v", err)
			}
			_, err = d.Client().CoreV1().Nodes().Patch(ctx, nodes.Items[0].Name, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
			var ro *kube.ReadOnlyError
			if !errors.As(err, &ro) {
				t.Fatalf("cordon in a read-only demo: %v", err)
			}
		})
	}
	writeConfig(t, "")
	if d, _, err := parsedApp(t, "--demo").openDemo(); err != nil || d.Info().ReadOnly {
		t.Fatalf("plain demo: read-only %v, err %v", d != nil && d.Info().ReadOnly, err)
	}
}

// TestReadOnlyFalseCannotWeakenConfig: an explicit --read-only=false against
// a config that makes the context read-only is refused with exit 2 and a
// sentence naming the config entry, never silently obeyed or ignored.
func TestReadOnlyFalseCannotWeakenConfig(t *testing.T) {
	writeConfig(t, "readOnly: true\n")
	code, _, errOut := runCLI(t, "--demo", "--read-only=false")
	if code != exitUsage || !strings.Contains(errOut, "--read-only=false cannot weaken the config") || !strings.Contains(errOut, "every context") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	t.Logf("%s", strings.TrimSpace(errOut))

	kubeconfig, _ := twoClusterKubeconfig(t, "https://api.prod.example.com:6443")
	writeConfig(t, "contexts:\n  \"prod-*\":\n    readOnly: true\n")
	code, _, errOut = runCLI(t, "--kubeconfig", kubeconfig, "--context", "prod-eu", "--read-only=false", "diagnose", "-A")
	if code != exitUsage || !strings.Contains(errOut, `"prod-*"`) {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

// twoClusterKubeconfig writes contexts dev and prod-eu (a test server that
// counts requests) and laptop (the given server URL, never contacted).
func twoClusterKubeconfig(t *testing.T, otherServer string) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}`))
	}))
	t.Cleanup(srv.Close)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: srv.URL}
	cfg.Clusters["other"] = &clientcmdapi.Cluster{Server: otherServer}
	cfg.AuthInfos["me"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "me"}
	cfg.Contexts["prod-eu"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "me"}
	cfg.Contexts["laptop"] = &clientcmdapi.Context{Cluster: "other", AuthInfo: "me"}
	cfg.CurrentContext = "dev"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, &hits
}

// TestContextSwitchHonoursPatterns: the palette's context switch goes through
// connectQuiet, which applies context and server patterns (and, unlike the
// start, opens read-only rather than refusing when --read-only=false was
// given); the guard is installed, so the cluster sees no change.
func TestContextSwitchHonoursPatterns(t *testing.T) {
	kubeconfig, hits := twoClusterKubeconfig(t, "https://api.prod.example.com:6443")
	writeConfig(t, "contexts:\n  \"prod-*\":\n    readOnly: true\nservers:\n  \"https://*.prod.example.com*\":\n    readOnly: true\n")
	for _, args := range [][]string{{"--kubeconfig", kubeconfig}, {"--kubeconfig", kubeconfig, "--read-only=false"}} {
		a := parsedApp(t, args...)
		for ctxName, want := range map[string]bool{"dev": false, "prod-eu": true, "laptop": true} {
			c, err := a.connectQuiet(flagsForContext(a.kubeFlags, ctxName))
			if err != nil {
				t.Fatal(err)
			}
			if info := c.Info(); info.ReadOnly != want || (want && info.ReadOnlyWhy == "") {
				t.Errorf("%v: context %s read-only %v (%q), want %v", args, ctxName, info.ReadOnly, info.ReadOnlyWhy, want)
			}
			if ctxName != "prod-eu" {
				continue
			}
			before := hits.Load()
			_, err = c.Client().CoreV1().Nodes().Patch(context.Background(), "n1", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
			var ro *kube.ReadOnlyError
			if !errors.As(err, &ro) || hits.Load() != before {
				t.Errorf("prod-eu after a switch: patch got %v, server saw %d requests", err, hits.Load()-before)
			}
		}
	}
}

// settledApp runs the root command with args and "version" (which connects
// nowhere) and returns the app as the flags and the config left it.
func settledApp(t *testing.T, args ...string) *app {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{kubeFlags: genericclioptions.NewConfigFlags(true), stdout: &out, stderr: &errb}
	root := newRootCmd(a)
	root.SetArgs(append(args, "version"))
	if err := root.Execute(); err != nil {
		t.Fatalf("%v: %v (%s)", args, err, errb.String())
	}
	return a
}

// TestMouseFromFlagAndConfig: mouse capture is on by default, off with
// --mouse=false or `mouse: false` in the config; the flag wins.
func TestMouseFromFlagAndConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	mouse := func(args ...string) bool { t.Helper(); return settledApp(t, args...).mouse }
	if !mouse() {
		t.Error("mouse off by default")
	}
	if mouse("--mouse=false") {
		t.Error("--mouse=false left it on")
	}
	if err := os.MkdirAll(filepath.Join(dir, "kdoctor"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kdoctor", "config.yaml"), []byte("mouse: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if mouse() {
		t.Error("mouse: false in the config left it on")
	}
	if !mouse("--mouse") {
		t.Error("--mouse did not win over the config")
	}
}
