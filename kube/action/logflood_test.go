package action_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// floodSource serves one endless log as fast as it can be read, until its
// deadline, counting every line it hands out.
type floodSource struct {
	reader *floodReader
}

func (s *floodSource) Client() kubernetes.Interface { return nil }
func (s *floodSource) Info() kube.SourceInfo        { return kube.SourceInfo{Context: "flood"} }
func (s *floodSource) PodLogs(context.Context, string, string, *corev1.PodLogOptions) (io.ReadCloser, error) {
	return s.reader, nil
}

// floodReader repeats block (linesPerBlock whole lines) until deadline; it
// stops only between blocks, so the lines served are exactly counted.
type floodReader struct {
	block         []byte
	linesPerBlock int64
	deadline      time.Time
	off           int
	blocks        int64
}

func (r *floodReader) Read(p []byte) (int, error) {
	if r.off == 0 && time.Now().After(r.deadline) {
		return 0, io.EOF
	}
	n := copy(p, r.block[r.off:])
	r.off += n
	if r.off == len(r.block) {
		r.off = 0
		r.blocks++
	}
	return n, nil
}

func (r *floodReader) Close() error { return nil }

// TestLogStreamFlood follows a log written far faster than a view reads it
// (one chunk a frame): the stream's memory stays flat, long lines are cut,
// and every line is either delivered or counted as skipped.
func TestLogStreamFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s flood (not in -short mode)")
	}
	const duration = 10 * time.Second
	var block strings.Builder
	lines := int64(0)
	for i := range 150 {
		fmt.Fprintf(&block, "2026-11-23T10:00:00.%06dZ INFO request served path=/api/v1/orders/%06d status=200 bytes=512 took=3ms %s\n",
			i, i, strings.Repeat("x", 80))
		lines++
	}
	block.WriteString(strings.Repeat("{\"minified\":\"json\"}", 2000) + "\n") // 38 KB: cut to the line cap
	lines++
	reader := &floodReader{block: []byte(block.String()), linesPerBlock: lines}

	base := kubetest.HeapInUse()
	ctx := kubetest.Timeout(t, duration+30*time.Second)
	reader.deadline = time.Now().Add(duration)
	started := time.Now()
	s, err := action.OpenLogs(ctx, &floodSource{reader}, "ns", "pod", action.LogOptions{Container: "app", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var delivered, skipped int64
	var peak uint64
	longest := 0
	nextSample := time.Now().Add(time.Second)
	frame := time.NewTicker(live.FrameInterval)
	defer frame.Stop()
	for done := false; !done; {
		<-frame.C // a view reads once a frame
		c, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		delivered += int64(len(c.Lines))
		skipped += c.Skipped
		for _, l := range c.Lines {
			longest = max(longest, len(l.Text))
		}
		done = c.Done
		if time.Now().After(nextSample) {
			peak = max(peak, kubetest.HeapInUse())
			nextSample = time.Now().Add(time.Second)
		}
	}
	elapsed := time.Since(started)
	served := reader.blocks * reader.linesPerBlock
	rate := float64(reader.blocks) * float64(len(reader.block)) / elapsed.Seconds() / 1e6
	end := kubetest.HeapInUse()
	t.Logf("%d lines (%.0f MB/s) in %v: %d delivered, %d skipped; heap %s before, peak %s during, %s after",
		served, rate, elapsed.Round(time.Millisecond), delivered, skipped, kubetest.MiB(base), kubetest.MiB(peak), kubetest.MiB(end))
	if delivered+skipped != served {
		t.Errorf("%d delivered + %d skipped != %d served: lines lost silently", delivered, skipped, served)
	}
	if skipped == 0 {
		t.Error("a view reading once a frame kept up with a flood: the test is not flooding")
	}
	if longest > action.DefaultMaxLineBytes {
		t.Errorf("a %d-byte line got through the %d-byte cap", longest, action.DefaultMaxLineBytes)
	}
	// Sampled under a multi-GB/s allocation rate the live heap is noisy;
	// unbounded, it would be gigabytes.
	if peak > base+64<<20 {
		t.Errorf("heap peaked at %s (from %s): the stream's memory is not bounded", kubetest.MiB(peak), kubetest.MiB(base))
	}
}
