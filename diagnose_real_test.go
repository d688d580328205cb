package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// TestDiagnoseLiveAgainstRealAPIServer runs `kdoctor diagnose` with a
// kubeconfig against a real kube-apiserver holding two stories, for one
// pod, one workload and the target-less form.
func TestDiagnoseLiveAgainstRealAPIServer(t *testing.T) {
	srv, scs := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed", "limitrange-rejection")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}

	for _, sc := range scs {
		t.Run(sc.Name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-n", sc.Target.Namespace,
				targetArg(sc.Target), "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr not empty (client warnings must not leak): %q", errOut)
			}
			var d diag.Diagnosis
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			if d.RootCause.Rule != sc.Rule {
				t.Errorf("root cause %s, want %s", d.RootCause.Rule, sc.Rule)
			}
			for _, also := range sc.Also {
				if !d.Has(also) {
					t.Errorf("missing %s", also)
				}
			}
		})
	}

	t.Run("pod name alone, text", func(t *testing.T) {
		code, out, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-n", "payments", "ledger-7d9f8b6c5-qz4wn")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"Root cause: [error] crash.oom-killed", "kubectl logs -n payments ledger-7d9f8b6c5-qz4wn -c ledger --previous"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})
	t.Run("all namespaces", func(t *testing.T) {
		code, out, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-A", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var ds []diag.Diagnosis
		if err := json.Unmarshal([]byte(out), &ds); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, d := range ds {
			got[d.Target.Kind+"/"+d.Target.Name] = d.RootCause.Rule
		}
		if got["pod/ledger-7d9f8b6c5-qz4wn"] != "crash.oom-killed" || got["deployment/api"] != "create.limitrange" {
			t.Errorf("target-less diagnosis found %v", got)
		}
	})
	t.Run("absent pod", func(t *testing.T) {
		code, _, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-n", "payments", "no-such-pod")
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "no-such-pod") {
			t.Errorf("exit %d, stderr %q: want exit 1 and one line naming the pod", code, errOut)
		}
	})
}
