package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/demo"
)

func TestLogRingKeepsTheLastLinesAndCountsTheRest(t *testing.T) {
	r := NewLogRing(3, 0)
	for i := range 10 {
		r.Append(LogLine{Text: fmt.Sprint(i)})
	}
	if got := lineTexts(r.Lines()); got != "7 8 9" {
		t.Errorf("lines = %q, want the last three", got)
	}
	if r.Len() != 3 || r.Cap() != 3 || r.Dropped() != 7 {
		t.Errorf("len %d cap %d dropped %d, want 3 3 7", r.Len(), r.Cap(), r.Dropped())
	}
	// take empties the ring but keeps counting what it pushes out.
	if got := lineTexts(r.take()); got != "7 8 9" || r.Len() != 0 {
		t.Errorf("take = %q, len after %d", got, r.Len())
	}
	for i := range 4 {
		r.Append(LogLine{Text: fmt.Sprint(i)})
	}
	if got := lineTexts(r.Lines()); got != "1 2 3" || r.Dropped() != 8 {
		t.Errorf("after take and 4 more: %q dropped %d, want \"1 2 3\" and 8", got, r.Dropped())
	}
}

func lineTexts(lines []LogLine) string {
	var s []string
	for _, l := range lines {
		s = append(s, l.Text)
	}
	return strings.Join(s, " ")
}

func TestLogRingTruncatesLongLines(t *testing.T) {
	r := NewLogRing(10, 100)
	long := strings.Repeat("é", 200) // 400 bytes, two per character
	r.Append(LogLine{Text: long})
	got := r.Lines()[0].Text
	if len(got) > 100 {
		t.Errorf("kept %d bytes, cap is 100", len(got))
	}
	if !utf8.ValidString(got) {
		t.Errorf("cut inside a character: %q", got)
	}
	kept, marker, ok := strings.Cut(got, " … [")
	if !ok || marker != fmt.Sprintf("%d bytes cut]", 400-len(kept)) {
		t.Errorf("truncated line %q lacks a marker counting the %d bytes cut", got, 400-len(kept))
	}
	// Truncating again changes nothing: a chunk's lines go into the view's ring as they are.
	r.Append(LogLine{Text: got})
	if again := r.Lines()[1].Text; again != got {
		t.Errorf("second truncation changed the line:\n%q\n%q", got, again)
	}
	r.Append(LogLine{Text: "short"})
	if s := r.Lines()[2].Text; s != "short" {
		t.Errorf("short line changed to %q", s)
	}
}

func TestScanLogLines(t *testing.T) {
	huge := strings.Repeat("x", 100_000) // longer than the reader's buffer
	input := "one\r\ntwo\n\n" + huge + "\n" + "last without newline"
	type got struct {
		text      string
		discarded int
	}
	var lines []got
	err := scanLogLines(strings.NewReader(input), 1000, func(l []byte, d int) {
		lines = append(lines, got{string(l), d})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{"one", 0}, {"two", 0}, {"", 0}, {huge[:1000], 99_000}, {"last without newline", 0}}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d", len(lines), len(want))
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %.20q (discarded %d), want %.20q (discarded %d)", i, lines[i].text, lines[i].discarded, want[i].text, want[i].discarded)
		}
	}
	boom := errors.New("connection reset")
	err = scanLogLines(io.MultiReader(strings.NewReader("a\npartial"), errReader{boom}), 1000, func([]byte, int) {})
	if !errors.Is(err, boom) {
		t.Errorf("read error = %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// pipeSource serves each container's log from a pipe the test writes to,
// or fails it with a set error.
type pipeSource struct {
	client kubernetes.Interface
	mu     sync.Mutex
	pipes  map[string]*io.PipeWriter
	fail   map[string]error
	asked  []*corev1.PodLogOptions
}

func newPipeSource(t *testing.T, pod *corev1.Pod) *pipeSource {
	t.Helper()
	return &pipeSource{client: fake.NewClientset(pod), pipes: map[string]*io.PipeWriter{}, fail: map[string]error{}}
}

func (s *pipeSource) Client() kubernetes.Interface { return s.client }
func (s *pipeSource) Info() kube.SourceInfo        { return kube.SourceInfo{Context: "test"} }

func (s *pipeSource) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, opts)
	if err := s.fail[opts.Container]; err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	s.pipes[opts.Container] = w
	return r, nil
}

// write waits for the container's stream to be open, then writes to it.
func (s *pipeSource) write(t *testing.T, container, text string) {
	t.Helper()
	w := s.pipe(t, container)
	if _, err := io.WriteString(w, text); err != nil {
		t.Fatal(err)
	}
}

func (s *pipeSource) pipe(t *testing.T, container string) *io.PipeWriter {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		w := s.pipes[container]
		s.mu.Unlock()
		if w != nil {
			return w
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("container %s log never opened", container)
	return nil
}

func logTestPod(containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

// waitPending waits until the stream holds n lines not yet read.
func waitPending(t *testing.T, s *LogStream, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d pending lines", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending.Len() == n
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func nextChunk(t *testing.T, s *LogStream) LogChunk {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return c
}

func TestLogStreamCoalescesAndBoundsPendingLines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := newPipeSource(t, logTestPod("app"))
	s, err := OpenLogs(context.Background(), src, "shop", "web-1", LogOptions{Follow: true, BufferLines: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Containers) != 1 || s.Containers[0] != "app" {
		t.Fatalf("containers = %v, want the only one, app", s.Containers)
	}
	var b strings.Builder
	for i := range 8 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	src.write(t, "app", b.String())
	waitPending(t, s, 8)
	c := nextChunk(t, s)
	if len(c.Lines) != 8 || c.Skipped != 0 || c.Done {
		t.Fatalf("first chunk: %d lines, skipped %d, done %v; want all 8 lines at once", len(c.Lines), c.Skipped, c.Done)
	}

	// The view falls behind: 25 lines arrive, 10 are kept, 15 skipped.
	b.Reset()
	for i := range 25 {
		fmt.Fprintf(&b, "burst %d\n", i)
	}
	src.write(t, "app", b.String())
	waitUntil(t, "15 lines pushed out of the pending buffer", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending.Dropped() == 15
	})
	c = nextChunk(t, s)
	if len(c.Lines) != 10 || c.Skipped != 15 || c.Lines[0].Text != "burst 15" || c.Lines[9].Text != "burst 24" {
		t.Fatalf("after a burst: %d lines (%q … %q), skipped %d; want bursts 15–24 and 15 skipped",
			len(c.Lines), c.Lines[0].Text, c.Lines[len(c.Lines)-1].Text, c.Skipped)
	}

	// The container stops: the stream ends with a status and Done, then EOF.
	src.pipe(t, "app").Close()
	c = nextChunk(t, s)
	if !c.Done || len(c.Ended) != 1 || c.Ended[0].Status != LogComplete {
		t.Fatalf("end chunk = %+v, want Done with app complete", c)
	}
	if _, err := s.Next(context.Background()); err != io.EOF {
		t.Errorf("Next after Done = %v, want io.EOF", err)
	}
	opts := src.asked[0]
	if !opts.Follow || opts.Container != "app" || opts.Previous {
		t.Errorf("asked the source for %+v", opts)
	}
}

func TestLogStreamAllContainersTagsLines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pod := logTestPod("app", "sidecar")
	pod.Spec.InitContainers = []corev1.Container{{Name: "migrate"}, {Name: "never-ran"}}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "migrate", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
		{Name: "never-ran", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}},
	}
	src := newPipeSource(t, pod)
	src.fail["sidecar"] = errors.New(`container "sidecar" in pod "web-1" is waiting to start: trying and failing to pull image`)
	s, err := OpenLogs(context.Background(), src, "shop", "web-1", LogOptions{AllContainers: true, Timestamps: true, TailLines: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Containers, ","); got != "migrate,app,sidecar" {
		t.Errorf("containers = %s, want migrate,app,sidecar (init containers that never ran left out)", got)
	}
	src.write(t, "migrate", "2026-11-23T10:00:00.5Z migrated\n")
	src.pipe(t, "migrate").Close()
	src.write(t, "app", "2026-11-23T10:00:01Z ready\nnot a timestamp\n")
	src.pipe(t, "app").Close()

	var lines []LogLine
	ends := map[string]LogEnd{}
	for {
		c := nextChunk(t, s)
		lines = append(lines, c.Lines...)
		for _, e := range c.Ended {
			ends[e.Container] = e
		}
		if c.Done {
			break
		}
	}
	var rendered []string
	for _, l := range lines {
		rendered = append(rendered, l.String())
	}
	if got := strings.Join(rendered, "|"); got != "[migrate] migrated|[app] ready|[app] not a timestamp" {
		t.Errorf("lines = %s", got)
	}
	if want := time.Date(2026, 11, 23, 10, 0, 0, 5e8, time.UTC); !lines[0].Time.Equal(want) {
		t.Errorf("first line time = %v, want %v", lines[0].Time, want)
	}
	if e := ends["sidecar"]; e.Status != LogNotStarted || !strings.Contains(e.Message, "trying and failing to pull image") {
		t.Errorf("sidecar end = %+v, want not started, with the reason", e)
	}
	if ends["app"].Status != LogComplete || ends["migrate"].Status != LogComplete {
		t.Errorf("ends = %+v", ends)
	}
	for _, o := range src.asked {
		if !o.Timestamps || o.TailLines == nil || *o.TailLines != 5 {
			t.Errorf("asked %+v, want timestamps and tail 5", o)
		}
	}
}

func TestLogStreamReportsMissingLogsAsStatuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		previous bool
		err      error
		want     LogStatus
		msg      string
	}{
		{"no previous instance", true, errors.New(`previous terminated container "app" in pod "web-1" not found`), LogNoPreviousInstance, "no previous instance"},
		{"waiting to start", false, apierrors.NewBadRequest(`container "app" in pod "web-1" is waiting to start: ContainerCreating`), LogNotStarted, "has not started yet (ContainerCreating)"},
		{"forbidden", false, apierrors.NewForbidden(schema.GroupResource{Resource: "pods/log"}, "web-1", errors.New("no RBAC")), LogFailed, "access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newPipeSource(t, logTestPod("app"))
			src.fail["app"] = tc.err
			s, err := OpenLogs(context.Background(), src, "shop", "web-1", LogOptions{Container: "app", Previous: tc.previous})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c := nextChunk(t, s)
			if !c.Done || len(c.Ended) != 1 {
				t.Fatalf("chunk = %+v, want one end and Done", c)
			}
			e := c.Ended[0]
			if e.Status != tc.want || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("end = %v %q, want %v containing %q", e.Status, e.Message, tc.want, tc.msg)
			}
			if (e.Err != nil) != (tc.want == LogFailed) {
				t.Errorf("Err = %v: set only for failures", e.Err)
			}
		})
	}
}

func TestLogStreamOnTheDemo(t *testing.T) {
	d, err := demo.NewDemo(os.DirFS("../../testdata/scenarios"), ".", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	read := func(opts LogOptions) ([]LogLine, LogEnd) {
		s, err := OpenLogs(context.Background(), d, "orders", "orders-api-6d8f5c7b49-q8w2m", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var lines []LogLine
		for {
			c := nextChunk(t, s)
			lines = append(lines, c.Lines...)
			if c.Done {
				return lines, c.Ended[0]
			}
		}
	}
	want, err := os.ReadFile("../../testdata/scenarios/crashloop-exit-1/logs/orders/orders-api-6d8f5c7b49-q8w2m/orders-api.previous.log")
	if err != nil {
		t.Fatal(err)
	}
	lines, end := read(LogOptions{Previous: true})
	if got := joinLogLines(lines); got != strings.TrimRight(string(want), "\n") || end.Status != LogComplete {
		t.Errorf("previous log on the demo: status %v, %d lines, want the scenario's %d", end.Status, len(lines), strings.Count(string(want), "\n"))
	}
	lines, _ = read(LogOptions{Previous: true, TailLines: 2})
	if len(lines) != 2 {
		t.Errorf("tail 2 gave %d lines", len(lines))
	}
	_, end = read(LogOptions{Container: "orders-api", Previous: true, AllContainers: false})
	if end.Status != LogComplete {
		t.Errorf("named container: %v", end.Status)
	}
	s, err := OpenLogs(context.Background(), d, "orders", "orders-api-58bc6d9f7-k9tzq", LogOptions{Previous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c := nextChunk(t, s); c.Ended[0].Status != LogNoPreviousInstance {
		t.Errorf("demo pod without a previous log: %+v", c.Ended[0])
	}
}

func joinLogLines(lines []LogLine) string {
	var s []string
	for _, l := range lines {
		s = append(s, l.Text)
	}
	return strings.Join(s, "\n")
}

func TestLogStreamCloseStopsFollowing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src := newPipeSource(t, logTestPod("app"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := OpenLogs(ctx, src, "shop", "web-1", LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	src.write(t, "app", "hello\n")
	if c := nextChunk(t, s); len(c.Lines) != 1 {
		t.Fatalf("chunk = %+v", c)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop a follow")
	}
	c := nextChunk(t, s)
	if !c.Done || c.Ended[0].Status != LogStopped {
		t.Errorf("after Close: %+v, want Done with status stopped", c)
	}
	waitCtx, stop := context.WithCancel(context.Background())
	stop()
	if _, err := s.Next(waitCtx); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
}

func BenchmarkLogRingAppend(b *testing.B) {
	r := NewLogRing(DefaultLogLines, DefaultMaxLineBytes)
	line := LogLine{Text: `2026-11-23T10:00:00Z INFO request served path=/api/orders status=200 duration=3ms`}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Append(line)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkLogRingAppendLongLine(b *testing.B) {
	r := NewLogRing(DefaultLogLines, DefaultMaxLineBytes)
	line := LogLine{Text: strings.Repeat("x", 64<<10)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Append(line)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkLogStreamRead measures the whole path from the bytes of a log
// to lines in the pending buffer: scanning, copying, locking.
func BenchmarkLogStreamRead(b *testing.B) {
	var buf strings.Builder
	const n = 10_000
	for i := range n {
		fmt.Fprintf(&buf, "2026-11-23T10:00:00Z INFO request %d served path=/api/orders status=200 duration=3ms\n", i)
	}
	data := buf.String()
	s := &LogStream{wake: make(chan struct{}, 1), pending: NewLogRing(DefaultLogLines, DefaultMaxLineBytes)}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		_ = scanLogLines(strings.NewReader(data), DefaultMaxLineBytes, func(raw []byte, discarded int) {
			s.push(LogLine{Text: truncateLine(string(raw), DefaultMaxLineBytes, discarded)})
		})
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "lines/s")
}
