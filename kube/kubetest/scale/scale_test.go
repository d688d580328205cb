package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// synthNS is the namespace of the synthetic pods.
const synthNS = "scale"

// scenarioName is the story the diagnosis is timed on: a CrashLoopBackOff
// whose explanation is in the previous container's log, so the live
// Gather reads logs --previous through the API server.
const scenarioName = "crashloop-exit-1"

// filterQueries are typed one character at a time: a pod name, causes and
// statuses the tree shows, a node name. Each is 8 characters.
var filterQueries = []string{"synth-12", "oomkille", "imagepul", "scale-no", "crashloo", "notready"}

// settings are the suite's knobs, read from the environment.
type settings struct {
	sizes         []int
	rounds        int
	eventRate     float64
	eventDuration time.Duration
	filterPasses  int
}

func readSettings(b *testing.B) settings {
	s := settings{rounds: 3, eventRate: 1000, eventDuration: 10 * time.Second, filterPasses: 2}
	sizes := os.Getenv("KDOCTOR_SCALE_PODS")
	if sizes == "" {
		sizes = "10000"
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("KDOCTOR_SCALE_PODS: %q is not a positive pod count", f)
		}
		s.sizes = append(s.sizes, n)
	}
	slices.Sort(s.sizes)
	s.sizes = slices.Compact(s.sizes)
	envInt := func(name string, into *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				b.Fatalf("%s: %q is not a positive integer", name, v)
			}
			*into = n
		}
	}
	envInt("KDOCTOR_SCALE_ROUNDS", &s.rounds)
	envInt("KDOCTOR_SCALE_FILTER_PASSES", &s.filterPasses)
	secs, rate := int(s.eventDuration/time.Second), int(s.eventRate)
	envInt("KDOCTOR_SCALE_EVENT_SECONDS", &secs)
	envInt("KDOCTOR_SCALE_EVENT_RATE", &rate)
	s.eventDuration, s.eventRate = time.Duration(secs)*time.Second, float64(rate)
	return s
}

// BenchmarkScale is the scale suite: cold start, memory, render cost,
// filter latency, event → frame latency and diagnosis latency against a
// real kube-apiserver, with a bare informer and kubectl measured in the same
// run. It prints the results as Markdown tables and writes them as JSON
// (OutputPath). Each sub-benchmark reports its figures as metrics too.
func BenchmarkScale(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the real API server (not in -short mode)")
	}
	set := readSettings(b)
	began := time.Now()
	fx := startFixture(b)
	res := &Results{Machine: DescribeMachine(), Started: began}
	res.Machine.Kubectl = fx.kubectlVersion

	// A memory-only point before any synthetic pod, so the per-pod slope
	// exists even when only one size is measured.
	base := fx.coldStart(b, 1, false)
	res.Sizes = append(res.Sizes, base)

	for _, n := range set.sizes {
		fx.grow(b, n)
		var sr SizeResult
		b.Run(fmt.Sprintf("pods=%d/cold-start", n), func(b *testing.B) {
			for range b.N {
				sr = fx.coldStart(b, set.rounds, true)
			}
			sr.Pods = n
			b.ReportMetric(sr.FirstUsefulMs, "first-useful-ms")
			b.ReportMetric(sr.FullFrameMs, "full-frame-ms")
			b.ReportMetric(sr.FloorMs, "floor-ms")
			b.ReportMetric(sr.KubectlMs, "kubectl-ms")
			b.ReportMetric(sr.RatioFloor(), "x-floor")
			b.ReportMetric(float64(sr.KdoctorHeap)/float64(n), "heap-B/pod")
			b.ReportMetric(sr.View.P50*1000, "view-µs")
		})
		if sr.Rounds > 0 {
			res.Sizes = append(res.Sizes, sr)
		}
	}
	res.Memory = memorySlope(res.Sizes)

	largest := set.sizes[len(set.sizes)-1]
	b.Run(fmt.Sprintf("pods=%d/filter+events", largest), func(b *testing.B) {
		for range b.N {
			res.Filter, res.Events = fx.interactive(b, largest, set)
		}
		b.ReportMetric(res.Filter.Latency.P99, "filter-p99-ms")
		b.ReportMetric(res.Events.Latency.P99, "event-p99-ms")
		b.ReportMetric(res.Events.CPUPercent, "cpu-%")
	})
	res.Diagnosis = fx.diagnosis(b)

	res.Duration = time.Since(began).Seconds()
	res.Targets = evaluate(res, largest)
	fmt.Println()
	res.WriteTable(os.Stdout)
	out := OutputPath()
	if err := res.WriteJSON(out); err != nil {
		b.Errorf("write results: %v", err)
	} else {
		fmt.Printf("results written to %s\n", out)
	}
}

// fixture is the API server and what the suite needs around it.
type fixture struct {
	srv            *kubetest.Server
	dir            string
	kubeconfig     string
	kubectl        string
	kubectlVersion string
	client         kubernetes.Interface
	scenario       *facts.Scenario
	synthetic      int
}

func startFixture(b *testing.B) *fixture {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := kubetest.Start(ctx, kubetest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	fx := &fixture{srv: srv, dir: b.TempDir()}
	fx.kubeconfig = filepath.Join(fx.dir, "kubeconfig")
	if err := srv.WriteKubeconfig(fx.kubeconfig, ""); err != nil {
		b.Fatal(err)
	}
	cfg := srv.RESTConfig()
	cfg.QPS, cfg.Burst = -1, 0
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if fx.client, err = kubernetes.NewForConfig(cfg); err != nil {
		b.Fatal(err)
	}

	root, err := kubetest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	if fx.scenario, err = facts.LoadScenario(filepath.Join(root, "testdata", "scenarios", scenarioName)); err != nil {
		b.Fatal(err)
	}
	if _, err := srv.ApplyScenario(ctx, fx.scenario); err != nil {
		b.Fatal(err)
	}

	fx.kubectl = os.Getenv("KDOCTOR_KUBECTL")
	if fx.kubectl == "" {
		fx.kubectl, _ = exec.LookPath("kubectl")
	}
	if fx.kubectl != "" {
		out, err := exec.Command(fx.kubectl, "version", "--client", "-o", "json").Output()
		var v struct {
			ClientVersion struct{ GitVersion string } `json:"clientVersion"`
		}
		if err == nil && json.Unmarshal(out, &v) == nil {
			fx.kubectlVersion = v.ClientVersion.GitVersion
		}
		// Fill kubectl's discovery cache, as on a user's machine: the
		// timed runs then measure listing pods, not discovery.
		if err := fx.kubectlCmd(ctx, "get", "namespaces").Run(); err != nil {
			b.Fatalf("kubectl get namespaces: %v", err)
		}
	} else {
		b.Log("kubectl not found (set KDOCTOR_KUBECTL): the kubectl comparison is skipped")
	}
	return fx
}

func (fx *fixture) kubectlCmd(ctx context.Context, args ...string) *exec.Cmd {
	args = append([]string{"--kubeconfig", fx.kubeconfig, "--cache-dir", filepath.Join(fx.dir, "kubectl-cache")}, args...)
	return exec.CommandContext(ctx, fx.kubectl, args...)
}

// grow creates synthetic pods up to n.
func (fx *fixture) grow(b *testing.B, n int) {
	if n <= fx.synthetic {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	start := time.Now()
	if err := fx.srv.CreateSyntheticPods(ctx, synthNS, n, 32); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d synthetic pods in %s", n-fx.synthetic, time.Since(start).Round(time.Second))
	fx.synthetic = n
}

// totalPods counts the pods of the cluster without listing them.
func (fx *fixture) totalPods(b *testing.B) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := fx.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	n := len(l.Items)
	if l.RemainingItemCount != nil {
		n += int(*l.RemainingItemCount)
	}
	return n
}

// coldStart measures kdoctor, the floor informer and (when timed) kubectl
// in rounds, rotating their order so that none always runs on a cache the
// previous one warmed. Each kdoctor and floor run is a fresh process.
func (fx *fixture) coldStart(b *testing.B, rounds int, timed bool) SizeResult {
	pods := fx.totalPods(b)
	sr := SizeResult{Pods: fx.synthetic, Rounds: rounds, Timed: timed}
	var full, useful, floor, kubectl []time.Duration
	var kHeap, kRSS, fHeap, fRSS []uint64
	var views []time.Duration
	order := []string{modeKdoctor, modeFloor, "kubectl"}
	for r := range rounds {
		for i := range order {
			switch what := order[(i+r)%len(order)]; what {
			case modeKdoctor:
				res := fx.runChild(b, childConfig{Mode: modeKdoctor, Kubeconfig: fx.kubeconfig, ExpectPods: pods, ViewIters: 200}, nil)
				full, useful = append(full, res.FullFrame), append(useful, res.FirstRows)
				kHeap, kRSS = append(kHeap, res.Heap-min(res.Heap, res.HeapBase)), append(kRSS, res.RSS)
				views = append(views, res.ViewTimes...)
			case modeFloor:
				res := fx.runChild(b, childConfig{Mode: modeFloor, Kubeconfig: fx.kubeconfig, ExpectPods: pods}, nil)
				if res.Pods != pods {
					b.Fatalf("floor informer holds %d pods, want %d", res.Pods, pods)
				}
				floor = append(floor, res.Synced)
				fHeap, fRSS = append(fHeap, res.Heap-min(res.Heap, res.HeapBase)), append(fRSS, res.RSS)
			case "kubectl":
				if timed && fx.kubectl != "" {
					kubectl = append(kubectl, fx.runKubectl(b, pods))
				}
			}
		}
	}
	sr.FullFrameMs, sr.FirstUsefulMs, sr.FloorMs = ms(Median(full)), ms(Median(useful)), ms(Median(floor))
	sr.FullFrameRounds, sr.FloorRounds, sr.KubectlRounds = msAll(full), msAll(floor), msAll(kubectl)
	if len(kubectl) > 0 {
		sr.KubectlMs = ms(Median(kubectl))
	}
	sr.KdoctorHeap, sr.KdoctorRSS, sr.FloorHeap, sr.FloorRSS = medianU(kHeap), medianU(kRSS), medianU(fHeap), medianU(fRSS)
	sr.View = Summarize(views)
	return sr
}

// runKubectl times `kubectl get pods -A` and checks it printed every pod.
func (fx *fixture) runKubectl(b *testing.B, pods int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var lines lineCounter
	var stderr bytes.Buffer
	cmd := fx.kubectlCmd(ctx, "get", "pods", "-A")
	cmd.Stdout, cmd.Stderr = &lines, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("kubectl get pods -A: %v\n%s", err, stderr.String())
	}
	d := time.Since(start)
	if got := int(lines) - 1; got != pods {
		b.Fatalf("kubectl printed %d pods, want %d", got, pods)
	}
	return d
}

type lineCounter int

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// runChild runs one measurement in a fresh process: this test binary again,
// running TestScaleChild with cfg. Messages come back on fd 3; onReady
// handles an interactive child's "ready" and may write to its stdin.
func (fx *fixture) runChild(b *testing.B, cfg childConfig, onReady func(childMsg, io.Writer)) *childResult {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	raw, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestScaleChild$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.ExtraFiles = []*os.File{pw}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pw.Close()
	var result *childMsg
	dec := json.NewDecoder(pr)
	for {
		var m childMsg
		if err := dec.Decode(&m); err != nil {
			break
		}
		switch m.Type {
		case "ready":
			if onReady != nil {
				onReady(m, stdin)
			}
		case "result":
			result = &m
		}
	}
	stdin.Close()
	waitErr := cmd.Wait()
	switch {
	case result == nil:
		b.Fatalf("%s child: no result (%v)\n%s", cfg.Mode, waitErr, output.String())
	case result.Error != "":
		b.Fatalf("%s child: %s\n%s", cfg.Mode, result.Error, output.String())
	}
	return result.Result
}

func msAll(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

func medianU(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func memorySlope(sizes []SizeResult) MemorySlope {
	var x, kh, kr, fh, fr []float64
	for _, s := range sizes {
		x = append(x, float64(s.Pods))
		kh, kr = append(kh, float64(s.KdoctorHeap)), append(kr, float64(s.KdoctorRSS))
		fh, fr = append(fh, float64(s.FloorHeap)), append(fr, float64(s.FloorRSS))
	}
	return MemorySlope{KdoctorHeap: Slope(x, kh), KdoctorRSS: Slope(x, kr), FloorHeap: Slope(x, fh), FloorRSS: Slope(x, fr)}
}

// interactive runs one kdoctor at n pods through the filter queries and
// then the event phase, with the patch generator in this process.
func (fx *fixture) interactive(b *testing.B, n int, set settings) (*FilterResult, *EventsResult) {
	var queries []string
	for range set.filterPasses {
		queries = append(queries, filterQueries...)
	}
	ev := &EventsResult{Pods: n, TargetRate: set.eventRate}
	var gen *genResult
	pids := ChildPIDs("kube-apiserver", "etcd")
	onReady := func(m childMsg, stdin io.Writer) {
		var tracked []visiblePod
		for _, p := range m.Visible {
			// Unschedulable pods have no container status to patch.
			if p.Namespace == synthNS && !strings.HasPrefix(p.Cause, "Unschedulable") {
				tracked = append(tracked, p)
			}
		}
		if len(tracked) == 0 {
			b.Fatalf("no synthetic pod on screen to track: %+v", m.Visible)
		}
		g := &patchGen{client: fx.client, ns: synthNS, pods: n, tracked: tracked, rate: set.eventRate, every: 20, workers: 32}
		api0, _ := ProcCPUTime(pids["kube-apiserver"])
		etcd0, _ := ProcCPUTime(pids["etcd"])
		self0 := CPUTime()
		busy0, total0, _ := MachineCPU()
		fmt.Fprintln(stdin, "start")
		gen = g.run(set.eventDuration)
		fmt.Fprintln(stdin, "stop")
		api1, _ := ProcCPUTime(pids["kube-apiserver"])
		etcd1, _ := ProcCPUTime(pids["etcd"])
		self1 := CPUTime()
		busy1, total1, _ := MachineCPU()
		pct := func(d time.Duration) float64 { return 100 * d.Seconds() / gen.wall.Seconds() }
		ev.APIServerCPU, ev.EtcdCPU, ev.HarnessCPU = pct(api1-api0), pct(etcd1-etcd0), pct(self1-self0)
		if total1 > total0 {
			ev.MachineBusy = float64(busy1-busy0) / float64(total1-total0) * float64(runtime.NumCPU())
		}
	}
	pods := fx.totalPods(b)
	res := fx.runChild(b, childConfig{Mode: modeKdoctor, Kubeconfig: fx.kubeconfig, ExpectPods: pods, Interactive: true,
		Queries: queries, ViewIters: 200}, onReady)

	fr := &FilterResult{Pods: n, Queries: queries, Missed: res.FilterMissed}
	var all, handled []time.Duration
	byPos := map[int][]time.Duration{}
	for _, k := range res.Filter {
		all, handled = append(all, k.Latency), append(handled, k.Handled)
		byPos[k.Pos] = append(byPos[k.Pos], k.Latency)
	}
	fr.Latency, fr.Handled = Summarize(all), Summarize(handled)
	for pos := 1; len(byPos[pos]) > 0; pos++ {
		fr.PerLength = append(fr.PerLength, Summarize(byPos[pos]))
	}

	if gen == nil || res.Window == nil {
		b.Fatal("the event phase did not run")
	}
	ev.Seconds = gen.wall.Seconds()
	ev.Rate = float64(gen.sent) / gen.wall.Seconds()
	ev.Errors = gen.errors
	ev.PatchCall = Summarize(gen.calls)
	ev.Tracked = len(gen.trackedAt)
	var lat, fromAck, inModel, renderWait []time.Duration
	for _, f := range res.Events {
		p, ok := gen.trackedAt[f.Restarts]
		if !ok {
			continue // an initial count, or a failed patch
		}
		lat = append(lat, max(0, time.Duration(f.Written-p.sent.UnixNano())))
		fromAck = append(fromAck, max(0, time.Duration(f.Written-p.acked.UnixNano())))
		inModel = append(inModel, max(0, time.Duration(f.Updated-p.sent.UnixNano())))
		renderWait = append(renderWait, max(0, time.Duration(f.Written-f.Updated)))
	}
	ev.Seen = len(lat)
	ev.Coalesced = ev.Tracked - ev.Seen
	ev.Latency, ev.FromAck, ev.InModel, ev.RenderWait = Summarize(lat), Summarize(fromAck), Summarize(inModel), Summarize(renderWait)
	w := res.Window
	ev.CPUPercent = 100 * w.CPU.Seconds() / w.Wall.Seconds()
	ev.ViewsPerSec = float64(w.Views) / w.Wall.Seconds()
	ev.FramesPerSec = float64(w.Writes) / w.Wall.Seconds()
	ev.View = Summarize(w.ViewTimes)
	return fr, ev
}

// diagnosis times one live diagnosis (Gather, including logs --previous,
// then Diagnose) through kdoctor's own client, and the offline one from the
// scenario's files.
func (fx *fixture) diagnosis(b *testing.B) *DiagnosisResult {
	sc := fx.scenario
	d := &DiagnosisResult{Target: sc.Target.Path(), Rule: sc.Rule}
	flags := genericFlags(fx.kubeconfig)
	cluster, err := kube.Connect(flags, kube.ConnectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var live, offline []time.Duration
	b.Run("diagnosis/live", func(b *testing.B) {
		live = live[:0]
		for b.Loop() {
			start := time.Now()
			got := liveDiagnosis(b, cluster, sc)
			live = append(live, time.Since(start))
			if got != sc.Rule {
				b.Fatalf("live root cause %s, want %s", got, sc.Rule)
			}
		}
	})
	b.Run("diagnosis/offline", func(b *testing.B) {
		offline = offline[:0]
		for b.Loop() {
			start := time.Now()
			got := offlineDiagnosis(b, sc)
			offline = append(offline, time.Since(start))
			if got != sc.Rule {
				b.Fatalf("offline root cause %s, want %s", got, sc.Rule)
			}
		}
	})
	d.Live, d.Offline = Summarize(live), Summarize(offline)
	return d
}

// evaluate checks the targets of issue 6 against the results.
func evaluate(r *Results, largest int) []Target {
	var out []Target
	add := func(name, goal, measured string, met bool) {
		out = append(out, Target{Name: name, Goal: goal, Measured: measured, Met: met})
	}
	var worstUseful float64
	for _, s := range r.Sizes {
		if !s.Timed {
			continue
		}
		worstUseful = max(worstUseful, s.FirstUsefulMs)
		switch s.Pods {
		case 10_000:
			add("first full frame, 10k pods", "≤ 1.3× floor informer", fmt.Sprintf("%s vs floor %s (%s)", msStr(s.FullFrameMs), msStr(s.FloorMs), times(s.RatioFloor())), s.RatioFloor() <= 1.3)
			if s.KubectlMs > 0 {
				add("first full frame, 10k pods", "faster than kubectl get pods -A", fmt.Sprintf("%s vs %s (%s)", msStr(s.FullFrameMs), msStr(s.KubectlMs), times(s.RatioKubectl())), s.FullFrameMs < s.KubectlMs)
			}
		case 100_000:
			add("first full frame, 100k pods", "< 5 s", msStr(s.FullFrameMs), s.FullFrameMs < 5000)
		}
		if s.Pods == largest {
			add(fmt.Sprintf("View(), %s pods", count(s.Pods)), "≤ 1 ms", fmt.Sprintf("p50 %s, p99 %s", msStr(s.View.P50), msStr(s.View.P99)), s.View.P99 <= 1)
		}
	}
	add("first useful frame, every size", "≤ 200 ms", "worst "+msStr(worstUseful), worstUseful <= 200)
	add("memory held per pod (heap slope)", "≤ 1 KB", fmt.Sprintf("%s (RSS slope %s)", perPod(r.Memory.KdoctorHeap), perPod(r.Memory.KdoctorRSS)), r.Memory.KdoctorHeap <= 1024)
	if f := r.Filter; f != nil {
		add(fmt.Sprintf("filter keystroke → frame, %s pods", count(f.Pods)), "p99 ≤ 30 ms", fmt.Sprintf("p99 %s", msStr(f.Latency.P99)), f.Latency.P99 <= 30 && f.Missed == 0)
	}
	if e := r.Events; e != nil {
		add(fmt.Sprintf("patch → frame, %s pods", count(e.Pods)), fmt.Sprintf("p99 ≤ 50 ms at %.0f updates/s", e.TargetRate),
			fmt.Sprintf("p99 %s at %.0f/s", msStr(e.Latency.P99), e.Rate), e.Latency.P99 <= 50 && e.Rate >= 0.95*e.TargetRate)
		add("kdoctor CPU during the event phase", "< 25% of one core", fmt.Sprintf("%.1f%%", e.CPUPercent), e.CPUPercent < 25)
	}
	return out
}
