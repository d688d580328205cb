package live_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// TestWatchAgainstRealAPIServer: a status change made on the server reaches
// the batch channel; switching namespaces restarts the watch cleanly.
func TestWatchAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed", "healthy", "limitrange-rejection")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := srv.Client()
	// What runs before the first watch (the harness, its kubelet) is not ours.
	before := goleak.IgnoreCurrent()

	collect := func(w *live.Watcher, until func(map[types.UID]live.PodRow, live.Batch) bool) map[types.UID]live.PodRow {
		t.Helper()
		rows := map[types.UID]live.PodRow{}
		deadline := time.After(20 * time.Second)
		for {
			select {
			case b, ok := <-w.Batches():
				if !ok {
					t.Fatal("watch ended")
				}
				for _, r := range b.Pods {
					rows[r.UID] = r
				}
				for _, uid := range b.DeletedPods {
					delete(rows, uid)
				}
				if until(rows, b) {
					return rows
				}
			case <-deadline:
				t.Fatalf("timed out; %d rows", len(rows))
			}
		}
	}

	wctx, stop := context.WithCancel(ctx)
	w := live.Watch(wctx, client, live.Scope{Namespaces: []string{"payments"}}, live.AllResources)
	isLive := false
	rows := collect(w, func(rows map[types.UID]live.PodRow, b live.Batch) bool {
		isLive = isLive || b.State == live.Live
		return isLive && len(rows) > 0
	})
	var ledger live.PodRow
	for _, r := range rows {
		if r.Namespace != "payments" {
			t.Fatalf("pod %s/%s outside the scope", r.Namespace, r.Name)
		}
		ledger = r
	}

	pod, err := client.CoreV1().Pods("payments").Get(ctx, ledger.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses[0].RestartCount = 4242
	start := time.Now()
	if _, err := client.CoreV1().Pods("payments").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	collect(w, func(rows map[types.UID]live.PodRow, _ live.Batch) bool {
		return rows[ledger.UID].Restarts == 4242
	})
	t.Logf("status change reached the batch channel in %s", time.Since(start).Round(time.Millisecond))

	// Switch namespaces: stop, wait, start afresh.
	stop()
	<-w.Done()
	wctx, stop = context.WithCancel(ctx)
	w = live.Watch(wctx, client, live.Scope{Namespaces: []string{"shop", "inventory"}}, live.AllResources)
	var workloads []live.WorkloadRow
	rows = collect(w, func(rows map[types.UID]live.PodRow, b live.Batch) bool {
		workloads = append(workloads, b.Workloads...)
		return b.State == live.Live && len(rows) > 0 && len(workloads) > 0
	})
	for _, r := range rows {
		if r.Namespace != "shop" {
			t.Fatalf("pod %s/%s outside the new scope", r.Namespace, r.Name)
		}
	}
	stop()
	<-w.Done()
	// Client transports keep a few idle goroutines; the watch's own must be gone.
	goleak.VerifyNone(t, before, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}
