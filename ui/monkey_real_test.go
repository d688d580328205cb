package ui

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

var (
	monkeyKeys = flag.Int("monkey.keys", 1500, "random key presses of TestMonkeyReadOnlyAgainstRealAPIServer (the long run is 10000)")
	monkeySeed = flag.Uint64("monkey.seed", 0, "seed of the monkey run (0: from the clock; printed on failure)")
)

// TestMonkeyReadOnlyAgainstRealAPIServer drives the real program in read-only
// mode against the real API server while the cluster churns (pods created,
// crash-looping and deleted; a node going NotReady and back) with seeded
// random key presses across every pane, the filter, the palette and context
// switches. It checks: no panic, the terminal restored at the end, the heap
// bounded, goroutines back to their baseline, nothing in the session log,
// and no mutating, exec, attach, port-forward, proxy or eviction request in
// the API server's audit log.
func TestMonkeyReadOnlyAgainstRealAPIServer(t *testing.T) {
	seed := *monkeySeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("monkey seed %d: rerun with go test ./ui/ -run TestMonkey -monkey.seed=%d -monkey.keys=%d", seed, seed, *monkeyKeys)
		}
	})
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed", "crashloop-exit-1", "healthy")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	second := *cfg.Contexts[kubetest.ContextName]
	second.Namespace = "payments"
	cfg.Contexts["second"] = &second
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	connect := func(context string) (kube.Source, error) {
		f := genericclioptions.NewConfigFlags(true)
		f.KubeConfig, f.Context = &kubeconfig, &context
		return kube.Connect(f, kube.ConnectOptions{ReadOnly: true})
	}
	src, err := connect(kubetest.ContextName)
	if err != nil {
		t.Fatal(err)
	}
	// Warm the client's connection as kdoctor's preflight does, so that the
	// goroutine baseline includes its transport.
	if _, err := src.Client().CoreV1().Pods("").List(context.Background(), metav1.ListOptions{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	log, err := action.OpenSessionLog(logDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // w writes diagnoses to the working directory
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	fig := monkeyRun(t, seed, Options{Source: src, Connect: connect, Contexts: []string{kubetest.ContextName, "second"}, SessionLog: log},
		func(ctx context.Context) int { return churn(ctx, t, srv.Client()) })
	if entries, _ := os.ReadDir(logDir); len(entries) != 0 {
		t.Errorf("read-only kdoctor wrote the session log: %v", entries)
	}

	time.Sleep(500 * time.Millisecond) // let the last requests reach the audit log
	after, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	reads, reviews := 0, 0
	for _, e := range after[len(before):] {
		if e.User != kubetest.AdminUser || !strings.HasPrefix(e.UserAgent, "kdoctor") {
			continue
		}
		switch {
		case e.Verb == "create" && e.Resource == "selfsubjectaccessreviews" && e.Subresource == "":
			reviews++
		case e.Subresource == "exec", e.Subresource == "attach", e.Subresource == "portforward", e.Subresource == "eviction", e.Subresource == "proxy":
			t.Errorf("read-only kdoctor reached %s: %s %s", e.Subresource, e.Verb, e.RequestURI)
		case e.Verb == "get", e.Verb == "list", e.Verb == "watch":
			reads++
		default:
			t.Errorf("read-only kdoctor sent %s %s", e.Verb, e.RequestURI)
		}
	}
	if reads == 0 {
		t.Fatal("the audit log saw no read from kdoctor: the test proves nothing")
	}
	t.Logf("%s; audit: %d reads, %d access reviews, nothing else", fig, reads, reviews)
}

// namedKey is keyPress with the named keys the monkey uses.
func namedKey(s string) tea.KeyPressMsg {
	switch s {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	}
	return keyPress(s)
}

func tail(r *run) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.out.Bytes()
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return append([]byte(nil), b...)
}

// churn plays the cluster's side of an incident until ctx ends: a pod is
// created every tick and crash-loops (its restart count climbing), old ones
// are deleted, and a node flips between NotReady (PLEG unhealthy) and Ready.
// It returns how many writes it made.
func churn(ctx context.Context, t *testing.T, c kubernetes.Interface) int {
	const ns = "payments"
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Errorf("churn: no nodes: %v", err)
		return 0
	}
	node := nodes.Items[0].Name
	var mu sync.Mutex
	writes := 0
	count := func(err error) {
		if err == nil {
			mu.Lock()
			writes++
			mu.Unlock()
		}
	}
	var live []string
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			for _, name := range live {
				_ = c.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			}
			setNodeReady(context.Background(), c, node, true)
			return writes
		case <-tick.C:
		}
		name := fmt.Sprintf("churn-worker-%d", i)
		p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "churn-worker"}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "worker", Image: "registry.example.com/churn/worker:1.0"}},
				AutomountServiceAccountToken: new(bool)},
		}, metav1.CreateOptions{})
		count(err)
		if err == nil {
			live = append(live, name)
			// As the kubelet reports a container that keeps exiting 1.
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "worker", Image: p.Spec.Containers[0].Image, RestartCount: int32(i % 7),
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off 40s restarting failed container=worker pod=%s_%s(%s)", name, ns, p.UID)}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
			}}}
			_, err = c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			count(err)
		}
		if len(live) > 5 {
			count(c.CoreV1().Pods(ns).Delete(ctx, live[0], metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))
			live = live[1:]
		}
		if i%10 == 0 {
			count(setNodeReady(ctx, c, node, i%20 != 0))
		}
	}
}

// setNodeReady sets the node's Ready condition as the kubelet does when its
// pod lifecycle event generator stalls (pkg/kubelet/pleg: "PLEG is not
// healthy: pleg was last seen active …; threshold is 3m0s").
func setNodeReady(ctx context.Context, c kubernetes.Interface, node string, ready bool) error {
	n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cond := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}
	if !ready {
		cond.Status, cond.Reason = corev1.ConditionFalse, "KubeletNotReady"
		cond.Message = "PLEG is not healthy: pleg was last seen active 3m0.521s ago; threshold is 3m0s"
	}
	found := false
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i], found = cond, true
		}
	}
	if !found {
		n.Status.Conditions = append(n.Status.Conditions, cond)
	}
	_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// monkeyRun presses *monkeyKeys seeded random keys into the real program
// while churn plays the cluster, then checks that the program is alive, the
// terminal restored, the heap bounded and the goroutines back to baseline.
// It returns the run's figures.
func monkeyRun(t *testing.T, seed uint64, opts Options, churn func(context.Context) int) string {
	t.Helper()
	runtime.GC()
	baseG := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapAlloc

	churnCtx, stopChurn := context.WithCancel(context.Background())
	churned := make(chan int)
	go func() { churned <- churn(churnCtx) }()

	start := time.Now()
	r := startProgramWith(t, opts, 120, 30)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	all := everyKey()
	common := []string{"up", "down", "j", "k", "g", "G", "enter", "d", "l", "p", "e", "s", "c", "u", "r", "y", "w",
		"/", ":", "esc", "esc", "!", "n", "space", "left", "right", "tab", "f", "W", "t", "N", "?", "x", "enter"}
	maxHeap := baseHeap
	for i := 0; i < *monkeyKeys; i++ {
		select {
		case <-r.done:
			t.Fatalf("the program stopped after %d keys (a panic?); output tail:\n%q", i, tail(r))
		default:
		}
		var k tea.KeyPressMsg
		if rng.IntN(10) < 7 {
			k = namedKey(common[rng.IntN(len(common))])
		} else {
			k = all[rng.IntN(len(all))]
		}
		r.p.Send(k)
		if k.String() == ":" && rng.IntN(3) == 0 {
			// A palette command in full: a namespace or a context switch.
			cmd := []string{"ns payments", "ns shop", "ns default", "ctx second", "ctx " + firstContext(opts), "ns "}[rng.IntN(6)]
			r.typeText(cmd)
			r.keys("enter")
		}
		if i%10 == 9 {
			// A user's pace, roughly: let the watch and the churn interleave
			// with the keys rather than the keys all landing first.
			time.Sleep(5 * time.Millisecond)
		}
		if i%500 == 499 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapAlloc)
		}
	}
	elapsed := time.Since(start)
	stopChurn()
	events := <-churned
	r.p.Quit()
	<-r.done

	// The terminal is restored: the last thing written leaves the alternate
	// screen and shows the cursor again.
	out := tail(r)
	if i, j := bytes.LastIndex(out, []byte("\x1b[?1049h")), bytes.LastIndex(out, []byte("\x1b[?1049l")); j < 0 || j < i {
		t.Errorf("the program did not leave the alternate screen at the end: %q", out)
	}
	if bytes.LastIndex(out, []byte("\x1b[?25h")) < bytes.LastIndex(out, []byte("\x1b[?25l")) {
		t.Errorf("the cursor stayed hidden: %q", out)
	}

	const heapLimit = 256 << 20
	if maxHeap > heapLimit {
		t.Errorf("heap reached %d MiB (limit %d MiB)", maxHeap>>20, heapLimit>>20)
	}
	// Goroutines back to the baseline (watches, log streams, access reviews
	// all ended with the program).
	var g int
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if g = runtime.NumGoroutine(); g <= baseG+3 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}

	return fmt.Sprintf("monkey: seed %d, %d keys in %s, %d churn changes; heap %d MiB at start, max %d MiB; goroutines %d before, %d after",
		seed, *monkeyKeys, elapsed.Round(time.Millisecond), events, baseHeap>>20, maxHeap>>20, baseG, g)
}

func firstContext(opts Options) string {
	if len(opts.Contexts) > 0 {
		return opts.Contexts[0]
	}
	return "none"
}

// TestMonkeyReadOnlyDemo is the monkey run against the read-only demo, its
// own churn ticking fast (no API server needed, so it runs in -short too):
// the demo cluster sees only the demo's own writes, never kdoctor's.
func TestMonkeyReadOnlyDemo(t *testing.T) {
	seed := *monkeySeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("monkey seed %d: rerun with go test ./ui/ -run TestMonkeyReadOnlyDemo -monkey.seed=%d -monkey.keys=%d", seed, seed, *monkeyKeys)
		}
	})
	d := newDemo(t)
	d.GuardReadOnly()
	logDir := t.TempDir()
	log, err := action.OpenSessionLog(logDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	fig := monkeyRun(t, seed, Options{Source: d, SessionLog: log, Now: func() time.Time { return demoNow }}, func(ctx context.Context) int {
		n := 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for now := demoNow; ; now = now.Add(2 * time.Second) {
			select {
			case <-ctx.Done():
				return n
			case <-tick.C:
			}
			d.Step(ctx, now)
			n++
		}
	})
	if entries, _ := os.ReadDir(logDir); len(entries) != 0 {
		t.Errorf("read-only kdoctor wrote the session log: %v", entries)
	}
	t.Log(fig)
}
