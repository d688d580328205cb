package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kdoctor-dev/kdoctor/kube"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// Demo is an in-process cluster built from every scenario, kept alive by
// Step: restart counts climb, back-off events repeat, a pod recovers and a
// new failing pod appears — so a newcomer without a cluster sees the real
// product at work.
type Demo struct {
	client *fake.Clientset
	// guarded is the client kdoctor gets in read-only mode: the read-only
	// guard first, then the demo cluster (see GuardReadOnly). Step keeps
	// using client, as a cluster's own controllers would.
	guarded  *fake.Clientset
	readOnly bool

	mu    sync.Mutex
	logs  map[facts.LogKey][]byte
	tick  int
	extra *corev1.Pod // the failing pod Step adds and later removes
	// now is the demo's clock (NewDemo's, then each Step's): usage
	// samples are taken at it.
	now     time.Time
	metrics metricsclient.MetricsV1beta1Interface
}

// DemoContext is the context name the demo reports.
const DemoContext = "kdoctor-demo"

// NewDemo loads the scenarios under root in fsys into a fake clientset, with
// timestamps moved so that each story ends at now.
func NewDemo(fsys fs.FS, root string, now time.Time) (*Demo, error) {
	scenarios, err := facts.LoadScenariosFS(fsys, root)
	if err != nil {
		return nil, err
	}
	if len(scenarios) == 0 {
		return nil, fmt.Errorf("no scenarios under %s", root)
	}
	d := &Demo{logs: map[facts.LogKey][]byte{}, now: now}
	var objs []runtime.Object
	for _, s := range scenarios {
		for _, o := range s.ShiftedTo(now) {
			objs = append(objs, o)
		}
		for k, v := range s.Logs {
			d.logs[k] = v
		}
	}
	d.client = fake.NewClientset(objs...)
	// The demo user may do everything: access reviews say yes (the fake
	// clientset cannot evaluate them).
	d.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview).DeepCopy()
		review.Status = authv1.SubjectAccessReviewStatus{Allowed: true, Reason: "the demo allows everything"}
		return true, review, nil
	})
	// Evictions as a real cluster would carry them out, so a drain in the
	// demo evicts: the API discovery drain checks, and the pod going away.
	if fd, ok := d.client.Discovery().(*fakediscovery.FakeDiscovery); ok {
		fd.Resources = []*metav1.APIResourceList{
			{GroupVersion: "v1", APIResources: []metav1.APIResource{
				{Name: "pods", Namespaced: true, Kind: "Pod"},
				{Name: "pods/eviction", Namespaced: true, Group: "policy", Version: "v1", Kind: "Eviction"},
			}},
			{GroupVersion: "policy/v1", APIResources: []metav1.APIResource{{Name: "poddisruptionbudgets", Namespaced: true, Kind: "PodDisruptionBudget"}}},
		}
	}
	d.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev, ok := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		if !ok {
			return false, nil, nil
		}
		err := d.client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ev.Namespace, ev.Name)
		return true, ev, err
	})
	// The fake clientset ignores field selectors; drain lists a node's pods
	// with spec.nodeName, so the demo honours that one.
	d.client.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sel := a.(k8stesting.ListAction).GetListRestrictions().Fields
		node, ok := sel.RequiresExactMatch("spec.nodeName")
		if !ok {
			return false, nil, nil
		}
		obj, err := d.client.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := obj.(*corev1.PodList)
		kept := list.Items[:0]
		for _, p := range list.Items {
			if p.Spec.NodeName == node {
				kept = append(kept, p)
			}
		}
		list.Items = kept
		return true, list, nil
	})
	return d, nil
}

// Client returns the clientset kdoctor uses: the guarded one in read-only
// mode.
func (d *Demo) Client() kubernetes.Interface {
	if d.guarded != nil {
		return d.guarded
	}
	return d.client
}

// Info says plainly that this is the demo.
func (d *Demo) Info() kube.SourceInfo {
	return kube.SourceInfo{Context: DemoContext, Server: DemoServer, Demo: true, ReadOnly: d.readOnly}
}

// DemoServer is the server the demo reports, for config patterns too.
const DemoServer = "in-process demo cluster"

// GuardReadOnly makes the demo read-only the way a real cluster is: the
// client kdoctor gets from then on runs every request through the same
// check as the transport guard (kube.CheckReadOnly on the request's method and
// path) before it reaches the demo cluster, so a refusal is the same
// kube.ReadOnlyError with the same words. The fake clientset has no HTTP
// transport; the first link of its reaction chain is the same place in the
// stack: below every client call, above the cluster. Call it before the UI
// starts.
func (d *Demo) GuardReadOnly() {
	if d.guarded != nil {
		return
	}
	g := fake.NewClientset()
	if gd, ok := g.Discovery().(*fakediscovery.FakeDiscovery); ok {
		if fd, ok := d.client.Discovery().(*fakediscovery.FakeDiscovery); ok {
			gd.Resources = fd.Resources
		}
	}
	g.ReactionChain = []k8stesting.Reactor{&k8stesting.SimpleReactor{Verb: "*", Resource: "*",
		Reaction: func(a k8stesting.Action) (bool, runtime.Object, error) {
			if err := checkAction(a); err != nil {
				return true, nil, err
			}
			obj, err := d.client.Invokes(a, nil)
			return true, obj, err
		}}}
	g.WatchReactionChain = []k8stesting.WatchReactor{&k8stesting.SimpleWatchReactor{Resource: "*",
		Reaction: func(a k8stesting.Action) (bool, watch.Interface, error) {
			if err := checkAction(a); err != nil {
				return true, nil, err
			}
			w, err := d.client.InvokesWatch(a)
			return true, w, err
		}}}
	g.ProxyReactionChain = []k8stesting.ProxyReactor{&k8stesting.SimpleProxyReactor{Resource: "*",
		Reaction: func(a k8stesting.Action) (bool, rest.ResponseWrapper, error) {
			if err := checkAction(a); err != nil {
				return true, refusedResponse{err}, nil
			}
			if resp := d.client.InvokesProxy(a); resp != nil {
				return true, resp, nil
			}
			return true, refusedResponse{fmt.Errorf("the demo cluster has nothing behind %s/proxy", a.GetResource().Resource)}, nil
		}}}
	d.guarded, d.readOnly = g, true
}

// checkAction is kube.CheckReadOnly for a fake clientset action: the request
// client-go would have sent for it, judged by the transport guard's rules.
func checkAction(a k8stesting.Action) error {
	method := map[string]string{
		"get": http.MethodGet, "list": http.MethodGet, "watch": http.MethodGet,
		"create": http.MethodPost, "update": http.MethodPut, "patch": http.MethodPatch,
		"delete": http.MethodDelete, "delete-collection": http.MethodDelete, "deletecollection": http.MethodDelete,
	}[a.GetVerb()]
	if method == "" {
		method = strings.ToUpper(a.GetVerb()) // unknown verbs are refused below
	}
	gvr := a.GetResource()
	p := "/api/" + gvr.Version
	if gvr.Group != "" {
		p = "/apis/" + gvr.Group + "/" + gvr.Version
	}
	if gvr.Version == "" {
		p += "v1" // discovery actions carry no version
	}
	if ns := a.GetNamespace(); ns != "" {
		p += "/namespaces/" + ns
	}
	p += "/" + gvr.Resource
	if n, ok := a.(interface{ GetName() string }); ok && n.GetName() != "" {
		p += "/" + n.GetName()
	}
	sub := a.GetSubresource()
	if _, ok := a.(k8stesting.ProxyGetAction); ok {
		sub = "proxy" // the fake leaves it out; client-go would send it
	}
	if sub != "" {
		if n, ok := a.(interface{ GetName() string }); !ok || n.GetName() == "" {
			p += "/-" // a subresource always follows a name
		}
		p += "/" + sub
	}
	return kube.CheckReadOnly(method, p)
}

// refusedResponse answers a refused proxy request (the fake proxy chain has
// no error path).
type refusedResponse struct{ err error }

func (r refusedResponse) DoRaw(context.Context) ([]byte, error)         { return nil, r.err }
func (r refusedResponse) Stream(context.Context) (io.ReadCloser, error) { return nil, r.err }

// PodLogs serves the scenario log files the way a kubelet serves logs,
// including its wording when there is no previous instance.
func (d *Demo) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	container := opts.Container
	if container == "" {
		p, err := d.client.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if len(p.Spec.Containers) != 1 {
			return nil, fmt.Errorf("a container name must be specified for pod %s, choose one of: %v", pod, containerNames(p))
		}
		container = p.Spec.Containers[0].Name
	}
	d.mu.Lock()
	data, ok := d.logs[facts.LogKey{Namespace: namespace, Pod: pod, Container: container, Previous: opts.Previous}]
	d.mu.Unlock()
	if !ok {
		if opts.Previous {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", container, pod)
		}
		data = nil
	}
	data = tailBytes(data, opts.TailLines, opts.LimitBytes)
	return io.NopCloser(bytes.NewReader(data)), nil
}

func containerNames(p *corev1.Pod) []string {
	var out []string
	for _, c := range p.Spec.Containers {
		out = append(out, c.Name)
	}
	return out
}

// tailBytes keeps the last tail lines and at most limit bytes, as the kubelet does.
func tailBytes(data []byte, tail, limit *int64) []byte {
	if tail != nil && *tail >= 0 {
		lines := bytes.SplitAfter(data, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		if int64(len(lines)) > *tail {
			lines = lines[int64(len(lines))-*tail:]
		}
		data = bytes.Join(lines, nil)
	}
	if limit != nil && *limit >= 0 && int64(len(data)) > *limit {
		data = data[:*limit]
	}
	return data
}

// Run calls Step every interval until ctx is done.
func (d *Demo) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.Step(ctx, now)
		}
	}
}

// Step advances the demo by one tick: crash-looping containers restart again
// (with a fresh BackOff event), a not-ready pod comes and goes, and a new pod
// with a bad image tag appears and later disappears.
func (d *Demo) Step(ctx context.Context, now time.Time) {
	d.mu.Lock()
	d.tick++
	tick := d.tick
	d.now = now
	d.mu.Unlock()

	pods, err := d.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		p := &pods.Items[i]
		if crashed := restartCrashLooping(p, now, tick); crashed != "" {
			if _, err := d.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
				d.repeatEvent(ctx, p, "BackOff", now)
			}
		}
	}
	switch tick % 12 {
	case 3:
		d.addFailingPod(ctx, now)
	case 9:
		d.removeFailingPod(ctx)
	}
	if tick%6 == 0 {
		d.toggleReadiness(ctx, pods.Items, now)
	}
}

// restartCrashLooping bumps the restart count of containers in back-off,
// every other tick so the counters climb at a believable pace.
func restartCrashLooping(p *corev1.Pod, now time.Time, tick int) string {
	if tick%2 != 0 {
		return ""
	}
	changed := ""
	for i := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[i]
		if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.LastTerminationState.Terminated == nil {
			continue
		}
		cs.RestartCount++
		t := cs.LastTerminationState.Terminated
		t.StartedAt = metav1.NewTime(now.Add(-20 * time.Second))
		t.FinishedAt = metav1.NewTime(now.Add(-time.Second))
		changed = cs.Name
	}
	return changed
}

func (d *Demo) repeatEvent(ctx context.Context, p *corev1.Pod, reason string, now time.Time) {
	evs, err := d.client.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range evs.Items {
		e := &evs.Items[i]
		if e.InvolvedObject.UID == p.UID && e.Reason == reason {
			e.Count++
			e.LastTimestamp = metav1.NewTime(now)
			_, _ = d.client.CoreV1().Events(p.Namespace).Update(ctx, e, metav1.UpdateOptions{})
			return
		}
	}
}

// toggleReadiness flips the first not-ready-but-running pod to ready and back,
// so the tree shows a pod recovering.
func (d *Demo) toggleReadiness(ctx context.Context, pods []corev1.Pod, now time.Time) {
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		if len(p.Spec.Containers) == 0 || p.Spec.Containers[0].ReadinessProbe == nil {
			continue
		}
		cs := p.Status.ContainerStatuses
		if len(cs) == 0 || cs[0].State.Running == nil || cs[0].RestartCount > 0 {
			continue
		}
		wasReady := cs[0].Ready
		if wasReady && !hasRecovered(p) {
			continue
		}
		cs[0].Ready = !wasReady
		setReady(p, !wasReady, now)
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations["kdoctor.dev/demo-recovered"] = fmt.Sprint(!wasReady)
		_, _ = d.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return
	}
}

func hasRecovered(p *corev1.Pod) bool { return p.Annotations["kdoctor.dev/demo-recovered"] == "true" }

func setReady(p *corev1.Pod, ready bool, now time.Time) {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			c.Status, c.LastTransitionTime = st, metav1.NewTime(now)
		}
	}
}

func (d *Demo) addFailingPod(ctx context.Context, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.extra != nil {
		return
	}
	ns := "demo-rollout"
	_, _ = d.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	name := fmt.Sprintf("frontend-7f9c6d5b8-%05d", d.tick)
	image := "registry.example.com/shop/frontend:v2.4.1-rc"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID(fmt.Sprintf("de300000-0000-4000-8000-%012d", d.tick)),
			CreationTimestamp: metav1.NewTime(now.Add(-40 * time.Second)),
			Labels:            map[string]string{"app": "frontend", "pod-template-hash": "7f9c6d5b8"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "frontend-7f9c6d5b8",
				UID: "de300000-0000-4000-8000-0000000000aa", Controller: ptr(true),
			}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "frontend", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "frontend", Image: image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
					Reason:  "ImagePullBackOff",
					Message: fmt.Sprintf("Back-off pulling image %q: ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", image, image, image, image),
				}},
			}},
		},
	}
	created, err := d.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return
	}
	d.extra = created
	_, _ = d.client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name + ".demo", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name, UID: created.UID, APIVersion: "v1", FieldPath: "spec.containers{frontend}"},
		Reason:         "Failed", Type: corev1.EventTypeWarning, Count: 3,
		Message:        fmt.Sprintf("Failed to pull image %q: rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", image, image, image, image),
		FirstTimestamp: metav1.NewTime(now.Add(-35 * time.Second)), LastTimestamp: metav1.NewTime(now),
		Source: corev1.EventSource{Component: "kubelet"},
	}, metav1.CreateOptions{})
}

func (d *Demo) removeFailingPod(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.extra == nil {
		return
	}
	_ = d.client.CoreV1().Pods(d.extra.Namespace).Delete(ctx, d.extra.Name, metav1.DeleteOptions{})
	d.extra = nil
}

func ptr[T any](v T) *T { return &v }
