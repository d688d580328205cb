package action

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// workloadSource serves each pod/container's log from a pipe the test
// writes to (a followed log stays open until the test closes it or the
// reader goes away); previous logs are fixed texts.
type workloadSource struct {
	client   kubernetes.Interface
	mu       sync.Mutex
	pipes    map[string]*io.PipeWriter // "pod/container"
	previous map[string]string
	opened   map[string]int
	tails    map[string][]int64 // TailLines asked, per open
	watches  int
}

func newWorkloadSource(objs ...runtime.Object) *workloadSource {
	cs := fake.NewClientset(objs...)
	s := &workloadSource{client: cs, pipes: map[string]*io.PipeWriter{},
		previous: map[string]string{}, opened: map[string]int{}, tails: map[string][]int64{}}
	// Register the watch as the default reactor does, then count it, so a
	// test that saw the count changes pods only once the watch sees them.
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		wa := a.(k8stesting.WatchActionImpl)
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace(), wa.ListOptions)
		if err != nil {
			return true, nil, err
		}
		s.mu.Lock()
		s.watches++
		s.mu.Unlock()
		return true, w, nil
	})
	return s
}

// waitWatching waits for the pod watch: the fake clientset, unlike an API
// server, does not replay changes made between a list and its watch.
func (s *workloadSource) waitWatching(t *testing.T) {
	t.Helper()
	waitUntil(t, "the pod watch", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.watches > 0
	})
}

func (s *workloadSource) Client() kubernetes.Interface { return s.client }
func (s *workloadSource) Info() kube.SourceInfo        { return kube.SourceInfo{Context: "test"} }

func (s *workloadSource) PodLogs(ctx context.Context, ns, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := pod + "/" + opts.Container
	s.opened[key]++
	tail := int64(0)
	if opts.TailLines != nil {
		tail = *opts.TailLines
	}
	s.tails[key] = append(s.tails[key], tail)
	if opts.Previous {
		text, ok := s.previous[key]
		if !ok {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", opts.Container, pod)
		}
		return io.NopCloser(strings.NewReader(text)), nil
	}
	r, w := io.Pipe()
	s.pipes[key] = w
	return r, nil
}

func (s *workloadSource) write(t *testing.T, key, text string) {
	t.Helper()
	var w *io.PipeWriter
	waitUntil(t, key+"'s log opened", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		w = s.pipes[key]
		return w != nil
	})
	if _, err := io.WriteString(w, text); err != nil {
		t.Fatal(err)
	}
}

func webDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

// runningPod is a pod whose containers run (restarts of each container are
// given by restarts; a restarted one has a previous instance).
func runningPod(name string, lbls map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: lbls, UID: types.UID("uid-" + name)}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, ContainerID: "containerd://" + name + "-" + c,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		})
	}
	return p
}

var web = map[string]string{"app": "web"}

// collector reads a stream in the background, like the pane does.
type collector struct {
	mu    sync.Mutex
	lines []LogLine
	ends  []LogEnd
	done  chan struct{}
}

func collect(s *LogStream) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			ch, err := s.Next(context.Background())
			if err != nil {
				return
			}
			c.mu.Lock()
			c.lines = append(c.lines, ch.Lines...)
			c.ends = append(c.ends, ch.Ended...)
			c.mu.Unlock()
			if ch.Done {
				return
			}
		}
	}()
	return c
}

func (c *collector) has(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if l.String() == s {
			return true
		}
	}
	return false
}

func (c *collector) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.lines {
		out = append(out, l.String())
	}
	return strings.Join(out, "\n")
}

func (c *collector) waitFor(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !c.has(line) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for line %q; have:\n%s", line, c.text())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWorkloadLogsMergeJoinAndLeave follows a Deployment: both pods'
// containers arrive merged with their pod/container prefix, another app's
// pod is not read, a pod created mid-stream joins, a deleted one is marked
// and its readers stop, and Close ends the stream.
func TestWorkloadLogsMergeJoinAndLeave(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := newWorkloadSource(webDeployment(),
		runningPod("web-a", web, "app", "sidecar"), runningPod("web-b", web, "app"),
		runningPod("api-x", map[string]string{"app": "api"}, "app"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := OpenWorkloadLogs(ctx, src, "deployment", "shop", "web", WorkloadLogOptions{LogOptions: LogOptions{Follow: true}})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(s)
	src.write(t, "web-a/app", "a says hi\n")
	src.write(t, "web-a/sidecar", "sidecar up\n")
	src.write(t, "web-b/app", "b says hi\n")
	c.waitFor(t, "[web-a/app] a says hi")
	c.waitFor(t, "[web-a/sidecar] sidecar up")
	c.waitFor(t, "[web-b/app] b says hi")
	if got := s.Pods(); got.Streaming != 2 || got.Waiting != 0 || got.Selector != "app=web" {
		t.Errorf("Pods() = %+v, want 2 streaming, selector app=web", got)
	}

	src.waitWatching(t)
	if _, err := src.client.CoreV1().Pods("shop").Create(ctx, runningPod("web-c", web, "app"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "+ pod web-c joined")
	src.write(t, "web-c/app", "c is new\n")
	c.waitFor(t, "[web-c/app] c is new")

	if err := src.client.CoreV1().Pods("shop").Delete(ctx, "web-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "— pod web-a deleted")
	// The deleted pod's readers stopped: writing to its pipe fails.
	waitUntil(t, "web-a's reader closed", func() bool {
		src.mu.Lock()
		w := src.pipes["web-a/app"]
		src.mu.Unlock()
		_, err := io.WriteString(w, "late\n")
		return err != nil
	})
	src.write(t, "web-b/app", "b still here\n")
	c.waitFor(t, "[web-b/app] b still here")
	if strings.Contains(c.text(), "api-x") {
		t.Errorf("another app's pod was read:\n%s", c.text())
	}
	for _, l := range c.lines {
		if !l.Note && (l.Pod == "" || l.Container == "") {
			t.Errorf("line without its pod and container: %+v", l)
		}
	}
	s.Close()
	<-c.done
}

// TestWorkloadLogsCapsPods: with MaxPods 2 and three pods, two are read and
// the third waits, is said to, and joins when a read pod goes away.
func TestWorkloadLogsCapsPods(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := newWorkloadSource(webDeployment(), runningPod("web-a", web, "app"), runningPod("web-b", web, "app"), runningPod("web-c", web, "app"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := OpenWorkloadLogs(ctx, src, "deployment", "shop", "web", WorkloadLogOptions{LogOptions: LogOptions{Follow: true}, MaxPods: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collect(s)
	waitUntil(t, "2 streaming, 1 waiting", func() bool { p := s.Pods(); return p.Streaming == 2 && p.Waiting == 1 })
	waitUntil(t, "the cap said", func() bool { return strings.Contains(c.text(), "more than 2 pods: the others wait") })
	src.mu.Lock()
	opened := len(src.pipes)
	src.mu.Unlock()
	if opened != 2 {
		t.Errorf("%d logs opened with a cap of 2 pods", opened)
	}
	streamed := map[string]bool{}
	for _, n := range []string{"web-a", "web-b", "web-c"} {
		src.mu.Lock()
		streamed[n] = src.pipes[n+"/app"] != nil
		src.mu.Unlock()
	}
	var gone, waiting string
	for n, ok := range streamed {
		if ok && gone == "" {
			gone = n
		}
		if !ok {
			waiting = n
		}
	}
	src.waitWatching(t)
	if err := src.client.CoreV1().Pods("shop").Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, waiting+" promoted", func() bool {
		p := s.Pods()
		if p.Streaming == 2 && p.Waiting == 0 {
			return true
		}
		return false
	})
	src.write(t, waiting+"/app", "my turn\n")
	c.waitFor(t, "["+waiting+"/app] my turn")
	if p := s.Pods(); p.Streaming != 2 || p.Waiting != 0 {
		t.Errorf("after a delete: %+v, want 2 streaming and none waiting", p)
	}
}

// TestWorkloadLogsPrevious reads the previous instance of every container
// that has one, and only those, then ends.
func TestWorkloadLogsPrevious(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	crashed := runningPod("web-a", web, "app", "sidecar")
	crashed.Status.ContainerStatuses[0].RestartCount = 3
	crashed.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, ContainerID: "containerd://old"}
	src := newWorkloadSource(webDeployment(), crashed, runningPod("web-b", web, "app"))
	src.previous["web-a/app"] = "panic: db unreachable\n"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := OpenWorkloadLogs(ctx, src, "deployment", "shop", "web", WorkloadLogOptions{LogOptions: LogOptions{Previous: true, Follow: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collect(s)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a previous-instance read did not end")
	}
	if got := c.text(); got != "[web-a/app] panic: db unreachable" {
		t.Errorf("previous = %q", got)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.opened["web-a/sidecar"] != 0 || src.opened["web-b/app"] != 0 {
		t.Errorf("asked the previous log of containers that never restarted: %v", src.opened)
	}
}

// TestWorkloadLogsCronJob reads the pods of the CronJob's Jobs and not
// those of another Job.
func TestWorkloadLogsCronJob(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nightly", UID: "cj-uid"}}
	yes := true
	ours := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nightly-29919000",
		OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "nightly", UID: "cj-uid", Controller: &yes}}}}
	theirs := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "manual-run"}}
	p1 := runningPod("nightly-29919000-abcde", map[string]string{"job-name": "nightly-29919000"}, "report")
	p2 := runningPod("manual-run-fghij", map[string]string{"job-name": "manual-run"}, "report")
	src := newWorkloadSource(cj, ours, theirs, p1, p2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := OpenWorkloadLogs(ctx, src, "cronjob", "shop", "nightly", WorkloadLogOptions{LogOptions: LogOptions{Follow: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collect(s)
	src.write(t, "nightly-29919000-abcde/report", "report done\n")
	c.waitFor(t, "[nightly-29919000-abcde/report] report done")
	if p := s.Pods(); p.Streaming != 1 {
		t.Errorf("Pods() = %+v, want the CronJob's one pod", p)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.opened["manual-run-fghij/report"] != 0 {
		t.Error("read the pod of a Job the CronJob does not own")
	}
}

// TestWorkloadLogsErrors: an unknown workload, a kind without pods and an
// empty selector are errors at once.
func TestWorkloadLogsErrors(t *testing.T) {
	bad := webDeployment()
	bad.Name = "everything"
	bad.Spec.Selector = &metav1.LabelSelector{}
	src := newWorkloadSource(bad)
	ctx := context.Background()
	for _, c := range []struct{ kind, name, want string }{
		{"deployment", "nope", "not found"},
		{"service", "web", "cannot read the logs of a service"},
		{"deployment", "everything", "empty selector"},
	} {
		_, err := OpenWorkloadLogs(ctx, src, c.kind, "shop", c.name, WorkloadLogOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s/%s: err %v, want %q", c.kind, c.name, err, c.want)
		}
	}
}

// TestWorkloadLogsRereadsARestartedContainer: when a followed container
// stops and its pod shows a new instance (new container ID, restart count
// up), the new instance is read from its start, whatever the tail.
func TestWorkloadLogsRereadsARestartedContainer(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := newWorkloadSource(webDeployment(), runningPod("web-a", web, "app"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := OpenWorkloadLogs(ctx, src, "deployment", "shop", "web", WorkloadLogOptions{LogOptions: LogOptions{Follow: true, TailLines: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collect(s)
	src.write(t, "web-a/app", "first run\n")
	c.waitFor(t, "[web-a/app] first run")
	src.waitWatching(t)
	// The container dies: its follow ends.
	src.mu.Lock()
	first := src.pipes["web-a/app"]
	delete(src.pipes, "web-a/app")
	src.mu.Unlock()
	first.Close()
	waitUntil(t, "the first reader ended", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.ends) == 1 && c.ends[0].Pod == "web-a" && c.ends[0].Status == LogComplete
	})
	p, err := src.client.CoreV1().Pods("shop").Get(ctx, "web-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := &p.Status.ContainerStatuses[0]
	st.RestartCount, st.ContainerID = 1, "containerd://web-a-app-2"
	if _, err := src.client.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	src.write(t, "web-a/app", "second run\n")
	c.waitFor(t, "[web-a/app] second run")
	src.mu.Lock()
	defer src.mu.Unlock()
	if got := fmt.Sprint(src.tails["web-a/app"]); got != "[10 0]" {
		t.Errorf("web-a/app opened with tails %s, want [10 0]: the tail for the first instance, all of the new one", got)
	}
}

// TestWorkloadLogsPendingPodTakesNoSlot: a pod still Pending is not read
// and holds no slot; once its container runs it is read.
func TestWorkloadLogsPendingPodTakesNoSlot(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pending := runningPod("web-p", web, "app")
	pending.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	pending.Status.ContainerStatuses[0].ContainerID = ""
	src := newWorkloadSource(webDeployment(), runningPod("web-a", web, "app"), pending)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := OpenWorkloadLogs(ctx, src, "deployment", "shop", "web", WorkloadLogOptions{LogOptions: LogOptions{Follow: true}, MaxPods: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collect(s)
	src.write(t, "web-a/app", "a\n")
	c.waitFor(t, "[web-a/app] a")
	src.waitWatching(t)
	if p := s.Pods(); p.Streaming != 1 || p.Waiting != 0 {
		t.Errorf("Pods() = %+v: a Pending pod took or waits for a slot", p)
	}
	// web-a goes; web-p starts: it takes the free slot.
	if err := src.client.CoreV1().Pods("shop").Delete(ctx, "web-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "— pod web-a deleted")
	p, err := src.client.CoreV1().Pods("shop").Get(ctx, "web-p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	p.Status.ContainerStatuses[0].ContainerID = "containerd://web-p-app"
	if _, err := src.client.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	src.write(t, "web-p/app", "p started\n")
	c.waitFor(t, "[web-p/app] p started")
}
