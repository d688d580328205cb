package scale

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/themes"
	"github.com/kdoctor-dev/kdoctor/ui"
)

// childEnv carries a child's configuration (JSON). Without it,
// TestScaleChild is an ordinary test run and skips.
const childEnv = "KDOCTOR_SCALE_CHILD"

// Child modes.
const (
	modeKdoctor = "kdoctor"
	modeFloor   = "floor"
)

// Screen size of every measured kdoctor, a common full-screen terminal.
const screenW, screenH = 160, 48

// childConfig is what the parent asks a child process to measure.
type childConfig struct {
	Mode       string `json:"mode"`
	Kubeconfig string `json:"kubeconfig"`
	// ExpectPods is how many pods the cluster holds: the first full frame
	// is the first one written once the model holds them all.
	ExpectPods int `json:"expect_pods"`
	// Interactive kdoctor children go on after the cold start: they type
	// Queries into the filter, then report the pods on screen and let the
	// parent drive the event phase over stdin ("start", "stop").
	Interactive bool     `json:"interactive"`
	Queries     []string `json:"queries,omitempty"`
	// ViewIters is how many times View() is timed on the final model.
	ViewIters int `json:"view_iters"`
}

// childResult is what a child measured. Durations are nanoseconds.
type childResult struct {
	Mode      string        `json:"mode"`
	Pods      int           `json:"pods"`
	FirstRows time.Duration `json:"first_rows"`
	FullFrame time.Duration `json:"full_frame"`
	Synced    time.Duration `json:"synced"` // floor: informer HasSynced
	HeapBase  uint64        `json:"heap_base"`
	Heap      uint64        `json:"heap"`
	RSSBase   uint64        `json:"rss_base"`
	RSS       uint64        `json:"rss"`

	ViewTimes    []time.Duration `json:"view_times,omitempty"`
	Filter       []keystroke     `json:"filter,omitempty"`
	FilterMissed int             `json:"filter_missed"`
	Events       []podFrame      `json:"events,omitempty"`
	Window       *eventWindow    `json:"window,omitempty"`
}

type keystroke struct {
	Pos     int           `json:"pos"` // 1-based position in its query
	Latency time.Duration `json:"latency"`
	// Handled is when the Update for the key returned, from the send.
	Handled time.Duration `json:"handled"`
}

// podFrame is a tracked pod's restart count and when a frame showed it.
type podFrame struct {
	UID      types.UID `json:"uid"`
	Restarts int32     `json:"restarts"`
	// Unix nanoseconds, compared with the parent's clock: when the model
	// took the change in, and when the frame showing it was written.
	Updated int64 `json:"updated"`
	Written int64 `json:"written"`
}

// eventWindow is what the event phase cost the kdoctor process.
type eventWindow struct {
	Wall      time.Duration   `json:"wall"`
	CPU       time.Duration   `json:"cpu"`
	Views     int             `json:"views"`
	Writes    int             `json:"writes"`
	ViewTimes []time.Duration `json:"view_times"`
}

// childMsg is one line the child writes to the parent on fd 3.
type childMsg struct {
	Type    string        `json:"type"` // "ready" (interactive, before events), "result"
	Visible []visiblePod  `json:"visible,omitempty"`
	Result  *childResult  `json:"result,omitempty"`
	Error   string        `json:"error,omitempty"`
	Elapsed time.Duration `json:"elapsed,omitempty"`
}

type visiblePod struct {
	UID       types.UID `json:"uid"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Cause     string    `json:"cause"`
}

// TestScaleChild is the body of the child processes BenchmarkScale starts;
// run directly it skips.
func TestScaleChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("helper process of BenchmarkScale")
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	// client-go logs through klog; nothing may write to the parent's pipes
	// but the messages.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	if os.Getenv("KDOCTOR_SCALE_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 512 // every allocation site, for a per-pod account
	}
	out := json.NewEncoder(os.NewFile(3, "parent"))
	var res *childResult
	var err error
	switch cfg.Mode {
	case modeKdoctor:
		res, err = runKdoctor(cfg, out, bufio.NewScanner(os.Stdin))
	case modeFloor:
		res, err = runFloor(cfg)
	default:
		err = fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	msg := childMsg{Type: "result", Result: res}
	if err != nil {
		msg.Error = err.Error()
	}
	if err := out.Encode(msg); err != nil {
		t.Fatal(err)
	}
}

// heapAfterGC is the live heap: two collections, so objects freed by
// finalizers in the first are gone too.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// writeHeapProfile saves a heap profile after sync when
// KDOCTOR_SCALE_HEAPPROFILE names a directory, to see where the bytes per
// pod go (go tool pprof -sample_index=inuse_space).
func writeHeapProfile(cfg childConfig) error {
	dir := os.Getenv("KDOCTOR_SCALE_HEAPPROFILE")
	if dir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.heap", cfg.Mode, cfg.ExpectPods)))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// startCPUProfile profiles the cold start when KDOCTOR_SCALE_CPUPROFILE
// names a directory; the returned function stops it (and is safe to call
// twice).
func startCPUProfile(cfg childConfig) (func(), error) {
	dir := os.Getenv("KDOCTOR_SCALE_CPUPROFILE")
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.cpu", cfg.Mode, cfg.ExpectPods)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

func rss() uint64 {
	n, _ := RSS()
	return n
}

// runFloor syncs a bare pod informer the way any client-go program would
// (protobuf, the default WatchList streaming): the least any client must
// spend to hold every pod.
func runFloor(cfg childConfig) (*childResult, error) {
	res := &childResult{Mode: modeFloor, HeapBase: heapAfterGC(), RSSBase: rss()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopProfile, err := startCPUProfile(cfg)
	if err != nil {
		return nil, err
	}
	defer stopProfile()

	start := time.Now()
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.QPS, rc.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().Pods().Informer()
	f.Start(ctx.Done())
	// cache.WaitForCacheSync polls every 100 ms, which would round the
	// floor up; poll every millisecond instead.
	for !inf.HasSynced() {
		time.Sleep(time.Millisecond)
	}
	res.Synced = time.Since(start)
	res.Pods = len(inf.GetStore().ListKeys())
	res.Heap, res.RSS = heapAfterGC(), rss()
	if err := writeHeapProfile(cfg); err != nil {
		return nil, err
	}
	runtime.KeepAlive(inf)
	return res, nil
}

// runKdoctor launches kdoctor as `kdoctor tui -A` does (Connect, the
// preflight LIST, the root model in a real bubbletea program) and times the
// frames that show the first pods and then all of them. Interactive runs
// then measure the filter and the event phase.
func runKdoctor(cfg childConfig, out *json.Encoder, in *bufio.Scanner) (*childResult, error) {
	// The recorder is the harness's, not kdoctor's: allocate it before the
	// baseline.
	rec := NewRecorder(cfg.ExpectPods)
	res := &childResult{Mode: modeKdoctor, HeapBase: heapAfterGC(), RSSBase: rss()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopProfile, err := startCPUProfile(cfg)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &cfg.Kubeconfig
	cluster, err := kube.Connect(flags, kube.ConnectOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := cluster.Client().CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	m := ui.New(ui.Options{Ctx: ctx, Source: cluster, Styles: themes.Default(true), ThemeFixed: true})
	p := tea.NewProgram(NewProbe(m, rec),
		tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(rec), tea.WithWindowSize(screenW, screenH),
		tea.WithoutSignals(),
		// A true-colour terminal, so frames carry the escape sequences a
		// user's terminal gets (the output is not a TTY).
		tea.WithEnvironment([]string{"TERM=xterm-256color", "COLORTERM=truecolor", "CLICOLOR_FORCE=1"}))
	done := make(chan tea.Model, 1)
	go func() {
		final, _ := p.Run()
		done <- final
	}()
	stop := func() ui.Model {
		p.Quit()
		final := <-done
		pr, _ := final.(Probe)
		pr.Model.Stop()
		return pr.Model
	}

	// Cold start.
	for res.FullFrame == 0 {
		select {
		case mk := <-rec.Marks():
			switch mk.Kind {
			case MarkFirstRows:
				res.FirstRows = mk.Written.Sub(start)
			case MarkAllPods:
				res.FullFrame = mk.Written.Sub(start)
			}
		case <-time.After(10 * time.Minute):
			stop()
			return nil, errors.New("no full frame after 10 minutes")
		}
	}

	stopProfile()

	// Memory once the watch is live and sync buffers are released.
	for !inspect(p, func(m ui.Model) bool { return m.Live() }) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	res.Heap, res.RSS = heapAfterGC(), rss()
	res.Pods = inspectInt(p, func(m ui.Model) int { return m.PodCount() })
	if err := writeHeapProfile(cfg); err != nil {
		stop()
		return nil, err
	}

	if cfg.Interactive {
		typeQueries(p, rec, cfg.Queries, res)
		if err := eventPhase(p, rec, out, in, res); err != nil {
			stop()
			return nil, err
		}
	}

	final := stop()
	for range cfg.ViewIters {
		t := time.Now()
		_ = final.View()
		res.ViewTimes = append(res.ViewTimes, time.Since(t))
	}
	return res, nil
}

func inspect(p *tea.Program, f func(ui.Model) bool) bool {
	var v bool
	Inspect(p, func(m ui.Model) { v = f(m) })
	return v
}

func inspectInt(p *tea.Program, f func(ui.Model) int) int {
	var v int
	Inspect(p, func(m ui.Model) { v = f(m) })
	return v
}

// key is a key press as the terminal would deliver it.
func key(s string) tea.KeyPressMsg {
	if s == "esc" {
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// pressKey sends a key and waits for the frame showing its effect.
func pressKey(p *tea.Program, rec *Recorder, k tea.KeyPressMsg) (keystroke, bool) {
	start := time.Now()
	p.Send(k)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case mk := <-rec.Marks():
			if mk.Kind == MarkKey {
				return keystroke{Latency: mk.Written.Sub(start), Handled: mk.Updated.Sub(start)}, true
			}
		case <-timeout:
			return keystroke{}, false
		}
	}
}

// typeQueries opens the filter, types each query one character at a time
// (waiting for each character's frame, then a short pause, as a fast typist
// would), and clears it with esc.
func typeQueries(p *tea.Program, rec *Recorder, queries []string, res *childResult) {
	for _, q := range queries {
		pressKey(p, rec, key("/"))
		for i, r := range q {
			k, ok := pressKey(p, rec, key(string(r)))
			if !ok {
				res.FilterMissed++
				continue
			}
			k.Pos = i + 1
			res.Filter = append(res.Filter, k)
			time.Sleep(30 * time.Millisecond)
		}
		pressKey(p, rec, key("esc"))
		time.Sleep(50 * time.Millisecond)
	}
}

// eventPhase reports the pods on screen, tracks their restart counts, and
// records every frame showing a new one while the parent patches pods,
// between its "start" and "stop" lines on stdin.
func eventPhase(p *tea.Program, rec *Recorder, out *json.Encoder, in *bufio.Scanner, res *childResult) error {
	var visible []live.PodRow
	Inspect(p, func(m ui.Model) { visible = m.VisiblePods() })
	tracked := map[types.UID]int32{}
	msg := childMsg{Type: "ready"}
	for _, r := range visible {
		tracked[r.UID] = r.Restarts
		msg.Visible = append(msg.Visible, visiblePod{UID: r.UID, Namespace: r.Namespace, Name: r.Name, Cause: r.Cause})
	}
	rec.Track(tracked)
	// Drop marks left over from the filter phase.
	for len(rec.Marks()) > 0 {
		<-rec.Marks()
	}
	if err := out.Encode(msg); err != nil {
		return err
	}
	if !in.Scan() || strings.TrimSpace(in.Text()) != "start" {
		return fmt.Errorf("expected start from the parent, got %q (%v)", in.Text(), in.Err())
	}
	rec.TimeViews(true)
	c0, cpu0, t0 := rec.Counters(), CPUTime(), time.Now()

	collected := make(chan []podFrame)
	quit := make(chan struct{})
	go func() {
		var frames []podFrame
		for {
			select {
			case mk := <-rec.Marks():
				if mk.Kind == MarkPod {
					frames = append(frames, podFrame{UID: mk.UID, Restarts: mk.Restarts, Updated: mk.Updated.UnixNano(), Written: mk.Written.UnixNano()})
				}
			case <-quit:
				collected <- frames
				return
			}
		}
	}()
	if !in.Scan() || strings.TrimSpace(in.Text()) != "stop" {
		close(quit)
		<-collected
		return fmt.Errorf("expected stop from the parent, got %q (%v)", in.Text(), in.Err())
	}
	c1, cpu1, wall := rec.Counters(), CPUTime(), time.Since(t0)
	rec.TimeViews(false)
	// Patches sent just before "stop" still reach the screen: let them.
	time.Sleep(500 * time.Millisecond)
	close(quit)
	res.Events = <-collected
	res.Window = &eventWindow{Wall: wall, CPU: cpu1 - cpu0, Views: c1.Views - c0.Views, Writes: c1.Writes - c0.Writes, ViewTimes: c1.ViewTimes}
	return nil
}
