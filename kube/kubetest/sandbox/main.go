// Command sandbox runs a real kube-apiserver (with etcd and the fake
// kubelet) loaded with every scenario under testdata/scenarios, and writes a
// kubeconfig for it, and serves metrics.k8s.io for its running pods through
// the aggregation layer, so kdoctor and kubectl can be tried by hand against the
// same stories the tests check. It runs until Ctrl-C or SIGTERM, then stops
// every process it started and removes its temp files.
//
//	go run ./kube/kubetest/sandbox [--pods N] [--kubeconfig-out PATH] [--scenarios DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/demo"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

func main() {
	os.Exit(run())
}

func run() int {
	root, err := kubetest.RepoRoot()
	if err != nil {
		root = "." // outside the repository: paths relative to here
	}
	kubeconfig := flag.String("kubeconfig-out", filepath.Join(root, ".sandbox", "kubeconfig"), "where to write the kubeconfig (removed on exit)")
	scenarioDir := flag.String("scenarios", filepath.Join(root, "testdata", "scenarios"), "directory of scenarios to apply")
	pods := flag.Int("pods", 0, "also create N synthetic pods in namespace bench (scale testing)")
	workers := flag.Int("workers", 32, "parallel requests for --pods")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sandbox: unexpected arguments %v\n", flag.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	srv, err := kubetest.Start(ctx, kubetest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	defer srv.Close()
	fmt.Printf("kube-apiserver ready at %s in %v (logs in %s)\n", srv.Host(), time.Since(started).Round(100*time.Millisecond), srv.Dir())

	example, err := applyScenarios(ctx, srv, *scenarioDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	if *pods > 0 {
		t := time.Now()
		if err := srv.CreateSyntheticPods(ctx, "bench", *pods, *workers); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			return 1
		}
		fmt.Printf("created %d synthetic pods in namespace bench in %v\n", *pods, time.Since(t).Round(100*time.Millisecond))
	}

	path, err := filepath.Abs(*kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	if err := srv.WriteKubeconfig(path, ""); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	defer os.Remove(path) // useless once the server is gone
	printUsage(path, example)

	<-ctx.Done()
	stop() // a second Ctrl-C kills at once
	fmt.Println("\nstopping: kube-apiserver, etcd and temp files go away")
	return 0
}

// examplePod names a pod to show commands on, preferably one with a
// previous log (the heart of most stories).
type examplePod struct {
	namespace, name, container string
	previous                   bool
}

func applyScenarios(ctx context.Context, srv *kubetest.Server, dir string) (*examplePod, error) {
	scenarios, err := facts.LoadScenarios(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Printf("no scenarios: %s does not exist\n", dir)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ex *examplePod
	for _, sc := range scenarios {
		a, err := srv.ApplyScenario(ctx, sc)
		if err != nil {
			return nil, err
		}
		fmt.Printf("  applied %-34s %3d objects, %2d pods\n", sc.Name, len(a.Objects), len(a.Pods()))
		keys := make([]facts.LogKey, 0, len(sc.Logs))
		for k := range sc.Logs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].Pod < keys[j].Pod })
		for _, k := range keys {
			if ex == nil || k.Previous && !ex.previous && len(sc.Logs[k]) > 0 {
				ex = &examplePod{k.Namespace, k.Pod, k.Container, k.Previous}
			}
		}
		if ex == nil && len(a.Pods()) > 0 {
			p := a.Pods()[0]
			ex = &examplePod{namespace: p.Namespace, name: p.Name}
		}
	}
	fmt.Printf("applied %d scenarios from %s\n", len(scenarios), dir)
	return ex, serveUsage(ctx, srv)
}

// serveUsage registers metrics.k8s.io with the demo's usage for every
// running pod, so the usage columns (m) and the diagnosis's usage rules
// have a real aggregated API to read.
func serveUsage(ctx context.Context, srv *kubetest.Server) error {
	if _, err := srv.ServeMetrics(ctx); err != nil {
		return err
	}
	pods, err := srv.Client().CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	n := 0
	for i := range pods.Items {
		if pm, ok := demo.Sample(&pods.Items[i], time.Now()); ok {
			if err := srv.ServePodMetrics(pm); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Printf("serving metrics.k8s.io (through the aggregation layer) for %d running pods\n", n)
	return nil
}

func printUsage(kubeconfig string, ex *examplePod) {
	fmt.Printf("\nSandbox ready. In another shell:\n\n")
	fmt.Printf("  export KUBECONFIG=%s\n", kubeconfig)
	fmt.Printf("  kubectl get pods -A\n")
	if ex != nil {
		c := ""
		if ex.container != "" {
			c = " -c " + ex.container
		}
		if ex.previous {
			fmt.Printf("  kubectl logs -n %s %s%s --previous\n", ex.namespace, ex.name, c)
		} else if ex.container != "" {
			fmt.Printf("  kubectl logs -n %s %s%s\n", ex.namespace, ex.name, c)
		}
		fmt.Printf("  kubectl describe pod -n %s %s\n", ex.namespace, ex.name)
	}
	fmt.Printf("  kdoctor --kubeconfig %s -A        (or: go run . --kubeconfig %s -A)\n", kubeconfig, kubeconfig)
	fmt.Printf("\nCtrl-C stops the sandbox.\n")
}
