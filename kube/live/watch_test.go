package live

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func pod(ns, name, uid string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid),
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// waitFor drains batches into rows until cond holds.
func waitFor(t *testing.T, w *Watcher, rows map[types.UID]PodRow, last *Batch, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case b, ok := <-w.Batches():
			if !ok {
				t.Fatal("watcher closed")
			}
			for _, r := range b.Pods {
				rows[r.UID] = r
			}
			for _, uid := range b.DeletedPods {
				delete(rows, uid)
			}
			*last = b
		case <-deadline:
			t.Fatalf("timed out; rows=%d state=%v", len(rows), last.State)
		}
	}
}

func TestWatchPodsStreamsCoalescedBatches(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	client := fake.NewClientset(pod("shop", "a", "u-a"), pod("shop", "b", "u-b"), pod("other", "c", "u-c"))
	ctx, cancel := context.WithCancel(context.Background())
	w := WatchPods(ctx, client, Scope{Namespaces: []string{"shop"}})

	rows := map[types.UID]PodRow{}
	var last Batch
	waitFor(t, w, rows, &last, func() bool { return len(rows) == 2 && last.State == Live })
	if _, ok := rows["u-c"]; ok {
		t.Fatal("pod from another namespace leaked into the scope")
	}

	// Many quick updates of one pod arrive as few batches, the last status winning.
	p := pod("shop", "a", "u-a")
	for i := range 50 {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: int32(i + 1)}}
		if _, err := client.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	batches := 0
	for rows["u-a"].Restarts != 50 {
		select {
		case b := <-w.Batches():
			batches++
			for _, r := range b.Pods {
				rows[r.UID] = r
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("restarts = %d", rows["u-a"].Restarts)
		}
	}
	if batches >= 50 {
		t.Fatalf("50 updates produced %d batches: not coalesced", batches)
	}

	if err := client.CoreV1().Pods("shop").Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, rows, &last, func() bool { _, ok := rows["u-b"]; return !ok })

	cancel()
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not stop")
	}
}

// The preview shows a first screen before the watch has listed anything,
// and the watch has the last word: a pod deleted in between goes, a pod
// changed in between shows its new state.
func TestWatchPreviewIsConfirmedByTheWatch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	client := fake.NewClientset(pod("shop", "a", "u-a"), pod("shop", "b", "u-b"))
	// The watch's own lists fail until released. (Blocking them instead
	// would block the preview too: the fake clientset runs its reactors
	// under one lock.)
	var released atomic.Bool
	release := func() { released.Store(true) }
	client.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if la, ok := a.(k8stesting.ListActionImpl); (!ok || la.ListOptions.Limit != PreviewPods) && !released.Load() {
			return true, nil, apierrors.NewServiceUnavailable("not yet")
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := Watch(ctx, client, Scope{Namespaces: []string{"shop"}}, WatchOptions{Preview: PreviewPods})

	rows := map[types.UID]PodRow{}
	var last Batch
	waitFor(t, w, rows, &last, func() bool { return len(rows) == 2 })
	if last.State == Live {
		t.Fatal("the preview came after the watch: the test proves nothing")
	}

	// Behind the preview's back: b is deleted, a starts crashing.
	if err := client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "shop", "b"); err != nil {
		t.Fatal(err)
	}
	a := pod("shop", "a", "u-a")
	a.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 7}}
	if err := client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), a, "shop"); err != nil {
		t.Fatal(err)
	}
	release()
	waitFor(t, w, rows, &last, func() bool { _, hasB := rows["u-b"]; return last.State == Live && !hasB && rows["u-a"].Restarts == 7 })
	cancel()
	<-w.Done()
}
