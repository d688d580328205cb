package live_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// TestNoLeaksAgainstRealAPIServer starts and stops 50 watches, switching
// scopes as the UI's namespace switch does, and opens and closes 50
// followed logs: goroutines and file descriptors come back to where they
// were.
func TestNoLeaksAgainstRealAPIServer(t *testing.T) {
	const cycles = 50
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 90*time.Second)
	for _, ns := range []string{"leak-a", "leak-b"} {
		kubetest.CreateNamespace(t, srv, ns)
		for _, name := range []string{"p1", "p2"} {
			if _, err := srv.Client().CoreV1().Pods(ns).Create(ctx, simplePod(ns, name), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "leak-node"}}); err != nil {
		t.Fatal(err)
	}
	kubetest.StartPod(ctx, t, srv, "leak-a", "leak-node", "chatty", nil, "app")
	srv.Kubelet().LoadLogs(map[facts.LogKey][]byte{{Namespace: "leak-a", Pod: "chatty", Container: "app"}: []byte("hello\n")})
	cl := kubetest.ConnectAs(t, srv, "", "")

	scopes := []live.Scope{{Namespaces: []string{"leak-a"}}, {Namespaces: []string{"leak-b"}}, {}, {Namespaces: []string{"leak-a", "leak-b"}}}
	watchOnce := func(i int) {
		wctx, cancel := context.WithCancel(ctx)
		w := live.Watch(wctx, cl.Client(), scopes[i%len(scopes)], live.AllResources)
		for b := range w.Batches() {
			if b.State == live.Live {
				break
			}
		}
		stopWatcher(t, cancel, w, 5*time.Second)
		for range w.Batches() { // closed once stopped
		}
	}
	logOnce := func(int) {
		s, err := action.OpenLogs(ctx, cl, "leak-a", "chatty", action.LogOptions{Container: "app", Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := s.Next(ctx); err != nil || len(c.Lines) == 0 {
			t.Fatalf("first chunk %+v, %v", c, err)
		}
		s.Close()
	}

	for _, c := range []struct {
		name string
		once func(int)
	}{{"watch start and cancel", watchOnce}, {"follow logs open and close", logOnce}} {
		t.Run(c.name, func(t *testing.T) {
			c.once(0) // warm up: the client's connection, caches
			goroutines, fds := settledGoroutines(0, 0), openFDs(t)
			started := time.Now()
			for i := range cycles {
				c.once(i + 1)
			}
			took := time.Since(started)
			const slack = 3
			g := settledGoroutines(goroutines+slack, 10*time.Second)
			f := openFDs(t)
			t.Logf("%d cycles in %v: goroutines %d → %d, file descriptors %d → %d", cycles, took.Round(time.Millisecond), goroutines, g, fds, f)
			if g > goroutines+slack {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines %d after %d cycles, %d before:\n%s", g, cycles, goroutines, buf[:runtime.Stack(buf, true)])
			}
			if f > fds+slack {
				t.Errorf("file descriptors %d after %d cycles, %d before", f, cycles, fds)
			}
		})
	}
}

// settledGoroutines waits up to patience for the goroutine count to drop to
// want, and returns the count then.
func settledGoroutines(want int, patience time.Duration) int {
	deadline := time.Now().Add(patience)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}
