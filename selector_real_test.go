package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// TestSelectorsAgainstRealAPIServer: -l and --field-selector narrow what
// diagnose lists and what the TUI's watch holds, as kubectl's do, and a
// selector that does not parse is a usage error before any request.
func TestSelectorsAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed", "crashloop-exit-1", "unschedulable-insufficient-memory")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	targets := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"diagnose", "--kubeconfig", kubeconfig, "-A", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var ds []diag.Diagnosis
		if err := json.Unmarshal([]byte(out), &ds); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range ds {
			names = append(names, d.Target.Kind+"/"+d.Target.Name)
		}
		return names
	}
	all := targets()
	if len(all) < 3 {
		t.Fatalf("want the three stories unhealthy, got %v", all)
	}
	// The label every pod and workload of the ledger story carries.
	ledger := targets("-l", "app=ledger")
	if len(ledger) == 0 || len(ledger) >= len(all) {
		t.Fatalf("-l app=ledger: %v (all: %v)", ledger, all)
	}
	for _, n := range ledger {
		if !strings.Contains(n, "ledger") {
			t.Errorf("-l app=ledger listed %s", n)
		}
	}
	pending := targets("--field-selector", "status.phase=Pending")
	if len(pending) != 1 || !strings.HasPrefix(pending[0], "pod/") {
		t.Fatalf("--field-selector status.phase=Pending: %v, want the one pending pod", pending)
	}
	if code, _, errOut := runCLI(t, "diagnose", "--kubeconfig", kubeconfig, "-A", "-l", "app in ("); code != exitUsage || !strings.Contains(errOut, "-l/--selector") {
		t.Fatalf("a bad selector: exit %d, %q", code, errOut)
	}

	// The TUI's watch holds only the pods the selectors pick.
	f := genericclioptions.NewConfigFlags(true)
	f.KubeConfig = &kubeconfig
	c, err := kube.Connect(f, kube.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w := live.Watch(ctx, c.Client(), live.Scope{LabelSelector: "app=ledger"}, live.AllResources)
	deadline := time.After(30 * time.Second)
	pods := map[string]bool{}
	for {
		select {
		case b := <-w.Batches():
			for _, p := range b.Pods {
				pods[p.Name] = true
			}
			if b.State == live.Live {
				if len(pods) == 0 {
					t.Fatal("the watch with -l app=ledger holds no pod")
				}
				for p := range pods {
					if !strings.HasPrefix(p, "ledger-") {
						t.Errorf("the watch with -l app=ledger holds %s", p)
					}
				}
				return
			}
		case <-deadline:
			t.Fatalf("the watch never went live; pods %v", pods)
		}
	}
}
