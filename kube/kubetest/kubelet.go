package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// FakeKubelet stands in for the kubelets of every node whose status points
// at it (InternalIP 127.0.0.1 and its port, see ApplyScenario and
// CreateNode). The API server proxies `pods/log` and `pods/exec` to it, so
// kdoctor's logs and exec paths run against a real API server; and it
// confirms the deletion of terminating pods on its Ready nodes, which is what
// lets a drain finish.
type FakeKubelet struct {
	client kubernetes.Interface
	srv    *http.Server
	ln     net.Listener
	port   int

	mu      sync.Mutex
	logs    map[facts.LogKey]*logBuf
	changed chan struct{} // closed and replaced whenever a log grows
	noShell map[containerRef]bool
	sizes   map[containerRef]remotecommand.TerminalSize // last terminal size a session sent
	pinned  map[types.UID]bool                          // pods a scenario shows stuck Terminating
	conns   map[net.Conn]struct{}
	closed  bool
	closeCh chan struct{}

	watchMu sync.Mutex
	watch   *kubeletWatch
}

type containerRef struct{ namespace, pod, container string }

type logBuf struct{ lines []logLine }

// logLine is one log line; a zero time means "spread over the container's
// run" when timestamps are asked for.
type logLine struct {
	text string
	at   time.Time
}

// kubeletWatch is one run of the pod and node informers; it is replaced when
// the API server restarts.
type kubeletWatch struct {
	cancel   context.CancelFunc
	factory  informers.SharedInformerFactory
	pods     listersv1.PodLister
	podIndex cache.Indexer
	nodes    listersv1.NodeLister
	deletes  sync.WaitGroup
	mu       sync.Mutex
	inflight map[string]bool // pod UIDs being deleted
}

func newFakeKubelet(cfg *rest.Config) (*FakeKubelet, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	_, certPEM, keyPEM, err := servingCert([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &FakeKubelet{
		client:  client,
		ln:      ln,
		port:    ln.Addr().(*net.TCPAddr).Port,
		logs:    map[facts.LogKey]*logBuf{},
		changed: make(chan struct{}),
		noShell: map[containerRef]bool{},
		sizes:   map[containerRef]remotecommand.TerminalSize{},
		pinned:  map[types.UID]bool{},
		conns:   map[net.Conn]struct{}{},
		closeCh: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.serveLogs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", k.serveExec)
	mux.HandleFunc("/exec/{ns}/{pod}/{uid}/{container}", k.serveExec)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", k.serveAttach)
	mux.HandleFunc("/attach/{ns}/{pod}/{uid}/{container}", k.serveAttach)
	k.srv = quietServer(mux)
	k.srv.ConnState = k.trackConn
	// HTTP/1.1 only: exec needs connection upgrades.
	tlsLn := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	go func() { _ = k.srv.Serve(tlsLn) }()
	return k, nil
}

// trackConn remembers connections, hijacked ones (exec) included, so close
// can end them: http.Server.Close leaves hijacked connections open.
func (k *FakeKubelet) trackConn(c net.Conn, st http.ConnState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch st {
	case http.StateNew:
		k.conns[c] = struct{}{}
	case http.StateClosed:
		delete(k.conns, c)
	}
}

// Port is the HTTPS port nodes advertise as daemonEndpoints.kubeletEndpoint.
func (k *FakeKubelet) Port() int { return k.port }

// LoadLogs registers container logs (as Scenario.Logs holds them), replacing
// any log already registered under the same key.
func (k *FakeKubelet) LoadLogs(logs map[facts.LogKey][]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, data := range logs {
		b := &logBuf{}
		for line := range strings.Lines(string(data)) {
			b.lines = append(b.lines, logLine{text: strings.TrimSuffix(line, "\n")})
		}
		k.logs[key] = b
	}
	k.notifyLocked()
}

// AppendLog adds a line to a container's log now; followers (`logs -f`)
// receive it at once.
func (k *FakeKubelet) AppendLog(key facts.LogKey, line string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.logs[key]
	if b == nil {
		b = &logBuf{}
		k.logs[key] = b
	}
	b.lines = append(b.lines, logLine{text: strings.TrimSuffix(line, "\n"), at: time.Now()})
	k.notifyLocked()
}

func (k *FakeKubelet) notifyLocked() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// SetNoShell marks a container as built from a distroless image: every exec
// into it fails the way containerd reports a missing binary.
func (k *FakeKubelet) SetNoShell(namespace, pod, container string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.noShell[containerRef{namespace, pod, container}] = true
}

// TerminalSize is the last terminal size an exec or attach session into
// the container sent (zero when none did).
func (k *FakeKubelet) TerminalSize(namespace, pod, container string) (width, height uint16) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.sizes[containerRef{namespace, pod, container}]
	return s.Width, s.Height
}

// followSizes records the sizes a TTY session sends until it ends.
func (k *FakeKubelet) followSizes(ctx context.Context, ref containerRef, resize <-chan remotecommand.TerminalSize) {
	if resize == nil {
		return
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-resize:
				if !ok {
					return
				}
				k.mu.Lock()
				k.sizes[ref] = s
				k.mu.Unlock()
			}
		}
	}()
}

// PinTerminating keeps a pod Terminating for good: ApplyScenario pins the
// pods its scenario shows stuck in deletion, whatever holds them there in
// the story (a finalizer, a hung container runtime).
func (k *FakeKubelet) PinTerminating(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pinned[uid] = true
}

// ServesNode reports whether node's status sends the API server here.
func (k *FakeKubelet) ServesNode(node *corev1.Node) bool {
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port != int32(k.port) {
		return false
	}
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address == "127.0.0.1" {
			return true
		}
	}
	return false
}

func (k *FakeKubelet) close() {
	k.stopWatching()
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.closed = true
	close(k.closeCh)
	conns := make([]net.Conn, 0, len(k.conns))
	for c := range k.conns {
		conns = append(conns, c)
	}
	k.mu.Unlock()
	_ = k.srv.Close()
	for _, c := range conns {
		_ = c.Close()
	}
}

// --- pods watch: confirming deletions ---------------------------------------

// startWatching starts the pod and node informers that let the kubelet
// confirm pod deletions. It runs while the API server is up.
func (k *FakeKubelet) startWatching() error {
	k.watchMu.Lock()
	defer k.watchMu.Unlock()
	if k.watch != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactory(k.client, 0)
	podInf := f.Core().V1().Pods().Informer()
	if err := podInf.AddIndexers(cache.Indexers{"nodeName": func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		cancel()
		return err
	}
	nodeInf := f.Core().V1().Nodes().Informer()
	w := &kubeletWatch{
		cancel: cancel, factory: f,
		pods: f.Core().V1().Pods().Lister(), podIndex: podInf.GetIndexer(),
		nodes:    f.Core().V1().Nodes().Lister(),
		inflight: map[string]bool{},
	}
	onPod := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			k.maybeConfirmDeletion(ctx, w, p)
			k.maybeStartEphemeral(ctx, w, p)
		}
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onPod,
		UpdateFunc: func(_, obj any) { onPod(obj) },
	}); err != nil {
		cancel()
		return err
	}
	// A node that becomes served and Ready gets its terminating pods confirmed.
	onNode := func(obj any) {
		n, ok := obj.(*corev1.Node)
		if !ok {
			return
		}
		pods, _ := w.podIndex.ByIndex("nodeName", n.Name)
		for _, o := range pods {
			onPod(o)
		}
	}
	if _, err := nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onNode,
		UpdateFunc: func(_, obj any) { onNode(obj) },
	}); err != nil {
		cancel()
		return err
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			cancel()
			f.Shutdown()
			return fmt.Errorf("informer for %v did not sync", typ)
		}
	}
	// Events seen before both caches synced may have missed their node.
	if pods, err := w.pods.List(labels.Everything()); err == nil {
		for _, p := range pods {
			k.maybeConfirmDeletion(ctx, w, p)
		}
	}
	k.watch = w
	return nil
}

func (k *FakeKubelet) stopWatching() {
	k.watchMu.Lock()
	w := k.watch
	k.watch = nil
	k.watchMu.Unlock()
	if w == nil {
		return
	}
	w.cancel()
	w.factory.Shutdown()
	w.deletes.Wait()
}

// maybeConfirmDeletion plays the kubelet's last step of a graceful deletion:
// once a pod on one of our Ready nodes is terminating and no finalizer holds
// it, delete it for good (grace period 0, guarded by its UID). NotReady nodes
// are left alone, as their real kubelet would be gone, and so are pinned pods.
func (k *FakeKubelet) maybeConfirmDeletion(ctx context.Context, w *kubeletWatch, p *corev1.Pod) {
	if p.DeletionTimestamp == nil || len(p.Finalizers) > 0 || p.Spec.NodeName == "" {
		return
	}
	k.mu.Lock()
	pinned := k.pinned[p.UID]
	k.mu.Unlock()
	if pinned {
		return
	}
	node, err := w.nodes.Get(p.Spec.NodeName)
	if err != nil || !k.ServesNode(node) || !nodeReady(node) {
		return
	}
	uid := p.UID
	w.mu.Lock()
	if w.inflight[string(uid)] {
		w.mu.Unlock()
		return
	}
	w.inflight[string(uid)] = true
	w.mu.Unlock()
	w.deletes.Add(1)
	go func() {
		defer w.deletes.Done()
		zero := int64(0)
		err := k.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			// Let a later update of the pod try again.
			w.mu.Lock()
			delete(w.inflight, string(uid))
			w.mu.Unlock()
		}
	}()
}

// maybeStartEphemeral plays the kubelet starting the ephemeral containers
// added to a pod on one of our Ready nodes (kubectl debug, kdoctor's debug
// containers): it reports them running in the pod's status, as the
// kubelet's status manager does once the runtime started them.
func (k *FakeKubelet) maybeStartEphemeral(ctx context.Context, w *kubeletWatch, p *corev1.Pod) {
	if p.DeletionTimestamp != nil || p.Spec.NodeName == "" || len(p.Spec.EphemeralContainers) == len(p.Status.EphemeralContainerStatuses) {
		return
	}
	node, err := w.nodes.Get(p.Spec.NodeName)
	if err != nil || !k.ServesNode(node) || !nodeReady(node) {
		return
	}
	key := "ephemeral/" + string(p.UID) + "/" + p.ResourceVersion
	w.mu.Lock()
	if w.inflight[key] {
		w.mu.Unlock()
		return
	}
	w.inflight[key] = true
	w.mu.Unlock()
	w.deletes.Add(1)
	go func() {
		defer w.deletes.Done()
		// Retried on conflicts: the pod changes under us as the
		// container is added.
		for range 5 {
			cur, err := k.client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil || cur.UID != p.UID {
				return
			}
			started := false
			for _, c := range cur.Spec.EphemeralContainers {
				if _, ok := containerStatus(cur, c.Name); ok {
					continue
				}
				cur.Status.EphemeralContainerStatuses = append(cur.Status.EphemeralContainerStatuses, corev1.ContainerStatus{
					Name: c.Name, Image: c.Image, ImageID: c.Image + "@sha256:" + strings.Repeat("0", 64),
					ContainerID: "containerd://" + string(cur.UID) + "-" + c.Name,
					State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
				})
				started = true
			}
			if !started {
				return
			}
			_, err = k.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			if !apierrors.IsConflict(err) {
				return
			}
		}
	}()
}

// endEphemeral reports an ephemeral container whose main process (the
// shell attached to) exited as terminated, as the kubelet would.
func (k *FakeKubelet) endEphemeral(ctx context.Context, ns, pod, container string, code int) {
	for range 5 {
		cur, err := k.client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return
		}
		found := false
		for i := range cur.Status.EphemeralContainerStatuses {
			st := &cur.Status.EphemeralContainerStatuses[i]
			if st.Name != container || st.State.Running == nil {
				continue
			}
			reason := "Completed"
			if code != 0 {
				reason = "Error"
			}
			st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: int32(code), Reason: reason, ContainerID: st.ContainerID,
				StartedAt: st.State.Running.StartedAt, FinishedAt: metav1.Now(),
			}}
			found = true
		}
		if !found {
			return
		}
		if _, err = k.client.CoreV1().Pods(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			return
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pod finds a pod in the informer cache, or asks the API server when the
// cache has not seen it yet (it was just created).
func (k *FakeKubelet) pod(ctx context.Context, namespace, name string) (*corev1.Pod, bool) {
	k.watchMu.Lock()
	w := k.watch
	k.watchMu.Unlock()
	if w != nil {
		if p, err := w.pods.Pods(namespace).Get(name); err == nil {
			return p, true
		}
	}
	p, err := k.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	return p, err == nil
}

// --- logs ---------------------------------------------------------------------

// serveLogs answers GET /containerLogs/{ns}/{pod}/{container} with the
// kubelet's status codes and messages.
func (k *FakeKubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, podName, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r.URL.Query())
	if err != nil {
		writeError(w, `{"message": "Unable to decode query."}`, http.StatusBadRequest)
		return
	}
	pod, ok := k.pod(r.Context(), ns, podName)
	if !ok {
		writeError(w, fmt.Sprintf("pod %q does not exist", podName), http.StatusNotFound)
		return
	}
	if !hasContainer(pod, container) {
		writeError(w, fmt.Sprintf("container %q not found in pod %q", container, podName), http.StatusNotFound)
		return
	}
	key := facts.LogKey{Namespace: ns, Pod: podName, Container: container, Previous: opts.Previous}
	inst, err := logInstance(pod, container, opts.Previous)
	if err != nil {
		// The scenario's log files are the truth about which logs exist,
		// even when its status omits a containerID.
		if !k.hasLog(key) {
			writeError(w, err.Error(), http.StatusBadRequest)
			return
		}
		inst = instance{previous: opts.Previous, running: !opts.Previous, start: pod.CreationTimestamp.Time}
	}
	key.Previous = inst.previous
	k.writeLogs(w, r.Context(), key, inst, opts)
}

// parseLogOptions reads the query the API server sends (client-go's scheme
// has no url.Values → PodLogOptions conversion; the kubelet's internal one does).
func parseLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{}
	boolean := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		return strconv.ParseBool(v)
	}
	integer := func(name string) (*int64, error) {
		v := q.Get(name)
		if v == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: invalid value %q", name, v)
		}
		return &n, nil
	}
	var err error
	if opts.Previous, err = boolean("previous"); err != nil {
		return nil, err
	}
	if opts.Follow, err = boolean("follow"); err != nil {
		return nil, err
	}
	if opts.Timestamps, err = boolean("timestamps"); err != nil {
		return nil, err
	}
	if tail := q.Get("tail"); tail != "" && q.Get("tailLines") == "" { // legacy spelling
		if tail != "all" {
			q.Set("tailLines", tail)
		}
	}
	if opts.TailLines, err = integer("tailLines"); err != nil {
		return nil, err
	}
	if opts.LimitBytes, err = integer("limitBytes"); err != nil {
		return nil, err
	}
	if opts.SinceSeconds, err = integer("sinceSeconds"); err != nil {
		return nil, err
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("sinceTime: %w", err)
		}
		opts.SinceTime = &metav1.Time{Time: t}
	}
	return opts, nil
}

// writeError answers like the kubelet's go-restful WriteError: the bare
// message as text (the API server turns it into a Status message).
func writeError(w http.ResponseWriter, msg string, code int) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func (k *FakeKubelet) hasLog(key facts.LogKey) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.logs[key]
	return ok
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// instance is the container run whose log a request gets.
type instance struct {
	previous   bool      // the last terminated run
	running    bool      // still writing: follow waits for more lines
	start, end time.Time // end zero while running
}

func containerStatus(p *corev1.Pod, name string) (corev1.ContainerStatus, bool) {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for _, s := range list {
			if s.Name == name {
				return s, true
			}
		}
	}
	return corev1.ContainerStatus{}, false
}

// logInstance mirrors the kubelet's validateContainerLogStatus: which run's
// log to serve, or the error a kubelet returns (as HTTP 400) when there is none.
func logInstance(p *corev1.Pod, container string, previous bool) (instance, error) {
	st, ok := containerStatus(p, container)
	if !ok {
		return instance{}, fmt.Errorf("container %q in pod %q is not available", container, p.Name)
	}
	last := st.LastTerminationState.Terminated
	lastRun := func() instance {
		return instance{previous: true, start: last.StartedAt.Time, end: last.FinishedAt.Time}
	}
	switch {
	case previous:
		if last == nil {
			return instance{}, fmt.Errorf("previous terminated container %q in pod %q not found", container, p.Name)
		}
		return lastRun(), nil
	case st.State.Running != nil:
		return instance{running: true, start: st.State.Running.StartedAt.Time}, nil
	case st.State.Terminated != nil:
		t := st.State.Terminated
		if t.ContainerID == "" && last != nil {
			return lastRun(), nil
		}
		return instance{start: t.StartedAt.Time, end: t.FinishedAt.Time}, nil
	case last != nil:
		return lastRun(), nil
	case st.State.Waiting != nil:
		switch reason := st.State.Waiting.Reason; reason {
		case "ErrImagePull":
			return instance{}, fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", container, p.Name)
		case "ImagePullBackOff":
			return instance{}, fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", container, p.Name)
		default:
			return instance{}, fmt.Errorf("container %q in pod %q is waiting to start: %v", container, p.Name, reason)
		}
	}
	return instance{}, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", container, p.Name)
}

// writeLogs writes the selected lines, then with follow keeps writing new
// ones until the client goes away, the container stops or limitBytes is hit.
func (k *FakeKubelet) writeLogs(w http.ResponseWriter, ctx context.Context, key facts.LogKey, inst instance, opts *corev1.PodLogOptions) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	var since time.Time
	switch {
	case opts.SinceTime != nil:
		since = opts.SinceTime.Time
	case opts.SinceSeconds != nil:
		since = time.Now().Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	remaining := int64(-1)
	if opts.LimitBytes != nil {
		remaining = *opts.LimitBytes
	}
	write := func(lines []logLine) bool {
		var buf bytes.Buffer
		for _, l := range lines {
			if !since.IsZero() && l.at.Before(since) {
				continue
			}
			if opts.Timestamps {
				buf.WriteString(l.at.UTC().Format(time.RFC3339Nano))
				buf.WriteByte(' ')
			}
			buf.WriteString(l.text)
			buf.WriteByte('\n')
		}
		out := buf.Bytes()
		if remaining >= 0 && int64(len(out)) > remaining {
			out = out[:remaining]
		}
		if _, err := w.Write(out); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		if remaining >= 0 {
			remaining -= int64(len(out))
			return remaining > 0
		}
		return true
	}

	lines, next, changed := k.snapshot(key, 0, inst)
	if opts.TailLines != nil && int64(len(lines)) > *opts.TailLines {
		lines = lines[int64(len(lines))-*opts.TailLines:]
	}
	if !write(lines) || !opts.Follow || !inst.running {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.closeCh:
			return
		case <-changed:
		}
		lines, next, changed = k.snapshot(key, next, inst)
		if len(lines) > 0 && !write(lines) {
			return
		}
	}
}

// snapshot copies the lines from index from on, with their timestamps, the
// index to continue from and the channel closed on the next change.
func (k *FakeKubelet) snapshot(key facts.LogKey, from int, inst instance) ([]logLine, int, <-chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var all []logLine
	if b := k.logs[key]; b != nil {
		all = b.lines
	}
	if from > len(all) {
		from = len(all)
	}
	out := make([]logLine, len(all)-from)
	copy(out, all[from:])
	// Lines from files carry no time: spread them over the run, so that
	// timestamps and sinceSeconds behave plausibly.
	start, end := inst.start, inst.end
	if end.IsZero() {
		end = time.Now()
	}
	if start.IsZero() || start.After(end) {
		start = end
	}
	n := len(all)
	for i := range out {
		if out[i].at.IsZero() {
			pos := from + i + 1
			out[i].at = start.Add(end.Sub(start) * time.Duration(pos) / time.Duration(n+1))
		}
	}
	return out, len(all), k.changed
}

// --- exec ---------------------------------------------------------------------

// streamTarget reads a streaming request's options and finds its running
// container, answering the error itself when there is none: the runtime
// only finds running containers; kubectl shows this as `unable to upgrade
// connection: container not found ("app")`.
func (k *FakeKubelet) streamTarget(w http.ResponseWriter, r *http.Request, ns, podName, container string) (*corev1.Pod, *remotecommand.Options, bool) {
	streamOpts, err := remotecommand.NewOptions(r)
	if err != nil {
		writeError(w, err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	pod, ok := k.pod(r.Context(), ns, podName)
	if !ok {
		writeError(w, "pod does not exist", http.StatusNotFound)
		return nil, nil, false
	}
	if st, ok := containerStatus(pod, container); !ok || st.State.Running == nil {
		writeError(w, fmt.Sprintf("container not found (%q)", container), http.StatusInternalServerError)
		return nil, nil, false
	}
	return pod, streamOpts, true
}

// serveExec answers /exec/{ns}/{pod}/{container}?command=…: the API server
// forwards a SPDY upgrade (it translates WebSocket clients itself, as the
// nodes do not declare ExtendWebSocketsToKubelet) and cri-streaming serves it.
func (k *FakeKubelet) serveExec(w http.ResponseWriter, r *http.Request) {
	ns, podName, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	pod, streamOpts, ok := k.streamTarget(w, r, ns, podName, container)
	if !ok {
		return
	}
	k.mu.Lock()
	noShell := k.noShell[containerRef{ns, podName, container}]
	k.mu.Unlock()
	ex := &shellExecutor{pod: podName, noShell: noShell, sizes: func(ctx context.Context, resize <-chan remotecommand.TerminalSize) {
		k.followSizes(ctx, containerRef{ns, podName, container}, resize)
	}}
	remotecommand.ServeExec(w, r, ex, podName, string(pod.UID), container, r.URL.Query()["command"],
		streamOpts, 4*time.Hour, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// serveAttach answers /attach/{ns}/{pod}/{container}: `kubectl attach` and
// kdoctor's debug containers. The kubelet serves attach with the same
// cri-streaming server as exec; the container's main process is taken to
// be a shell reading stdin (a debug container's busybox sh), and when it
// exits the container is reported terminated, as a real one would be.
func (k *FakeKubelet) serveAttach(w http.ResponseWriter, r *http.Request) {
	ns, podName, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	pod, streamOpts, ok := k.streamTarget(w, r, ns, podName, container)
	if !ok {
		return
	}
	remotecommand.ServeAttach(w, r, &shellAttacher{k: k, ns: ns}, podName, string(pod.UID), container,
		streamOpts, 4*time.Hour, remotecommand.DefaultStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

type shellAttacher struct {
	k  *FakeKubelet
	ns string
}

// AttachContainer runs the container's shell on the attached streams. As
// the kubelet's, an attach that ran ends in success whatever the process's
// exit status: it is in the container's status.
func (a *shellAttacher) AttachContainer(ctx context.Context, pod, _, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	a.k.followSizes(ctx, containerRef{a.ns, pod, container}, resize)
	sh := &miniShell{hostname: pod, out: writerOrDiscard(out), errw: writerOrDiscard(errw), nl: "\n"}
	if tty {
		sh.nl = "\r\n"
		sh.errw = sh.out
	}
	if in == nil { // nothing to read: the process runs on, unattached
		<-ctx.Done()
		return nil
	}
	code := sh.interactive(ctx, in)
	if ctx.Err() == nil {
		a.k.endEphemeral(context.WithoutCancel(ctx), a.ns, pod, container, code)
	}
	return nil
}

// shellExecutor runs exec commands with a tiny scripted shell: echo,
// hostname, true, false and exit; anything else is "not found" (127).
type shellExecutor struct {
	pod     string
	noShell bool
	sizes   func(context.Context, <-chan remotecommand.TerminalSize)
}

func isShell(cmd string) bool {
	switch path.Base(cmd) {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// ociNotFound is the error containerd returns when the binary to exec does
// not exist (a distroless image has no /bin/sh).
func ociNotFound(cmd string) error {
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	reason := fmt.Sprintf("exec: %q: executable file not found in $PATH", cmd)
	if strings.Contains(cmd, "/") {
		reason = fmt.Sprintf("exec: %q: stat %s: no such file or directory", cmd, cmd)
	}
	return fmt.Errorf("failed to exec in container: failed to start exec %q: OCI runtime exec failed: exec failed: unable to start container process: %s: unknown", hex.EncodeToString(id), reason)
}

func (e *shellExecutor) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if len(cmd) == 0 {
		return errors.New("command is required")
	}
	e.sizes(ctx, resize)
	sh := &miniShell{hostname: e.pod, out: writerOrDiscard(out), errw: writerOrDiscard(errw), nl: "\n"}
	if tty {
		sh.nl = "\r\n"
		sh.errw = sh.out
	}
	var code int
	switch {
	case e.noShell:
		return ociNotFound(cmd[0])
	case isShell(cmd[0]) && len(cmd) > 1 && cmd[1] == "-c":
		if len(cmd) < 3 {
			fmt.Fprintf(sh.errw, "%s: -c: option requires an argument%s", path.Base(cmd[0]), sh.nl)
			return exitCode(2)
		}
		code = sh.script(cmd[2])
	case isShell(cmd[0]):
		code = sh.interactive(ctx, in)
	case builtins[cmd[0]]:
		code, _ = sh.run(strings.Join(cmd, " "))
	default:
		return ociNotFound(cmd[0])
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

func exitCode(code int) error {
	return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
}

func writerOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

var builtins = map[string]bool{"echo": true, "hostname": true, "true": true, "false": true}

type miniShell struct {
	hostname  string
	out, errw io.Writer
	nl        string
	status    int
}

// script runs `sh -c` text: commands separated by newlines or semicolons.
func (s *miniShell) script(text string) int {
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ';' }) {
		if code, exit := s.run(line); exit {
			return code
		}
	}
	return s.status
}

// interactive reads commands from stdin until exit or end of input; the exit
// status is the last command's, like sh.
func (s *miniShell) interactive(ctx context.Context, in io.Reader) int {
	if in == nil {
		return 0
	}
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Split(scanLinesCR)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return s.status
		case line, ok := <-lines:
			if !ok {
				return s.status
			}
			if code, exit := s.run(line); exit {
				return code
			}
		}
	}
}

// scanLinesCR splits on \n or \r: a TTY sends Enter as \r.
func scanLinesCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// run executes one command line; exit reports an `exit` and its code.
func (s *miniShell) run(line string) (code int, exit bool) {
	args := splitArgs(line)
	if len(args) == 0 || strings.HasPrefix(args[0], "#") {
		return s.status, false
	}
	switch args[0] {
	case "echo":
		fmt.Fprint(s.out, strings.Join(args[1:], " ")+s.nl)
		s.status = 0
	case "hostname":
		fmt.Fprint(s.out, s.hostname+s.nl)
		s.status = 0
	case "true":
		s.status = 0
	case "false":
		s.status = 1
	case "exit":
		if len(args) == 1 {
			return s.status, true
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 {
			fmt.Fprintf(s.errw, "sh: exit: Illegal number: %s%s", args[1], s.nl)
			return 2, true
		}
		return n & 0xff, true
	default:
		fmt.Fprintf(s.errw, "sh: %s: not found%s", args[0], s.nl)
		s.status = 127
	}
	return s.status, false
}

// splitArgs splits a command line on blanks, honouring simple quotes.
func splitArgs(line string) []string {
	var args []string
	var cur strings.Builder
	var quote rune
	inArg := false
	for _, r := range strings.TrimSpace(line) {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case r == ' ' || r == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}
