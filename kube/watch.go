package kube

import (
	"context"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
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

// Resource names used in ResourceState.
const (
	ResPods      = "pods"
	ResNodes     = "nodes"
	ResWorkloads = "workloads"
	ResEvents    = "events"
)

// ResourceState says whether one watched resource is available; a
// namespace-scoped user typically cannot watch nodes, and the UI says so
// ("nodes: forbidden — node conditions unavailable") instead of guessing.
type ResourceState struct {
	Resource string
	State    ConnState
	Err      error
}

// Batch is the coalesced set of changes since the previous batch. A pod that
// changed ten times in a frame appears once, with its latest row.
type Batch struct {
	Pods             []PodRow
	DeletedPods      []types.UID
	Nodes            []NodeRow
	DeletedNodes     []string
	Workloads        []WorkloadRow
	DeletedWorkloads []types.UID
	// Events are new or updated Warning events of the scope.
	Events []EventRow

	// State is the pods watch's state, the one the header shows.
	State ConnState
	// Received counts objects received so far (sync progress).
	Received int
	// Err is the last pods watch error while reconnecting or forbidden.
	Err error
	// Resources is the state of every watched resource, sorted by name; set
	// only when one of them changed.
	Resources []ResourceState
}

// Scope is what to watch: no namespaces means all of them.
type Scope struct {
	Namespaces []string
}

// WatchOptions selects what besides pods is watched.
type WatchOptions struct {
	Nodes, Workloads, Events bool
}

// AllResources watches everything the tree can show.
var AllResources = WatchOptions{Nodes: true, Workloads: true, Events: true}

// Watcher streams the scope's pods (and optionally nodes, workloads and
// Warning events) as coalesced batches of compact rows.
type Watcher struct {
	out  chan Batch
	done chan struct{}

	mu        sync.Mutex
	pods      map[types.UID]PodRow
	delPods   map[types.UID]struct{}
	nodes     map[string]NodeRow
	delNodes  map[string]struct{}
	wls       map[types.UID]WorkloadRow
	delWls    map[types.UID]struct{}
	events    map[types.UID]EventRow
	resources map[string]ResourceState
	resDirty  bool
	received  int
	dirty     bool
	probing   bool
	client    kubernetes.Interface
	probeNS   string
}

// Watch starts informers for the scope and returns a watcher whose Batches
// channel delivers changes until ctx is cancelled; Done is closed once every
// goroutine it started has returned, so a namespace or context switch can
// cancel, wait, and start afresh without leaks.
func Watch(ctx context.Context, client kubernetes.Interface, scope Scope, opts WatchOptions) *Watcher {
	w := &Watcher{
		out: make(chan Batch, 1), done: make(chan struct{}),
		pods: map[types.UID]PodRow{}, delPods: map[types.UID]struct{}{},
		nodes: map[string]NodeRow{}, delNodes: map[string]struct{}{},
		wls: map[types.UID]WorkloadRow{}, delWls: map[types.UID]struct{}{},
		events: map[types.UID]EventRow{}, resources: map[string]ResourceState{},
		client: client,
	}
	namespaces := scope.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	w.probeNS = namespaces[0]
	w.resources[ResPods] = ResourceState{Resource: ResPods, State: Syncing}

	var factories []informers.SharedInformerFactory
	synced := map[string][]cache.InformerSynced{}
	add := func(inf cache.SharedIndexInformer, res string) {
		synced[res] = append(synced[res], inf.HasSynced)
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			w.watchError(ctx, res, err)
		})
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    w.upsert,
			UpdateFunc: func(_, obj any) { w.upsert(obj) },
			DeleteFunc: w.remove,
		})
	}
	// informer makes the factory's informer of obj's type from lw, whose
	// watch requests report to the watcher (see reportingListWatch).
	informer := func(f informers.SharedInformerFactory, res string, obj runtime.Object, lw *cache.ListWatch) {
		add(f.InformerFor(obj, func(kubernetes.Interface, time.Duration) cache.SharedIndexInformer {
			return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), obj, 0,
				cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		}), res)
	}
	warnings := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns), informers.WithTransform(compact))
		informer(f, ResPods, &corev1.Pod{}, reportingListWatch(w, ctx, ResPods, client.CoreV1().Pods(ns), nil))
		if opts.Workloads {
			w.resources[ResWorkloads] = ResourceState{Resource: ResWorkloads, State: Syncing}
			informer(f, ResWorkloads, &appsv1.Deployment{}, reportingListWatch(w, ctx, ResWorkloads, client.AppsV1().Deployments(ns), nil))
			informer(f, ResWorkloads, &appsv1.StatefulSet{}, reportingListWatch(w, ctx, ResWorkloads, client.AppsV1().StatefulSets(ns), nil))
			informer(f, ResWorkloads, &appsv1.DaemonSet{}, reportingListWatch(w, ctx, ResWorkloads, client.AppsV1().DaemonSets(ns), nil))
			informer(f, ResWorkloads, &batchv1.Job{}, reportingListWatch(w, ctx, ResWorkloads, client.BatchV1().Jobs(ns), nil))
		}
		if opts.Events {
			w.resources[ResEvents] = ResourceState{Resource: ResEvents, State: Syncing}
			informer(f, ResEvents, &corev1.Event{}, reportingListWatch(w, ctx, ResEvents, client.CoreV1().Events(ns), warnings))
		}
		factories = append(factories, f)
	}
	if opts.Nodes {
		w.resources[ResNodes] = ResourceState{Resource: ResNodes, State: Syncing}
		nf := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(compact))
		informer(nf, ResNodes, &corev1.Node{}, reportingListWatch(w, ctx, ResNodes, client.CoreV1().Nodes(), nil))
		factories = append(factories, nf)
	}
	for _, f := range factories {
		f.Start(ctx.Done())
	}

	var wg sync.WaitGroup
	// Each resource reports its own sync: a forbidden one never syncs, so it
	// must not hold back the others (pods alone decide "live" in the header).
	for res, fns := range synced {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cache.WaitForCacheSync(ctx.Done(), fns...) {
				w.setState(res, Live, nil)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.flushLoop(ctx)
	}()
	go func() {
		wg.Wait()
		for _, f := range factories {
			f.Shutdown()
		}
		w.mu.Lock()
		for w.probing {
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			w.mu.Lock()
		}
		w.mu.Unlock()
		close(w.out)
		close(w.done)
	}()
	return w
}

// WatchPods watches only pods; see Watch.
func WatchPods(ctx context.Context, client kubernetes.Interface, scope Scope) *Watcher {
	return Watch(ctx, client, scope, WatchOptions{})
}

// Batches delivers coalesced changes; it is closed when the watcher stops.
func (w *Watcher) Batches() <-chan Batch { return w.out }

// Done is closed when every goroutine of the watcher has returned.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// flushLoop hands the pending changes over once per frame. Informer handlers
// only touch the pending maps under a mutex, so a slow UI never blocks the
// informers: changes simply coalesce until the UI takes the next batch.
func (w *Watcher) flushLoop(ctx context.Context) {
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

func (w *Watcher) take() (Batch, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty {
		return Batch{}, false
	}
	ps := w.resources[ResPods]
	b := Batch{State: ps.State, Err: ps.Err, Received: w.received}
	b.Pods, w.pods = values(w.pods), reset(w.pods)
	b.DeletedPods, w.delPods = keys(w.delPods), reset(w.delPods)
	b.Nodes, w.nodes = values(w.nodes), reset(w.nodes)
	b.DeletedNodes, w.delNodes = keys(w.delNodes), reset(w.delNodes)
	b.Workloads, w.wls = values(w.wls), reset(w.wls)
	b.DeletedWorkloads, w.delWls = keys(w.delWls), reset(w.delWls)
	b.Events, w.events = values(w.events), reset(w.events)
	if w.resDirty {
		for _, r := range w.resources {
			b.Resources = append(b.Resources, r)
		}
		sort.Slice(b.Resources, func(i, j int) bool { return b.Resources[i].Resource < b.Resources[j].Resource })
		w.resDirty = false
	}
	w.dirty = false
	return b, true
}

func values[K comparable, V any](m map[K]V) []V {
	if len(m) == 0 {
		return nil
	}
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func keys[K comparable, V any](m map[K]V) []K {
	if len(m) == 0 {
		return nil
	}
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// reset returns an empty map, reusing m when it held nothing.
func reset[K comparable, V any](m map[K]V) map[K]V {
	if len(m) == 0 {
		return m
	}
	return make(map[K]V)
}

func (w *Watcher) upsert(obj any) {
	c, ok := obj.(*compactObject)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.received++
	w.dirty = true
	switch r := c.row.(type) {
	case PodRow:
		delete(w.delPods, r.UID)
		w.pods[r.UID] = r
	case NodeRow:
		delete(w.delNodes, r.Name)
		w.nodes[r.Name] = r
	case WorkloadRow:
		delete(w.delWls, r.UID)
		w.wls[r.UID] = r
	case EventRow:
		w.events[r.UID] = r
	}
}

func (w *Watcher) remove(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	c, ok := obj.(*compactObject)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dirty = true
	switch r := c.row.(type) {
	case PodRow:
		delete(w.pods, r.UID)
		w.delPods[r.UID] = struct{}{}
	case NodeRow:
		delete(w.nodes, r.Name)
		w.delNodes[r.Name] = struct{}{}
	case WorkloadRow:
		delete(w.wls, r.UID)
		w.delWls[r.UID] = struct{}{}
	}
}

func (w *Watcher) setState(res string, st ConnState, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.resources[res]
	if cur.State == st && cur.Err == err {
		return
	}
	w.resources[res] = ResourceState{Resource: res, State: st, Err: err}
	w.resDirty, w.dirty = true, true
}

// watchError records a failed list or watch. Forbidden is final for that
// resource until the scope changes; anything else means the informer is
// retrying, and a probe finds out when the server answers again, because an
// idle re-established watch would otherwise never tell us.
func (w *Watcher) watchError(ctx context.Context, res string, err error) {
	if isForbidden(err) {
		w.setState(res, Forbidden, err)
		return
	}
	w.mu.Lock()
	cur := w.resources[res]
	if cur.State == Syncing && res != ResPods {
		w.mu.Unlock()
		return
	}
	w.resources[res] = ResourceState{Resource: res, State: Reconnecting, Err: err}
	w.resDirty, w.dirty = true, true
	startProbe := !w.probing && ctx.Err() == nil
	if startProbe {
		w.probing = true
	}
	w.mu.Unlock()
	if startProbe {
		go w.probe(ctx)
	}
}

// listerWatcher is one resource's list and watch, as typed clients have them.
type listerWatcher[L runtime.Object] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}

// reportingListWatch lists and watches through api and tells the watcher
// how each watch request went. client-go's watch error handler only hears
// of failed lists: a watch request refused because the API server is gone
// is retried quietly, forever, so without this a watcher whose server died
// under an established watch would go on saying "live".
func reportingListWatch[L runtime.Object](w *Watcher, ctx context.Context, res string, api listerWatcher[L], tweak func(*metav1.ListOptions)) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(rctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			if tweak != nil {
				tweak(&o)
			}
			return api.List(rctx, o)
		},
		WatchFuncWithContext: func(rctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			if tweak != nil {
				tweak(&o)
			}
			wi, err := api.Watch(rctx, o)
			switch {
			case rctx.Err() != nil || ctx.Err() != nil:
			case err != nil:
				w.watchError(ctx, res, err)
			default:
				w.watchResumed(res)
			}
			return wi, err
		},
	}
}

// watchResumed marks a reconnecting resource live again as soon as its
// watch is re-established, which on a slow link may be before the probe
// gets an answer in time.
func (w *Watcher) watchResumed(res string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur := w.resources[res]; cur.State == Reconnecting {
		w.resources[res] = ResourceState{Resource: res, State: Live}
		w.resDirty, w.dirty = true, true
	}
}

func (w *Watcher) probe(ctx context.Context) {
	defer func() {
		w.mu.Lock()
		w.probing = false
		w.mu.Unlock()
	}()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := w.client.CoreV1().Pods(w.probeNS).List(pctx, metav1.ListOptions{Limit: 1, ResourceVersion: ""})
		cancel()
		if err == nil {
			w.mu.Lock()
			for name, r := range w.resources {
				if r.State == Reconnecting {
					w.resources[name] = ResourceState{Resource: name, State: Live}
				}
			}
			w.resDirty, w.dirty = true, true
			w.mu.Unlock()
			return
		}
	}
}

// compactObject is what the informer caches store instead of full objects:
// the identity the cache needs and the row the UI shows.
type compactObject struct {
	metav1.TypeMeta
	metav1.ObjectMeta
	row any
}

func (o *compactObject) DeepCopyObject() runtime.Object {
	c := *o
	return &c
}

// compact is the informer transform: it runs before an object is stored, so
// the full object is garbage as soon as its row is computed.
func compact(obj any) (any, error) {
	var row any
	var meta *metav1.ObjectMeta
	switch o := obj.(type) {
	case *corev1.Pod:
		row, meta = NewPodRow(o), &o.ObjectMeta
	case *corev1.Node:
		row, meta = NewNodeRow(o), &o.ObjectMeta
	case *corev1.Event:
		row, meta = NewEventRow(o), &o.ObjectMeta
	case *appsv1.Deployment:
		row, meta = deploymentRow(o), &o.ObjectMeta
	case *appsv1.StatefulSet:
		row, meta = statefulSetRow(o), &o.ObjectMeta
	case *appsv1.DaemonSet:
		row, meta = daemonSetRow(o), &o.ObjectMeta
	case *batchv1.Job:
		row, meta = jobRow(o), &o.ObjectMeta
	default:
		return obj, nil
	}
	return &compactObject{
		ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: meta.Namespace, UID: meta.UID, ResourceVersion: meta.ResourceVersion},
		row:        row,
	}, nil
}
