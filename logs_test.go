package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogsCommandOnTheDemo: `kdoctor logs deploy/storefront --demo` prints
// every line of the three pods' logs, each prefixed [pod/container], with
// no colour into a pipe; --previous prints the crashed run; --tail bounds
// each container.
func TestLogsCommandOnTheDemo(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	code, out, errOut := runCLI(t, "logs", "deploy/storefront", "-n", "shop", "--demo")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := 0
	files, _ := filepath.Glob("testdata/scenarios/healthy/logs/shop/storefront-*/storefront.log")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pod := filepath.Base(filepath.Dir(f))
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			want++
			if !strings.Contains(out, "["+pod+"/storefront] "+line+"\n") {
				t.Errorf("missing %s's line %q", pod, line)
			}
		}
	}
	if len(files) != 3 || strings.Count(out, "\n") != want {
		t.Errorf("%d lines printed, want the %d of %d pods", strings.Count(out, "\n"), want, len(files))
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour written into a pipe")
	}

	code, out, errOut = runCLI(t, "logs", "deploy/ledger", "-n", "payments", "--demo", "--previous")
	if code != exitOK || !strings.HasSuffix(out, "[ledger-7d9f8b6c5-qz4wn/ledger] Exception in thread \"scheduling-1\" java.lang.OutOfMemoryError: Java heap space\n") {
		t.Errorf("--previous: exit %d, stderr %q, ends %q", code, errOut, out[max(0, len(out)-200):])
	}

	code, out, _ = runCLI(t, "logs", "ds/node-exporter", "-n", "shop", "--demo", "--tail", "1")
	if code != exitOK || strings.Count(out, "\n") != 3 {
		t.Errorf("--tail 1 on a 3-pod DaemonSet: exit %d, %q", code, out)
	}
}

func TestLogsCommandErrors(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"logs", "svc/web", "--demo"}, exitUsage, `cannot read logs of resource type "svc"`},
		{[]string{"logs", "deploy/", "--demo"}, exitUsage, "bad target"},
		{[]string{"logs", "--demo"}, exitUsage, "accepts 1 arg"},
		{[]string{"logs", "deploy/web", "-n", "storefront", "--demo", "-f", "--previous"}, exitUsage, "do not go together"},
		{[]string{"logs", "deploy/web", "--demo", "--tail", "-3"}, exitUsage, "--tail -3"},
		{[]string{"logs", "deploy/nope", "-n", "shop", "--demo"}, exitRuntime, "deployment nope not found in namespace shop"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errOut, c.says)
		}
	}
}
