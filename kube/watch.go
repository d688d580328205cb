package kube

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// FrameInterval is how often watch changes are handed to the UI: one batch
// per frame at most, however fast the cluster changes.
const FrameInterval = 16 * time.Millisecond

// ConnState is the state of the watch connection, shown in the header.
type ConnState uint8

// Connection states.
const (
	Syncing ConnState = iota
	Live
	Reconnecting
	Forbidden
)

func (s ConnState) String() string {
	return [...]string{"syncing", "live", "reconnecting", "forbidden"}[s]
}

// Batch is the coalesced set of changes since the previous batch. A pod that
// changed ten times in a frame appears once, with its latest row.
type Batch struct {
	Upserts []PodRow
	Deletes []types.UID
	State   ConnState
	// Received counts pod objects received so far (sync progress).
	Received int
	// Err is the last watch error while reconnecting or forbidden.
	Err error
}

// Scope is what to watch: no namespaces means all of them.
type Scope struct {
	Namespaces []string
}

// PodWatcher streams the pods of a scope as coalesced batches of rows.
type PodWatcher struct {
	out  chan Batch
	done chan struct{}

	mu       sync.Mutex
	upserts  map[types.UID]PodRow
	deletes  map[types.UID]struct{}
	state    ConnState
	err      error
	received int
	dirty    bool
}

// WatchPods starts informers for the scope and returns a watcher whose
// Batches channel delivers changes until ctx is cancelled; then every
// goroutine it started has returned once Done is closed.
func WatchPods(ctx context.Context, client kubernetes.Interface, scope Scope) *PodWatcher {
	w := &PodWatcher{
		out:     make(chan Batch, 1),
		done:    make(chan struct{}),
		upserts: map[types.UID]PodRow{},
		deletes: map[types.UID]struct{}{},
	}
	namespaces := scope.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var wg sync.WaitGroup
	var factories []informers.SharedInformerFactory
	var synced []cache.InformerSynced
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithNamespace(ns),
			informers.WithTransform(compactPod))
		inf := f.Core().V1().Pods().Informer()
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			w.setErr(err)
		})
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.upsert(obj) },
			UpdateFunc: func(_, obj any) { w.upsert(obj) },
			DeleteFunc: func(obj any) { w.delete(obj) },
		})
		synced = append(synced, inf.HasSynced)
		factories = append(factories, f)
	}
	for _, f := range factories {
		f.Start(ctx.Done())
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if cache.WaitForCacheSync(ctx.Done(), synced...) {
			w.mu.Lock()
			w.state, w.err, w.dirty = Live, nil, true
			w.mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		w.flushLoop(ctx)
	}()
	go func() {
		wg.Wait()
		for _, f := range factories {
			f.Shutdown()
		}
		close(w.out)
		close(w.done)
	}()
	return w
}

// Batches delivers coalesced changes; it is closed when the watcher stops.
func (w *PodWatcher) Batches() <-chan Batch { return w.out }

// Done is closed when every goroutine of the watcher has returned.
func (w *PodWatcher) Done() <-chan struct{} { return w.done }

// flushLoop hands the pending changes over once per frame. Informer handlers
// only touch the pending maps under a mutex, so a slow UI never blocks the
// informers: changes simply coalesce until the UI takes the next batch.
func (w *PodWatcher) flushLoop(ctx context.Context) {
	t := time.NewTicker(FrameInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, ok := w.take()
		if !ok {
			continue
		}
		select {
		case w.out <- b:
		case <-ctx.Done():
			return
		}
	}
}

func (w *PodWatcher) take() (Batch, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty {
		return Batch{}, false
	}
	b := Batch{State: w.state, Err: w.err, Received: w.received}
	if len(w.upserts) > 0 {
		b.Upserts = make([]PodRow, 0, len(w.upserts))
		for _, r := range w.upserts {
			b.Upserts = append(b.Upserts, r)
		}
		w.upserts = make(map[types.UID]PodRow, len(w.upserts)/4)
	}
	if len(w.deletes) > 0 {
		b.Deletes = make([]types.UID, 0, len(w.deletes))
		for uid := range w.deletes {
			b.Deletes = append(b.Deletes, uid)
		}
		w.deletes = map[types.UID]struct{}{}
	}
	w.dirty = false
	return b, true
}

func (w *PodWatcher) upsert(obj any) {
	p, ok := obj.(*podRowObject)
	if !ok {
		return
	}
	w.mu.Lock()
	w.received++
	delete(w.deletes, p.Row.UID)
	w.upserts[p.Row.UID] = p.Row
	if w.state == Reconnecting {
		w.state, w.err = Live, nil
	}
	w.dirty = true
	w.mu.Unlock()
}

func (w *PodWatcher) delete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*podRowObject)
	if !ok {
		return
	}
	w.mu.Lock()
	delete(w.upserts, p.Row.UID)
	w.deletes[p.Row.UID] = struct{}{}
	w.dirty = true
	w.mu.Unlock()
}

func (w *PodWatcher) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err, w.dirty = err, true
	switch {
	case isForbidden(err):
		w.state = Forbidden
	case w.state == Live:
		w.state = Reconnecting
	}
}

// podRowObject is what the informer cache stores instead of a full pod: the
// identity the cache needs and the row the tree shows.
type podRowObject struct {
	metav1.TypeMeta
	metav1.ObjectMeta
	Row PodRow
}

func (o *podRowObject) DeepCopyObject() runtime.Object {
	c := *o
	return &c
}

// compactPod is the informer transform: it runs before an object is stored,
// so the full pod is garbage as soon as its row is computed.
func compactPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &podRowObject{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
		},
		Row: NewPodRow(p),
	}, nil
}
