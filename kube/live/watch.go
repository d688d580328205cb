package live

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kdoctor-dev/kdoctor/diag"
)

// FrameInterval is how often watch changes are handed to the UI: one batch
// per frame at most, however fast the cluster changes.
const FrameInterval = 16 * time.Millisecond

// StreamingInterval is how often rows are handed over while pods stream in
// at start-up. Each batch then adds thousands of pods and makes the tree
// rebuild every line, so at 100k pods one batch per frame would spend more
// CPU on the tree than on receiving the pods; ten batches a second still
// show the tree filling and the count rising. The first batch goes at once
// and the last as soon as the stream ends.
const StreamingInterval = 100 * time.Millisecond

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
	// LabelSelector and FieldSelector narrow the pods watched, as kubectl's
	// -l and --field-selector; the label selector narrows the workloads too.
	LabelSelector, FieldSelector string
}

// Narrowed reports whether selectors leave some pods of the namespaces out.
func (s Scope) Narrowed() bool { return s.LabelSelector != "" || s.FieldSelector != "" }

// WatchOptions selects what besides pods is watched.
type WatchOptions struct {
	Nodes, Workloads, Events bool
	// Rules judge the pods' health and cause (see JudgePod): the team's
	// rules too, so the tree names what the diagnosis pane names.
	Rules *diag.Rules
	// Now is the clock the pods are judged by (ages of events and states);
	// nil is time.Now.
	Now func() time.Time
	// Preview, when above zero, is how many pods of each namespace are
	// listed while the watch starts, to show a first screen early (see
	// Watcher.preview).
	Preview int64
}

// PreviewPods is a screenful and then some: what the tree shows first.
const PreviewPods = 200

// AllResources watches everything the tree can show.
var AllResources = WatchOptions{Nodes: true, Workloads: true, Events: true, Preview: PreviewPods}

// Watcher streams the scope's pods (and optionally nodes, workloads and
// Warning events) as coalesced batches of compact rows.
type Watcher struct {
	out  chan Batch
	done chan struct{}
	// podSel applies the scope's selectors to a pod LIST (nil: none).
	podSel func(*metav1.ListOptions)

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
	// early holds the pods handed over while their informer was still
	// streaming its initial list, until the informer confirms them; see
	// podTransform and reconcileEarly.
	early map[types.UID]*compactObject
	// strs shares the pods' repeated strings.
	strs interner
	// judge holds what judging a pod again needs (see JudgePod).
	judge *judge
	// streamingNS counts the pod informers still streaming their
	// initial list; batches are spaced while it is above zero.
	streamingNS atomic.Int32
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
		client: client, early: map[types.UID]*compactObject{},
		judge: newJudge(opts.Nodes, opts.Events, opts.Rules, opts.Now),
	}
	namespaces := scope.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	w.probeNS = namespaces[0]
	w.resources[ResPods] = ResourceState{Resource: ResPods, State: Syncing}

	var factories []informers.SharedInformerFactory
	synced := map[string][]cache.InformerSynced{}
	// handled (may be nil) is told whenever the handler gets an object.
	add := func(inf cache.SharedIndexInformer, res string, handled func()) {
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			w.watchError(ctx, res, err)
		})
		seen := func() {
			if handled != nil {
				handled()
			}
		}
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { seen(); w.upsert(obj) },
			UpdateFunc: func(_, obj any) { seen(); w.upsert(obj) },
			DeleteFunc: func(obj any) { seen(); w.remove(obj) },
		})
		// The registration has synced once the handler has seen the whole
		// initial list, which is what "live" means for the tree.
		if err == nil {
			synced[res] = append(synced[res], reg.HasSynced)
		} else {
			synced[res] = append(synced[res], inf.HasSynced)
		}
	}
	// informer makes the factory's informer of obj's type from lw, whose
	// watch requests report to the watcher (see reportingListWatch).
	informer := func(f informers.SharedInformerFactory, res string, obj runtime.Object, lw *cache.ListWatch, handled func()) cache.SharedIndexInformer {
		inf := f.InformerFor(obj, func(kubernetes.Interface, time.Duration) cache.SharedIndexInformer {
			// No indexers: nothing looks objects up by namespace, and the
			// index would cost ~50 bytes a pod.
			return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), obj, 0, cache.Indexers{})
		})
		add(inf, res, handled)
		return inf
	}
	var podIndexers []cache.Indexer
	type nsStream struct {
		ns        string
		streaming *atomic.Bool
	}
	var streams []nsStream
	warnings := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()
	}
	var podSel, wlSel func(*metav1.ListOptions)
	if scope.Narrowed() {
		podSel = func(o *metav1.ListOptions) {
			o.LabelSelector, o.FieldSelector = scope.LabelSelector, scope.FieldSelector
		}
	}
	if scope.LabelSelector != "" {
		wlSel = func(o *metav1.ListOptions) { o.LabelSelector = scope.LabelSelector }
	}
	w.podSel = podSel
	for _, ns := range namespaces {
		// streaming is true until this namespace's pod informer hands its
		// first object to the handler: with WatchList, the informer holds
		// every pod back until the last one has arrived.
		streaming := &atomic.Bool{}
		streaming.Store(true)
		w.streamingNS.Add(1)
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns), informers.WithTransform(w.podTransform(streaming)))
		podInf := informer(f, ResPods, &corev1.Pod{}, reportingListWatch(w, ctx, ResPods, client.CoreV1().Pods(ns), podSel), func() {
			if streaming.Swap(false) {
				w.streamingNS.Add(-1)
			}
		})
		podIndexers = append(podIndexers, podInf.GetIndexer())
		streams = append(streams, nsStream{ns, streaming})
		if opts.Workloads {
			w.resources[ResWorkloads] = ResourceState{Resource: ResWorkloads, State: Syncing}
			informer(f, ResWorkloads, &appsv1.Deployment{}, reportingListWatch(w, ctx, ResWorkloads, client.AppsV1().Deployments(ns), wlSel), nil)
			informer(f, ResWorkloads, &appsv1.StatefulSet{}, reportingListWatch(w, ctx, ResWorkloads, client.AppsV1().StatefulSets(ns), wlSel), nil)
			informer(f, ResWorkloads, &appsv1.DaemonSet{}, reportingListWatch(w, ctx, ResWorkloads, client.AppsV1().DaemonSets(ns), wlSel), nil)
			informer(f, ResWorkloads, &batchv1.Job{}, reportingListWatch(w, ctx, ResWorkloads, client.BatchV1().Jobs(ns), wlSel), nil)
		}
		if opts.Events {
			w.resources[ResEvents] = ResourceState{Resource: ResEvents, State: Syncing}
			informer(f, ResEvents, &corev1.Event{}, reportingListWatch(w, ctx, ResEvents, client.CoreV1().Events(ns), warnings), nil)
		}
		factories = append(factories, f)
	}
	if opts.Nodes {
		w.resources[ResNodes] = ResourceState{Resource: ResNodes, State: Syncing}
		nf := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(w.nodeTransform))
		informer(nf, ResNodes, &corev1.Node{}, reportingListWatch(w, ctx, ResNodes, client.CoreV1().Nodes(), nil), nil)
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
				if res == ResPods {
					w.reconcileEarly(podIndexers)
				}
				if res == ResNodes || res == ResEvents {
					// Pods judged before the nodes or their events arrived
					// are judged again before the tree hears these are live.
					w.handOver(w.judge.flush(time.Now(), true))
				}
				w.setState(res, Live, nil)
			}
		}()
	}
	if opts.Preview > 0 {
		for _, st := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.preview(ctx, st.ns, st.streaming, opts.Preview)
			}()
		}
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
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.streamingNS.Load() > 0 && !last.IsZero() && time.Since(last) < StreamingInterval {
			continue
		}
		w.handOver(w.judge.flush(time.Now(), false))
		b, ok := w.take()
		if !ok {
			continue
		}
		select {
		case w.out <- b:
			last = time.Now()
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
	if c.kind == kindPod && w.early != nil {
		delete(w.early, c.uid) // the informer confirms it
	}
	// The row is handed over once: from then on only the tree holds it (the
	// cache keeps the identity), and a row handed over while streaming is
	// not sent twice.
	row := c.row
	c.row = nil
	if row == nil {
		return
	}
	w.received++
	w.dirty = true
	switch r := row.(type) {
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
	switch c.kind {
	case kindPod:
		if w.early != nil {
			delete(w.early, c.uid)
		}
		w.judge.forget(c.uid, c.namespace, c.name)
		delete(w.pods, c.uid)
		w.delPods[c.uid] = struct{}{}
	case kindNode:
		delete(w.nodes, c.name)
		w.delNodes[c.name] = struct{}{}
		w.handOverLocked(w.judge.node(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.name}}, true))
	case kindWorkload:
		delete(w.wls, c.uid)
		w.delWls[c.uid] = struct{}{}
	}
}

// podTransform compacts objects as they enter an informer's cache. While
// the pod informer is still streaming its initial list (WatchList holds
// every object back until the list is complete, seconds at 100k pods), it
// also hands each pod's row over at once, so the tree fills and the header
// counts up from the first frame instead of after the last pod. Such rows
// are not sent again when the informer releases their objects.
func (w *Watcher) podTransform(streaming *atomic.Bool) cache.TransformFunc {
	return func(obj any) (any, error) {
		p, isPod := obj.(*corev1.Pod)
		if !isPod {
			if e, ok := obj.(*corev1.Event); ok {
				w.judge.event(e)
			}
			return compact(obj)
		}
		c, r := w.podObject(p)
		if !streaming.Load() {
			c.row = r
			return c, nil
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.early == nil {
			c.row = r // synced already: the handler hands it over
			return c, nil
		}
		w.addEarlyLocked(c, r)
		w.received++
		return c, nil
	}
}

// nodeTransform compacts a node, and judges again the pods on it when what
// the rules read of it changed.
func (w *Watcher) nodeTransform(obj any) (any, error) {
	if n, ok := obj.(*corev1.Node); ok {
		w.handOver(w.judge.node(n, false))
	}
	return compact(obj)
}

// handOver queues pod rows judged again after a node or event changed.
func (w *Watcher) handOver(rows []PodRow) {
	if len(rows) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handOverLocked(rows)
}

func (w *Watcher) handOverLocked(rows []PodRow) {
	for _, r := range rows {
		if w.judge.deleted(r.UID) {
			continue // deleted meanwhile
		}
		w.strs.podRow(&r)
		w.pods[r.UID] = r
		w.dirty = true
	}
}

// podObject is what the pod informers cache for p, and p's row.
func (w *Watcher) podObject(p *corev1.Pod) (*compactObject, PodRow) {
	r := w.judge.row(p)
	w.strs.podRow(&r)
	return &compactObject{kind: kindPod, name: r.Name, namespace: r.Namespace, uid: r.UID, resourceVersion: p.ResourceVersion}, r
}

// addEarlyLocked hands a pod's row over before the informer confirms the
// pod (see reconcileEarly). w.mu is held.
func (w *Watcher) addEarlyLocked(c *compactObject, r PodRow) {
	w.early[c.uid] = c
	delete(w.delPods, c.uid)
	w.pods[c.uid] = r
	w.dirty = true
}

// preview lists the first pods of a namespace while its watch starts. A
// WatchList sends its first pod only once the API server has gathered the
// whole list (~150 ms at 100k pods on a small server), while a LIST of a
// screenful answers in ~40 ms: the tree shows its first rows that much
// sooner. The rows are early rows: those the watch has not confirmed once
// it has synced are removed (reconcileEarly). They are taken only while
// the namespace's watch has handed nothing over, and never for a pod the
// stream has already delivered, so a preview row never hides a newer one.
// Errors are left to the watch, which reports them.
func (w *Watcher) preview(ctx context.Context, ns string, streaming *atomic.Bool, limit int64) {
	o := metav1.ListOptions{Limit: limit}
	if w.podSel != nil {
		w.podSel(&o)
	}
	l, err := w.client.CoreV1().Pods(ns).List(ctx, o)
	if err != nil || len(l.Items) == 0 {
		return
	}
	objs := make([]*compactObject, len(l.Items))
	rows := make([]PodRow, len(l.Items))
	for i := range l.Items {
		objs[i], rows[i] = w.podObject(&l.Items[i])
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.early == nil || !streaming.Load() {
		return
	}
	for i, c := range objs {
		if _, seen := w.early[c.uid]; !seen {
			w.addEarlyLocked(c, rows[i])
		}
	}
}

// maxInterned bounds the interner: past it (a cluster with that many
// distinct namespaces, nodes and workloads), strings are simply not shared.
const maxInterned = 1 << 16

// interner shares the memory of strings that repeat from pod to pod
// (namespace, workload, node, status, cause, container names and states):
// each decoded pod carries its own copy of them, ~70 bytes a pod in all.
type interner struct {
	mu sync.Mutex
	m  map[string]string
}

func (in *interner) str(s string) string {
	if s == "" {
		return s
	}
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil {
		in.m = map[string]string{}
	}
	if len(in.m) < maxInterned {
		s = strings.Clone(s) // it may be a slice of a longer string
		in.m[s] = s
	}
	return s
}

// podRow makes r's repeated strings shared ones.
func (in *interner) podRow(r *PodRow) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r.Namespace, r.WorkloadName, r.Node, r.Job = in.str(r.Namespace), in.str(r.WorkloadName), in.str(r.Node), in.str(r.Job)
	r.Status, r.Cause = in.str(r.Status), in.str(r.Cause)
	for i := range r.Containers {
		c := &r.Containers[i]
		c.Name, c.State = in.str(c.Name), in.str(c.State)
	}
}

// reconcileEarly runs once the pod informers have synced. A pod handed over
// while streaming that the informer never confirmed was seen by a stream
// that failed and started again, and was deleted in between, unless the
// cache holds it (its confirmation is still queued).
func (w *Watcher) reconcileEarly(indexers []cache.Indexer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for uid, c := range w.early {
		held := false
		for _, idx := range indexers {
			if obj, ok, _ := idx.GetByKey(c.namespace + "/" + c.name); ok {
				if h, isC := obj.(*compactObject); isC && h.uid == uid {
					held = true
				}
			}
		}
		if !held {
			delete(w.pods, uid)
			w.delPods[uid] = struct{}{}
			w.dirty = true
		}
	}
	w.early = nil
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
	if re, ok := err.(*refusedError); ok {
		err = re.err
	}
	if apierrors.IsForbidden(err) {
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
			if utilnet.IsConnectionRefused(err) {
				// client-go's watch-list sleeps out its backoff after a
				// refused connection without looking at its context,
				// holding Done for up to a minute after cancel. Hidden,
				// the refusal makes the reflector relist after a backoff
				// that does end with the context.
				err = &refusedError{err}
			}
			return wi, err
		},
	}
}

// refusedError is a refused connection that client-go does not recognise
// as one (see reportingListWatch).
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }

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

// objKind says what a compactObject stands for, so that a deletion can be
// routed after the row has been handed over.
type objKind uint8

const (
	kindPod objKind = iota + 1
	kindNode
	kindWorkload
	kindEvent
)

// compactObject is what the informer caches store instead of full objects:
// the identity and resource version the cache and the informer need and,
// until the event handler takes it, the row the UI shows. Once handed over
// the row lives only in the tree, so a pod costs one row, not also a copy
// in the cache (with full ObjectMeta that was ~500 bytes a pod).
type compactObject struct {
	kind            objKind
	name, namespace string
	uid             types.UID
	resourceVersion string
	row             any
}

// GetObjectKind: nothing reads the kind of what the caches store.
func (o *compactObject) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject copies the identity; rows are never modified.
func (o *compactObject) DeepCopyObject() runtime.Object {
	c := *o
	return &c
}

// GetObjectMeta makes the object readable by meta.Accessor, through which
// the cache keys and indexes objects and the informer compares resource
// versions. It allocates, but per event rather than per stored object.
func (o *compactObject) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Name: o.name, Namespace: o.namespace, UID: o.uid, ResourceVersion: o.resourceVersion}
}

// compact is the informer transform of everything but pods (those go
// through podTransform): it runs before an object is stored, so the full
// object is garbage as soon as its row is computed.
func compact(obj any) (any, error) {
	var row any
	var meta *metav1.ObjectMeta
	kind := kindWorkload
	switch o := obj.(type) {
	case *corev1.Node:
		row, meta, kind = NewNodeRow(o), &o.ObjectMeta, kindNode
	case *corev1.Event:
		row, meta, kind = NewEventRow(o), &o.ObjectMeta, kindEvent
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
	return &compactObject{kind: kind, name: meta.Name, namespace: meta.Namespace, uid: meta.UID,
		resourceVersion: meta.ResourceVersion, row: row}, nil
}
