package live_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// withUsers is the server options that create these restricted users.
func withUsers(users ...string) kubetest.Options {
	opts := kubetest.Options{}
	for _, u := range users {
		opts.Users = append(opts.Users, kubetest.User{Name: u})
	}
	return opts
}

// simplePod is a pending pod with one container.
func simplePod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "reliability"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app"}}},
	}
}

// stateAt is a pods-watch state change the tracker saw.
type stateAt struct {
	State live.ConnState
	Err   error
	At    time.Time
}

// rowTracker applies a watcher's batches to a table of pod rows, as the UI
// does, and records what a reliability test needs to judge them.
type rowTracker struct {
	done chan struct{}

	mu        sync.Mutex
	rows      map[types.UID]live.PodRow
	batches   int
	events    int
	eventUIDs map[types.UID]struct{}
	states    []stateAt
	resources map[string]live.ResourceState
	// wipes counts batches that deleted every row the table held.
	wipes   int
	changed chan struct{} // closed and replaced on every batch
}

// trackRows consumes w's batches until the watcher closes them.
func trackRows(w *live.Watcher) *rowTracker {
	tr := &rowTracker{
		done: make(chan struct{}), rows: map[types.UID]live.PodRow{},
		resources: map[string]live.ResourceState{}, changed: make(chan struct{}),
		eventUIDs: map[types.UID]struct{}{},
	}
	go func() {
		defer close(tr.done)
		for b := range w.Batches() {
			tr.apply(b)
		}
	}()
	return tr
}

func (tr *rowTracker) apply(b live.Batch) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.batches++
	tr.events += len(b.Events)
	for _, e := range b.Events {
		tr.eventUIDs[e.UID] = struct{}{}
	}
	if n := len(tr.rows); n > 0 && len(b.DeletedPods) >= n {
		all := true
		for _, uid := range b.DeletedPods {
			if _, ok := tr.rows[uid]; !ok {
				all = false
			}
		}
		if all && len(b.Pods) == 0 {
			tr.wipes++
		}
	}
	for _, uid := range b.DeletedPods {
		delete(tr.rows, uid)
	}
	for _, r := range b.Pods {
		tr.rows[r.UID] = r
	}
	if n := len(tr.states); n == 0 || tr.states[n-1].State != b.State || tr.states[n-1].Err != b.Err {
		tr.states = append(tr.states, stateAt{State: b.State, Err: b.Err, At: time.Now()})
	}
	for _, r := range b.Resources {
		tr.resources[r.Resource] = r
	}
	close(tr.changed)
	tr.changed = make(chan struct{})
}

// waitUntil waits until cond (called under the tracker's lock) holds.
func (tr *rowTracker) waitUntil(timeout time.Duration, cond func(tr *rowTracker) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tr.mu.Lock()
		ok := cond(tr)
		ch := tr.changed
		tr.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-tr.done:
			tr.mu.Lock()
			ok := cond(tr)
			tr.mu.Unlock()
			return ok
		case <-deadline.C:
			return false
		}
	}
}

// lastState is the pods watch's latest state.
func (tr *rowTracker) lastState() stateAt {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.states) == 0 {
		return stateAt{State: live.Syncing}
	}
	return tr.states[len(tr.states)-1]
}

// stateSince returns the first change to st after since.
func (tr *rowTracker) stateSince(st live.ConnState, since time.Time) (stateAt, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, s := range tr.states {
		if s.State == st && !s.At.Before(since) {
			return s, true
		}
	}
	return stateAt{}, false
}

// keys returns the table as namespace/name → UID; a name held twice (two
// rows of one pod) is reported as an error.
func (tr *rowTracker) keys() (map[string]types.UID, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.keysLocked()
}

func (tr *rowTracker) keysLocked() (map[string]types.UID, error) {
	out := map[string]types.UID{}
	for uid, r := range tr.rows {
		k := r.Namespace + "/" + r.Name
		if prev, dup := out[k]; dup {
			return nil, fmt.Errorf("pod %s shown twice (UIDs %s and %s)", k, prev, uid)
		}
		out[k] = uid
	}
	return out, nil
}

// listPods is a fresh LIST as namespace/name → UID.
func listPods(ctx context.Context, t *testing.T, srv *kubetest.Server, ns string) map[string]types.UID {
	t.Helper()
	list, err := srv.Client().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, p := range list.Items {
		out[p.Namespace+"/"+p.Name] = p.UID
	}
	return out
}

func sameKeys(a, b map[string]types.UID) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// stopWatcher cancels a watch and fails the test if it does not wind down.
func stopWatcher(t *testing.T, cancel context.CancelFunc, w *live.Watcher, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	cancel()
	select {
	case <-w.Done():
	case <-time.After(within):
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("watcher did not stop within %v of its context ending; goroutines:\n%s", within, buf)
	}
	return time.Since(start)
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}
