package scale

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Results is everything one run of the scale suite measured; it is written
// as JSON (see OutputPath) and printed as the tables of docs/performance.md.
type Results struct {
	Machine  Machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration_s"`
	// Sizes are the cold-start and memory figures per cluster size; the
	// first may be a memory-only baseline with no synthetic pods.
	Sizes []SizeResult `json:"sizes"`
	// Memory is bytes held per pod: the slope over Sizes.
	Memory    MemorySlope      `json:"memory_per_pod"`
	Filter    *FilterResult    `json:"filter,omitempty"`
	Events    *EventsResult    `json:"events,omitempty"`
	Diagnosis *DiagnosisResult `json:"diagnosis,omitempty"`
	Targets   []Target         `json:"targets"`
}

// Machine describes where the figures were taken: they mean little without it.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model"`
	MemoryGiB float64 `json:"memory_gib"`
	Go        string  `json:"go"`
	OS        string  `json:"os"`
	Kubectl   string  `json:"kubectl,omitempty"`
}

// SizeResult holds the measurements at one cluster size; times are medians
// over the rounds, each round running kdoctor, the floor informer and
// kubectl back to back in a rotating order.
type SizeResult struct {
	Pods   int  `json:"pods"`
	Rounds int  `json:"rounds"`
	Timed  bool `json:"timed"` // false for the memory-only baseline

	FirstUsefulMs float64 `json:"first_useful_frame_ms"`
	FullFrameMs   float64 `json:"first_full_frame_ms"`
	FloorMs       float64 `json:"floor_sync_ms"`
	KubectlMs     float64 `json:"kubectl_ms,omitempty"`
	// Per-round raw times, to judge the spread.
	FullFrameRounds []float64 `json:"first_full_frame_rounds_ms"`
	FloorRounds     []float64 `json:"floor_sync_rounds_ms"`
	KubectlRounds   []float64 `json:"kubectl_rounds_ms,omitempty"`

	// Heap is the live Go heap after GC minus the process's heap before
	// it connected; RSS is the resident set after sync (both medians).
	KdoctorHeap uint64 `json:"kdoctor_heap_bytes"`
	KdoctorRSS  uint64 `json:"kdoctor_rss_bytes"`
	FloorHeap   uint64 `json:"floor_heap_bytes"`
	FloorRSS    uint64 `json:"floor_rss_bytes"`

	// View is the root model's View() with N pods, timed in isolation.
	View Latency `json:"view"`
}

// RatioFloor is kdoctor's first full frame over the floor's sync.
func (s SizeResult) RatioFloor() float64 { return ratio(s.FullFrameMs, s.FloorMs) }

// RatioKubectl is kdoctor's first full frame over kubectl's wall time.
func (s SizeResult) RatioKubectl() float64 { return ratio(s.FullFrameMs, s.KubectlMs) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// MemorySlope is bytes per pod, the slope of memory over cluster size.
type MemorySlope struct {
	KdoctorHeap float64 `json:"kdoctor_heap"`
	KdoctorRSS  float64 `json:"kdoctor_rss"`
	FloorHeap   float64 `json:"floor_heap"`
	FloorRSS    float64 `json:"floor_rss"`
}

// FilterResult is keystroke → frame latency while typing filter queries.
type FilterResult struct {
	Pods    int      `json:"pods"`
	Queries []string `json:"queries"`
	// Latency is key press → frame written; Handled is key press → the
	// model's Update returned (the rest is the renderer's frame tick and
	// its diff of the screen).
	Latency Latency `json:"latency"`
	Handled Latency `json:"handled"`
	// PerLength[i] is the latency of the (i+1)-th character of a query.
	PerLength []Latency `json:"per_length"`
	Missed    int       `json:"missed"`
}

// EventsResult is patch → frame latency while a generator patches pod
// statuses, and what it cost kdoctor.
type EventsResult struct {
	Pods       int     `json:"pods"`
	Seconds    float64 `json:"seconds"`
	TargetRate float64 `json:"target_rate"`
	// Rate is the patches per second the API server actually accepted.
	Rate      float64 `json:"achieved_rate"`
	Errors    int     `json:"errors"`
	PatchCall Latency `json:"patch_call"`
	Latency   Latency `json:"latency"`
	// Latency is patch sent → frame written. FromAck starts when the API
	// server answered the patch instead (the watch event can arrive before
	// the answer: then it is counted as 0); InModel ends when the model had
	// the change; RenderWait is from there to the frame.
	FromAck    Latency `json:"from_ack"`
	InModel    Latency `json:"in_model"`
	RenderWait Latency `json:"render_wait"`
	Tracked    int     `json:"tracked_patches"`
	Seen       int     `json:"tracked_seen"`
	Coalesced  int     `json:"tracked_coalesced"`
	CPUPercent float64 `json:"kdoctor_cpu_percent"`
	// Server and harness CPU, in percent of one core, to tell whether the
	// API server (with etcd) was the bottleneck.
	APIServerCPU float64 `json:"apiserver_cpu_percent"`
	EtcdCPU      float64 `json:"etcd_cpu_percent"`
	HarnessCPU   float64 `json:"harness_cpu_percent"`
	// MachineBusy is how many of the machine's cores were busy, whoever
	// used them (other jobs share the machine).
	MachineBusy  float64 `json:"machine_busy_cores"`
	ViewsPerSec  float64 `json:"views_per_s"`
	FramesPerSec float64 `json:"frames_per_s"`
	View         Latency `json:"view"`
}

// DiagnosisResult is the time to a diagnosis of one pod.
type DiagnosisResult struct {
	Target  string  `json:"target"`
	Rule    string  `json:"root_cause"`
	Live    Latency `json:"live"`
	Offline Latency `json:"offline"`
}

// Target is one goal of issue 6 and whether this run met it.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// OutputPath is where the JSON goes: $KDOCTOR_BENCH_OUT, else the temp dir
// (never the repository tree, so runs leave no stray files to commit).
func OutputPath() string {
	if p := os.Getenv("KDOCTOR_BENCH_OUT"); p != "" {
		return p
	}
	return filepath.Join(os.TempDir(), "kdoctor-scale", "bench-results.json")
}

// WriteJSON writes r, indented, creating the directory.
func (r *Results) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// DescribeMachine reads what the report needs to say about the machine.
func DescribeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %f kB", &kb); err == nil {
			m.MemoryGiB = math.Round(kb/(1<<20)*10) / 10
		}
	}
	return m
}

// WriteTable prints the results as the Markdown tables docs/performance.md
// shows.
func (r *Results) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %.1f GiB, %s %s; kubectl %s\n\n", m.CPUs, m.CPUModel, m.MemoryGiB, m.Go, m.OS, orNA(m.Kubectl))

	fmt.Fprintln(w, "| pods | first useful frame | first full frame | floor informer | kubectl get pods -A | kdoctor/floor | kdoctor/kubectl | View() p50 / p99 |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.Sizes {
		if !s.Timed {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", count(s.Pods), msStr(s.FirstUsefulMs), msStr(s.FullFrameMs),
			msStr(s.FloorMs), msStr(s.KubectlMs), times(s.RatioFloor()), times(s.RatioKubectl()), msStr(s.View.P50), msStr(s.View.P99))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| pods | kdoctor heap | kdoctor RSS | floor heap (typed pods) | floor RSS |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
	for _, s := range r.Sizes {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", count(s.Pods), mib(s.KdoctorHeap), mib(s.KdoctorRSS), mib(s.FloorHeap), mib(s.FloorRSS))
	}
	mem := r.Memory
	fmt.Fprintf(w, "| **per pod (slope)** | **%s** | **%s** | **%s** | **%s** |\n\n", perPod(mem.KdoctorHeap), perPod(mem.KdoctorRSS), perPod(mem.FloorHeap), perPod(mem.FloorRSS))

	if f := r.Filter; f != nil {
		fmt.Fprintf(w, "Filter at %s pods, keystroke → frame over %d keystrokes (%d queries typed one character at a time): p50 %s, p99 %s, max %s",
			count(f.Pods), f.Latency.N, len(f.Queries), msStr(f.Latency.P50), msStr(f.Latency.P99), msStr(f.Latency.Max))
		if len(f.PerLength) > 0 {
			fmt.Fprintf(w, "; first character p50 %s / p99 %s", msStr(f.PerLength[0].P50), msStr(f.PerLength[0].P99))
		}
		fmt.Fprintf(w, "; the model's Update returned after p50 %s / p99 %s", msStr(f.Handled.P50), msStr(f.Handled.P99))
		if f.Missed > 0 {
			fmt.Fprintf(w, "; %d keystrokes without a frame", f.Missed)
		}
		fmt.Fprint(w, ".\n\n")
	}
	if e := r.Events; e != nil {
		fmt.Fprintf(w, "Events at %s pods for %.0f s: target %.0f patches/s, achieved %.0f/s (%d errors, patch call p50 %s / p99 %s).\n",
			count(e.Pods), e.Seconds, e.TargetRate, e.Rate, e.Errors, msStr(e.PatchCall.P50), msStr(e.PatchCall.P99))
		fmt.Fprintf(w, "Patch → frame (%d of %d tracked on-screen patches seen, %d coalesced): p50 %s, p90 %s, p99 %s, max %s; from the API server's answer p50 %s / p99 %s; patch → in the model p50 %s / p99 %s; model → frame p50 %s / p99 %s.\n",
			e.Seen, e.Tracked, e.Coalesced, msStr(e.Latency.P50), msStr(e.Latency.P90), msStr(e.Latency.P99), msStr(e.Latency.Max),
			ackStr(e.FromAck.P50), ackStr(e.FromAck.P99), msStr(e.InModel.P50), msStr(e.InModel.P99), msStr(e.RenderWait.P50), msStr(e.RenderWait.P99))
		fmt.Fprintf(w, "CPU (%% of one core): kdoctor %.1f, kube-apiserver %.1f, etcd %.1f, harness (generator + fake kubelet) %.1f; machine busy %.2f of %d cores. View() %.0f/s, frames %.0f/s, View() p50 %s / p99 %s.\n\n",
			e.CPUPercent, e.APIServerCPU, e.EtcdCPU, e.HarnessCPU, e.MachineBusy, r.Machine.CPUs, e.ViewsPerSec, e.FramesPerSec, msStr(e.View.P50), msStr(e.View.P99))
	}
	if d := r.Diagnosis; d != nil {
		fmt.Fprintf(w, "Diagnosis of %s (root cause %s): live Gather+Diagnose p50 %s / p99 %s (n=%d); offline LoadDump+BuildFacts+Diagnose p50 %s / p99 %s (n=%d).\n\n",
			d.Target, d.Rule, msStr(d.Live.P50), msStr(d.Live.P99), d.Live.N, msStr(d.Offline.P50), msStr(d.Offline.P99), d.Offline.N)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "| target | goal | measured | met |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, t := range r.Targets {
			met := "yes"
			if !t.Met {
				met = "**no**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Measured, met)
		}
		fmt.Fprintln(w)
	}
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func msStr(v float64) string {
	switch {
	case v == 0 || math.IsNaN(v):
		return "n/a"
	case v < 1:
		return fmt.Sprintf("%.2f ms", v)
	case v < 10_000:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f s", v/1000)
}

// ackStr is a latency counted from the patch call's answer: the watch
// event often reaches the screen before the answer reaches the generator.
func ackStr(v float64) string {
	if v == 0 {
		return "0 ms (frame before the answer)"
	}
	return msStr(v)
}

func times(v float64) string {
	if math.IsNaN(v) || v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", v)
}

func mib(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func perPod(v float64) string {
	if math.IsNaN(v) || v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f B", v)
}

// count prints 100000 as 100,000.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
