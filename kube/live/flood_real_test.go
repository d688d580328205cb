package live_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// TestWatchEventFlood creates 10,000 Warning events in a burst: the watcher
// hands them over in frame-sized batches, every one of them, with a heap
// that grows by the compact rows it keeps and no more.
func TestWatchEventFlood(t *testing.T) {
	const (
		ns      = "flood"
		total   = 10_000
		workers = 16
	)
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 90*time.Second)
	kubetest.CreateNamespace(t, srv, ns)
	victim, err := srv.Client().CoreV1().Pods(ns).Create(ctx, simplePod(ns, "victim"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	cl := kubetest.ConnectAs(t, srv, "", "")
	wctx, cancel := context.WithCancel(context.Background())
	w := live.Watch(wctx, cl.Client(), live.Scope{Namespaces: []string{ns}}, live.AllResources)
	defer stopWatcher(t, cancel, w, 5*time.Second)
	tr := trackRows(w)
	if !tr.waitUntil(20*time.Second, func(tr *rowTracker) bool { return tr.resources[live.ResEvents].State == live.Live }) {
		t.Fatalf("events never live: %+v", tr.resources)
	}
	before := kubetest.HeapInUse()
	tr.mu.Lock()
	batchesBefore := tr.batches
	tr.mu.Unlock()

	started := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for worker := range workers {
		wg.Go(func() {
			for i := worker; i < total; i += workers {
				now := metav1.Now()
				_, err := srv.Client().CoreV1().Events(ns).Create(ctx, &corev1.Event{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("flood-%05d", i)},
					InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: victim.Name, UID: victim.UID,
						APIVersion: "v1", FieldPath: "spec.containers{app}"},
					Reason: "BackOff", Type: corev1.EventTypeWarning, Count: 1,
					Message:        fmt.Sprintf("Back-off restarting failed container app in pod victim (%d)", i),
					FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "kubelet", Host: "node-1"},
				}, metav1.CreateOptions{})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	created := time.Since(started)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !tr.waitUntil(30*time.Second, func(tr *rowTracker) bool { return len(tr.eventUIDs) == total }) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		t.Fatalf("%d of %d events delivered", len(tr.eventUIDs), total)
	}
	delivered := time.Since(started)
	after := kubetest.HeapInUse()
	tr.mu.Lock()
	batches := tr.batches - batchesBefore
	rows := tr.events
	tr.mu.Unlock()
	t.Logf("%d events created in %v (%.0f/s), all delivered after %v in %d batches (%.1f events a batch); heap %s → %s",
		total, created.Round(time.Millisecond), total/created.Seconds(), delivered.Round(time.Millisecond),
		batches, float64(rows)/float64(batches), kubetest.MiB(before), kubetest.MiB(after))
	// One batch per frame at most: a burst of thousands per second must
	// coalesce, whatever speed this machine creates them at.
	if frames := int(delivered/live.FrameInterval) + 1; batches > frames {
		t.Errorf("%d batches in %v: more than one a frame (%d frames)", batches, delivered, frames)
	}
	// And at least ten events a batch, when they arrived at ten a frame or
	// more: a loaded machine creating fewer a frame cannot fill batches
	// (the check above still holds it to one a frame).
	if perFrame := float64(total) / (float64(created) / float64(live.FrameInterval)); perFrame >= 10 && batches*10 > total {
		t.Errorf("%d batches for %d events arriving %.0f a frame: not coalesced", batches, total, perFrame)
	}
	if rows != total {
		t.Errorf("%d event rows handed over for %d new events: duplicates", rows, total)
	}
	if growth := int64(after) - int64(before); growth > 48<<20 {
		t.Errorf("heap grew by %s for %d events", kubetest.MiB(uint64(growth)), total)
	}
}
