package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"tui", "--help"}, {"version", "--help"}} {
		code, out, _ := runCLI(t, args...)
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	code, out, _ := runCLI(t, "tui", "--help")
	for _, want := range []string{"--demo", "--read-only", "--kubeconfig", "--context", "-n, --namespace", "-A, --all-namespaces", "--as", "--request-timeout", "--theme"} {
		if !strings.Contains(out, want) {
			t.Errorf("tui --help lacks %s", want)
		}
	}
	code, out, _ = runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "kdoctor ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"tui", "extra-arg"}, {"nosuchcommand"}, {"--theme", "nosuchtheme", "--demo"}} {
		code, _, errOut := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%q)", args, code, errOut)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("%v: more than a short message: %q", args, errOut)
		}
	}
}

func TestBadKubeconfigIsOneClearLine(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("this: [is not: a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	noCtx := filepath.Join(dir, "noctx")
	if err := os.WriteFile(noCtx, []byte("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\ncurrent-context: \"\"\nusers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"missing file":    {"tui", "--kubeconfig", filepath.Join(dir, "does-not-exist")},
		"garbage file":    {"tui", "--kubeconfig", garbage},
		"unknown context": {"tui", "--kubeconfig", noCtx, "--context", "prod"},
	}
	for name, args := range cases {
		code, _, errOut := runCLI(t, args...)
		if code != exitRuntime {
			t.Errorf("%s: exit %d, want 1 (%q)", name, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "kdoctor: ") {
			t.Errorf("%s: want one line, got %q", name, errOut)
		}
		if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, ".go:") {
			t.Errorf("%s: stack trace leaked: %q", name, errOut)
		}
		t.Logf("%s: %s", name, lines[0])
	}
}

func TestBrokenConfigFileIsReported(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if err := os.MkdirAll(filepath.Join(dir, "kdoctor"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kdoctor", "config.yaml"), []byte("readOnyl: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "tui", "--demo")
	if code != exitRuntime || !strings.Contains(errOut, "config.yaml") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}

func TestConfigReadOnlyPerContext(t *testing.T) {
	c := config{Contexts: map[string]contextConfig{"prod": {ReadOnly: true}}}
	if ro, _ := c.readOnlyFor("prod", "https://10.0.0.1:6443"); !ro {
		t.Fatal("per-context read-only not applied")
	}
	if ro, _ := c.readOnlyFor("staging", "https://10.0.0.1:6443"); ro {
		t.Fatal("read-only leaked to another context")
	}
}
