package action_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// podFloodSource serves every container of every pod an endless log until
// the deadline, counting the lines it serves.
type podFloodSource struct {
	client   kubernetes.Interface
	block    []byte
	perBlock int64
	deadline time.Time
	blocks   atomic.Int64 // whole blocks served, over all readers
	opened   atomic.Int64
}

func (s *podFloodSource) Client() kubernetes.Interface { return s.client }
func (s *podFloodSource) Info() kube.SourceInfo        { return kube.SourceInfo{Context: "flood"} }
func (s *podFloodSource) PodLogs(context.Context, string, string, *corev1.PodLogOptions) (io.ReadCloser, error) {
	s.opened.Add(1)
	return &podFloodReader{src: s}, nil
}

func (s *podFloodSource) served() int64 { return s.blocks.Load() * s.perBlock }

// podFloodReader repeats the block until the deadline, stopping only
// between blocks so the lines served are exactly counted.
type podFloodReader struct {
	src *podFloodSource
	off int
}

func (r *podFloodReader) Read(p []byte) (int, error) {
	if r.off == 0 && time.Now().After(r.src.deadline) {
		return 0, io.EOF
	}
	n := copy(p, r.src.block[r.off:])
	r.off += n
	if r.off == len(r.src.block) {
		r.off = 0
		r.src.blocks.Add(1)
	}
	return n, nil
}

func (r *podFloodReader) Close() error { return nil }

// TestWorkloadLogsFlood follows a 60-pod Deployment (two containers each)
// whose every container writes as fast as it can be read, with the pod cap
// at 50, into a view that reads once a frame into the pane's ring: the heap
// stays bounded, every line is delivered or counted as skipped, and the
// cost of a held line is measured.
func TestWorkloadLogsFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a 6 s flood (not in -short mode)")
	}
	const duration = 6 * time.Second
	const pods = 60
	var block strings.Builder
	lines := int64(0)
	for i := range 100 {
		fmt.Fprintf(&block, "INFO request served path=/api/v1/orders/%06d status=200 bytes=512 took=3ms %s\n", i, strings.Repeat("x", 40))
		lines++
	}
	objs := []runtime.Object{&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}}
	for i := range pods {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("web-%02d", i), Labels: map[string]string{"app": "web"}}}
		for _, c := range []string{"app", "sidecar"} {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c, ContainerID: "containerd://" + p.Name + c, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			})
		}
		objs = append(objs, p)
	}
	src := &podFloodSource{client: fake.NewClientset(objs...), block: []byte(block.String()), perBlock: lines}

	base := kubetest.HeapInUse()
	ctx := kubetest.Timeout(t, duration+30*time.Second)
	src.deadline = time.Now().Add(duration)
	s, err := action.OpenWorkloadLogs(ctx, src, "deployment", "shop", "web", action.WorkloadLogOptions{LogOptions: action.LogOptions{Follow: true}})
	if err != nil {
		t.Fatal(err)
	}
	view := action.NewLogRing(0, 0) // the pane's ring, default size
	var delivered, skipped int64
	var peak uint64
	perPod := map[string]bool{}
	frame := time.NewTicker(live.FrameInterval)
	defer frame.Stop()
	nextSample := time.Now().Add(time.Second)
	for time.Now().Before(src.deadline.Add(-100 * time.Millisecond)) {
		<-frame.C
		c, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		delivered += int64(len(c.Lines))
		skipped += c.Skipped
		for _, l := range c.Lines {
			if !l.Note {
				perPod[l.Pod] = true
			}
		}
		view.AppendAll(c.Lines)
		if time.Now().After(nextSample) {
			peak = max(peak, kubetest.HeapInUse())
			nextSample = time.Now().Add(time.Second)
		}
	}
	// The flood is over: drain what is left (the stream itself goes on
	// watching the pods), then measure what the view holds.
	for {
		nctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		c, err := s.Next(nctx)
		cancel()
		if err != nil {
			break
		}
		delivered += int64(len(c.Lines))
		skipped += c.Skipped
		view.AppendAll(c.Lines)
	}
	held := kubetest.HeapInUse()
	served := src.served()
	pods50 := s.Pods()
	s.Close()
	if got := src.opened.Load(); got != 100 {
		t.Errorf("%d logs opened: want 2 containers × the 50-pod cap", got)
	}
	if pods50.Streaming != 50 || pods50.Waiting != 10 {
		t.Errorf("Pods() = %+v, want 50 streaming and 10 waiting", pods50)
	}
	t.Logf("%d pods (50 streamed, 100 containers) for %v: %d lines served, %d delivered, %d skipped; heap %s before, peak %s; the view's ring holds %d lines in %s (%.0f bytes a line of %d bytes of text)",
		pods, duration, served, delivered, skipped, kubetest.MiB(base), kubetest.MiB(peak), view.Len(),
		kubetest.MiB(held-base), float64(held-base)/float64(view.Len()), len(block.String())/int(lines)-1)
	// One note line (the pod cap) is delivered or skipped besides the served lines.
	if delivered+skipped != served+1 {
		t.Errorf("%d delivered + %d skipped != %d served + 1 note: lines lost silently", delivered, skipped, served)
	}
	if skipped == 0 {
		t.Error("a view reading once a frame kept up with 100 floods: the test is not flooding")
	}
	if len(perPod) != 50 {
		t.Errorf("lines from %d pods, want the 50 streamed ones", len(perPod))
	}
	if peak > base+64<<20 || held > base+64<<20 {
		t.Errorf("heap peaked at %s, held %s (from %s): not bounded", kubetest.MiB(peak), kubetest.MiB(held), kubetest.MiB(base))
	}
}
