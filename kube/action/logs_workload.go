package action

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// DefaultMaxLogPods is how many pods a workload's stream reads at once, as
// stern's --max-log-requests bounds its requests: a 300-replica Deployment
// must not open 300 log streams through the API server.
const DefaultMaxLogPods = 50

// WorkloadLogKinds are the kinds OpenWorkloadLogs reads (kubectl's
// singular lower-case names).
var WorkloadLogKinds = []string{"deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob"}

// WorkloadLogOptions are LogOptions for every container of every pod of a
// workload, plus the pod cap.
type WorkloadLogOptions struct {
	LogOptions
	// MaxPods bounds the pods read at once (zero means DefaultMaxLogPods).
	// Pods beyond it wait and join when a streamed pod goes away.
	MaxPods int
}

// WorkloadPods says how many pods a workload's stream reads.
type WorkloadPods struct {
	// Streaming pods hold one of the MaxPods slots; Waiting ones match but
	// wait for a slot.
	Streaming, Waiting, Max int
	// Selector is the label selector the pods were found with.
	Selector string
}

// podMatcher finds a workload's pods: a label selector for the list and the
// watch, and a check of each pod the selector alone cannot make (a
// CronJob's pods belong to Jobs it owns).
type podMatcher struct {
	selector labels.Selector
	owns     func(ctx context.Context, p *corev1.Pod) bool
}

// resolvePods reads the workload and says how to find its pods, as
// `kubectl logs deploy/x` resolves the selector from the object.
func resolvePods(ctx context.Context, c kubernetes.Interface, kind, ns, name string) (podMatcher, error) {
	var sel *metav1.LabelSelector
	var err error
	switch kind {
	case "deployment":
		d, e := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if err == nil {
			sel = d.Spec.Selector
		}
	case "statefulset":
		s, e := c.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if err == nil {
			sel = s.Spec.Selector
		}
	case "daemonset":
		d, e := c.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if err == nil {
			sel = d.Spec.Selector
		}
	case "replicaset":
		r, e := c.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if err == nil {
			sel = r.Spec.Selector
		}
	case "job":
		j, e := c.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if err == nil {
			sel = j.Spec.Selector
		}
	case "cronjob":
		return cronJobPods(ctx, c, ns, name)
	default:
		return podMatcher{}, fmt.Errorf("cannot read the logs of a %s: pick a pod or one of %s", kind, strings.Join(WorkloadLogKinds, ", "))
	}
	if err != nil {
		return podMatcher{}, notFound(err, kind, ns, name)
	}
	if sel == nil {
		return podMatcher{}, fmt.Errorf("%s %s/%s has no selector, so its pods cannot be found", kind, ns, name)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return podMatcher{}, fmt.Errorf("%s %s/%s: selector: %w", kind, ns, name, err)
	}
	if s.Empty() {
		// An empty selector matches every pod of the namespace: never the
		// workload's pods alone.
		return podMatcher{}, fmt.Errorf("%s %s/%s has an empty selector, which would match every pod of the namespace", kind, ns, name)
	}
	return podMatcher{selector: s}, nil
}

// notFound says which workload is missing where, in the words a person
// would use; other errors pass through.
func notFound(err error, kind, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s not found in namespace %s", kind, name, ns)
	}
	return err
}

// jobNameLabel is set by the Job controller on every pod of a Job; since
// Kubernetes 1.27 it also sets batch.kubernetes.io/job-name, and still
// this legacy one.
const jobNameLabel = "job-name"

// cronJobPods finds a CronJob's pods: pods of Jobs (job-name label) whose
// controller is the CronJob. Jobs come and go with the schedule, so each
// pod's Job is looked up once when the pod is first seen.
func cronJobPods(ctx context.Context, c kubernetes.Interface, ns, name string) (podMatcher, error) {
	cj, err := c.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return podMatcher{}, notFound(err, "cronjob", ns, name)
	}
	sel, err := labels.Parse(jobNameLabel)
	if err != nil {
		return podMatcher{}, err
	}
	var mu sync.Mutex
	owned := map[string]bool{} // job name → owned by the CronJob
	return podMatcher{selector: sel, owns: func(ctx context.Context, p *corev1.Pod) bool {
		job := p.Labels[jobNameLabel]
		for _, ref := range p.OwnerReferences {
			if ref.Kind == "Job" && ref.Controller != nil && *ref.Controller {
				job = ref.Name
			}
		}
		mu.Lock()
		known, seen := owned[job]
		mu.Unlock()
		if seen {
			return known
		}
		j, err := c.BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
		if err != nil {
			// A Job already gone takes its pods with it; not ours to show.
			return false
		}
		ours := false
		for _, ref := range j.OwnerReferences {
			if ref.Kind == "CronJob" && (ref.UID == cj.UID || (ref.UID == "" && ref.Name == cj.Name)) {
				ours = true
			}
		}
		mu.Lock()
		owned[job] = ours
		mu.Unlock()
		return ours
	}}, nil
}

func (m podMatcher) matches(ctx context.Context, p *corev1.Pod) bool {
	if !m.selector.Matches(labels.Set(p.Labels)) {
		return false
	}
	return m.owns == nil || m.owns(ctx, p)
}

// workloadLogs is the state behind a workload's LogStream: which pods are
// streamed, which wait for a slot, and which container instances are read.
type workloadLogs struct {
	s     *LogStream
	src   kube.Source
	ns    string
	opts  WorkloadLogOptions
	match podMatcher
	ctx   context.Context

	mu      sync.Mutex
	pods    map[string]*streamedPod // streamed pods by name
	waiting []string                // pods waiting for a slot, in arrival order
	known   map[string]bool         // every matching pod seen and not gone
	initial map[string]bool         // pods there when the stream opened: read from the tail
	capSaid bool
}

// streamedPod is one pod holding a slot: its readers and the instance each
// container's reader reads.
type streamedPod struct {
	cancel context.CancelFunc
	ctx    context.Context
	// active says a reader runs for the container; instance is the
	// container instance it was started for, so a restart starts a new one.
	active   map[string]bool
	instance map[string]string
	readers  int
	// initial pods start at opts.TailLines; pods that join later are new,
	// so all they wrote is read.
	initial bool
}

// OpenWorkloadLogs streams the logs of every container of every pod of a
// workload merged, each line carrying its pod and container, as stern
// does. With Follow it watches the workload's pods: new pods join, deleted
// ones are marked with a note line, restarted containers are read again;
// without Follow (or with Previous) it reads what the pods have now and
// ends. At most MaxPods pods are read at once. Errors finding the workload
// come back at once.
func OpenWorkloadLogs(ctx context.Context, src kube.Source, kind, namespace, name string, opts WorkloadLogOptions) (*LogStream, error) {
	if opts.MaxPods <= 0 {
		opts.MaxPods = DefaultMaxLogPods
	}
	if opts.Previous {
		opts.Follow = false // a previous instance has ended
	}
	opts.AllContainers = opts.Container == ""
	m, err := resolvePods(ctx, src.Client(), kind, namespace, name)
	if err != nil {
		return nil, err
	}
	// A watch that may not list retries quietly for ever: ask once now, so
	// a missing permission is an answer, not an empty pane.
	if _, err := src.Client().CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: m.selector.String(), Limit: 1}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &LogStream{
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		pending: NewLogRing(opts.BufferLines, opts.MaxLineBytes),
		running: 1, // the watcher (or lister) until it ends
	}
	w := &workloadLogs{s: s, src: src, ns: namespace, opts: opts, match: m, ctx: ctx,
		pods: map[string]*streamedPod{}, known: map[string]bool{}, initial: map[string]bool{}}
	s.workload = w
	s.wg.Add(1)
	if opts.Follow {
		go w.watch()
	} else {
		go w.snapshot()
	}
	return s, nil
}

// Pods says how many pods the stream reads; zero for a pod's stream.
func (s *LogStream) Pods() WorkloadPods {
	w := s.workload
	if w == nil {
		return WorkloadPods{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return WorkloadPods{Streaming: len(w.pods), Waiting: len(w.waiting), Max: w.opts.MaxPods, Selector: w.match.selector.String()}
}

// note writes a line of kdoctor's own into the stream.
func (w *workloadLogs) note(pod, text string) {
	w.s.push(LogLine{Pod: pod, Note: true, Text: text})
}

// snapshot lists the pods once and reads each one's logs, MaxPods pods at
// a time, then ends.
func (w *workloadLogs) snapshot() {
	defer w.s.wg.Done()
	defer w.s.finishQuiet()
	list, err := w.src.Client().CoreV1().Pods(w.ns).List(w.ctx, metav1.ListOptions{LabelSelector: w.match.selector.String()})
	if err != nil {
		w.s.finishWith(LogEnd{Status: LogFailed, Err: err, Message: "cannot list the workload's pods: " + kube.Explain(err)})
		return
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	var ours []*corev1.Pod
	for i := range pods {
		if w.match.matches(w.ctx, &pods[i]) {
			ours = append(ours, &pods[i])
		}
	}
	if len(ours) == 0 {
		w.note("", fmt.Sprintf("no pods match the selector %s", w.match.selector))
		return
	}
	if len(ours) > w.opts.MaxPods {
		w.note("", fmt.Sprintf("%d pods: reading %d at a time (at most %d log streams at once, like stern's --max-log-requests)", len(ours), w.opts.MaxPods, w.opts.MaxPods))
	}
	slots := make(chan struct{}, w.opts.MaxPods)
	read := false
	for _, p := range ours {
		select {
		case slots <- struct{}{}:
		case <-w.ctx.Done():
			return
		}
		w.mu.Lock()
		sp := w.addPodLocked(p, true)
		started := w.startReadersLocked(p, sp)
		w.mu.Unlock()
		read = read || started > 0
		if started == 0 {
			w.dropPod(p.Name)
			<-slots
			continue
		}
		w.s.wg.Add(1)
		go func() {
			defer w.s.wg.Done()
			<-sp.ctx.Done() // the pod's readers all ended (see read)
			<-slots
		}()
	}
	if !read && w.opts.Previous {
		w.note("", fmt.Sprintf("no container of the %d pods has a previous instance: none has restarted (or their old logs were already removed)", len(ours)))
	} else if !read {
		w.note("", fmt.Sprintf("none of the %d pods has a container that has started, so there is no log yet", len(ours)))
	}
}

// watch lists and watches the workload's pods through an informer until
// the stream closes: pods join, restart and go away while it runs.
func (w *workloadLogs) watch() {
	defer w.s.wg.Done()
	defer w.s.finishQuiet()
	pods := w.src.Client().CoreV1().Pods(w.ns)
	sel := w.match.selector.String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			return pods.Watch(ctx, o)
		},
	}
	// The wrapper tells the reflector whether the client can stream its
	// initial list (WatchList); the fake clientset of the demo cannot.
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, w.src.Client()), &corev1.Pod{}, 0, cache.Indexers{})
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(o any, initial bool) { w.podSeen(o, initial) },
		UpdateFunc: func(_, o any) { w.podSeen(o, false) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				w.podGone(p.Name, "deleted")
			}
		},
	})
	if err != nil {
		w.s.finishWith(LogEnd{Status: LogFailed, Err: err, Message: "cannot watch the workload's pods: " + kube.Explain(err)})
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		inf.RunWithContext(w.ctx)
	}()
	if cache.WaitForCacheSync(w.ctx.Done(), inf.HasSynced) {
		w.mu.Lock()
		n := len(w.known)
		w.mu.Unlock()
		if n == 0 {
			w.note("", fmt.Sprintf("no pods match the selector %s yet: pods that start appear here", sel))
		}
	}
	<-done
	w.mu.Lock()
	for _, sp := range w.pods {
		sp.cancel()
	}
	w.mu.Unlock()
}

// podSeen handles a pod added or changed: a new pod takes a slot or waits
// for one; a streamed pod's containers that (re)started get a reader; a pod
// whose labels no longer match leaves. initial says the pod was there when
// the stream opened (the informer's first list), so it starts at the tail.
func (w *workloadLogs) podSeen(o any, initial bool) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	if !w.match.matches(w.ctx, p) {
		w.podGone(p.Name, "no longer matches the selector")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		return
	}
	if initial {
		w.initial[p.Name] = true
	}
	if !w.known[p.Name] {
		w.known[p.Name] = true
		if !initial {
			w.note(p.Name, fmt.Sprintf("+ pod %s joined", p.Name))
		}
	}
	sp := w.pods[p.Name]
	if sp == nil {
		if len(podLogContainers(p, w.opts.LogOptions)) == 0 {
			// Nothing to read yet (a pod still Pending): it takes a slot
			// when a container starts, so a stuck pod blocks no other.
			return
		}
		if len(w.pods) >= w.opts.MaxPods {
			if !slices.Contains(w.waiting, p.Name) {
				w.waiting = append(w.waiting, p.Name)
				if !w.capSaid {
					w.capSaid = true
					w.note("", fmt.Sprintf("more than %d pods: the others wait and join as streamed pods go away (at most %d log streams at once, like stern's --max-log-requests)", w.opts.MaxPods, w.opts.MaxPods))
				}
			}
			return
		}
		sp = w.addPodLocked(p, w.initial[p.Name])
	}
	w.startReadersLocked(p, sp)
}

// podGone marks a pod that went away and gives its slot to a waiting pod.
func (w *workloadLogs) podGone(name, why string) {
	w.mu.Lock()
	if !w.known[name] {
		w.mu.Unlock()
		return
	}
	delete(w.known, name)
	delete(w.initial, name)
	w.waiting = slices.DeleteFunc(w.waiting, func(n string) bool { return n == name })
	sp := w.pods[name]
	delete(w.pods, name)
	w.mu.Unlock()
	if sp != nil {
		sp.cancel()
	}
	if w.ctx.Err() != nil {
		return
	}
	w.note(name, fmt.Sprintf("— pod %s %s", name, why))
	w.promote()
}

// promote starts waiting pods while there are free slots.
func (w *workloadLogs) promote() {
	for {
		w.mu.Lock()
		if len(w.waiting) == 0 || len(w.pods) >= w.opts.MaxPods {
			w.mu.Unlock()
			return
		}
		name := w.waiting[0]
		w.waiting = w.waiting[1:]
		w.mu.Unlock()
		p, err := w.src.Client().CoreV1().Pods(w.ns).Get(w.ctx, name, metav1.GetOptions{})
		if err != nil {
			continue // gone meanwhile: its delete event says so
		}
		w.podSeen(p, false)
	}
}

// dropPod releases a pod that had nothing to read (snapshot mode).
func (w *workloadLogs) dropPod(name string) {
	w.mu.Lock()
	sp := w.pods[name]
	delete(w.pods, name)
	w.mu.Unlock()
	if sp != nil {
		sp.cancel()
	}
}

func (w *workloadLogs) addPodLocked(p *corev1.Pod, initial bool) *streamedPod {
	ctx, cancel := context.WithCancel(w.ctx)
	sp := &streamedPod{ctx: ctx, cancel: cancel, active: map[string]bool{}, instance: map[string]string{}, initial: initial}
	w.pods[p.Name] = sp
	w.known[p.Name] = true
	return sp
}

// startReadersLocked starts a reader for each container of the pod with a
// log to read that has none running for its current instance, and says
// how many it started.
func (w *workloadLogs) startReadersLocked(p *corev1.Pod, sp *streamedPod) int {
	started := 0
	for _, c := range podLogContainers(p, w.opts.LogOptions) {
		if sp.active[c.name] || sp.instance[c.name] == c.instance {
			continue
		}
		restarted := sp.instance[c.name] != ""
		sp.active[c.name] = true
		sp.instance[c.name] = c.instance
		sp.readers++
		started++
		opts := w.opts.LogOptions
		if !sp.initial || restarted {
			// A pod that joined, or a restarted container: all it wrote is new.
			opts.TailLines = 0
		}
		w.s.mu.Lock()
		w.s.running++
		w.s.mu.Unlock()
		w.s.wg.Add(1)
		go w.read(p.Name, c.name, sp, opts)
	}
	return started
}

func (w *workloadLogs) read(pod, container string, sp *streamedPod, opts LogOptions) {
	defer w.s.wg.Done()
	end := w.s.readInto(sp.ctx, w.src, w.ns, pod, container, LogLine{Pod: pod, Container: container}, opts)
	end.Pod = pod
	end.Message = "pod " + pod + ": " + end.Message
	w.mu.Lock()
	sp.active[container] = false
	sp.readers--
	last := sp.readers == 0
	w.mu.Unlock()
	if last && !opts.Follow {
		sp.cancel() // frees the snapshot's slot
	}
	w.s.finish(end)
}

// logContainer is one container of a pod with a log to read.
type logContainer struct{ name, instance string }

// podLogContainers lists the containers whose log the options ask for, in
// the pod's order (init, regular, ephemeral): with Previous those that
// have a terminated previous instance, else those that have run (a
// container still waiting to start has no log, and gets a reader when it
// starts). instance names the container instance, so a restart is seen.
func podLogContainers(p *corev1.Pod, opts LogOptions) []logContainer {
	statuses := map[string]corev1.ContainerStatus{}
	for _, group := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for _, st := range group {
			statuses[st.Name] = st
		}
	}
	var names []string
	for _, c := range p.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	var out []logContainer
	for _, n := range names {
		if opts.Container != "" && n != opts.Container {
			continue
		}
		st, ok := statuses[n]
		if !ok {
			continue
		}
		last := st.LastTerminationState.Terminated
		switch {
		case opts.Previous:
			if last == nil {
				continue
			}
			out = append(out, logContainer{n, last.ContainerID})
		case st.State.Running != nil || st.State.Terminated != nil || last != nil:
			out = append(out, logContainer{n, fmt.Sprintf("%s#%d", st.ContainerID, st.RestartCount)})
		}
	}
	return out
}

// finishQuiet ends a part of the stream that reports no LogEnd (the watcher).
func (s *LogStream) finishQuiet() {
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	s.signal()
}

// finishWith reports an end for the stream as a whole (a failed list),
// without ending a part of it.
func (s *LogStream) finishWith(e LogEnd) {
	s.mu.Lock()
	s.ended = append(s.ended, e)
	s.mu.Unlock()
	s.signal()
}
