package scale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// patchGen patches pod statuses at a steady rate, as kubelets reporting
// restarts and probe flips would: most patches hit pods anywhere in the
// cluster (the tree must take them in without the screen changing), and
// one in every `every` hits a pod on screen, whose frame is timed.
//
// Each patch sets the first container's restartCount to a number used
// once (trackedBase + sequence), so a frame showing it can be traced back
// to the patch that caused it. JSON patch, because containerStatuses is an
// atomic list that a strategic merge patch would replace whole.
type patchGen struct {
	client  kubernetes.Interface
	ns      string
	pods    int // synthetic pods synth-00000 … synth-<pods-1>
	tracked []visiblePod
	rate    float64
	every   int
	workers int
}

// genResult is what the generator did.
type genResult struct {
	wall      time.Duration
	sent      int
	errors    int
	calls     []time.Duration
	trackedAt map[int32]patchTimes // restart count → its patch
}

// patchTimes is when a patch was sent and when the API server answered.
type patchTimes struct{ sent, acked time.Time }

// trackedBase keeps generated restart counts apart from the synthetic ones.
const trackedBase = 1_000_000

// run patches for d, pacing patch i to start at i/rate; workers that fall
// behind send at once, so the achieved rate shows what the server accepts.
func (g *patchGen) run(d time.Duration) *genResult {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	res := &genResult{trackedAt: map[int32]patchTimes{}}
	period := time.Duration(float64(time.Second) / g.rate)
	total := int64(d / period)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range g.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var calls []time.Duration
			sent, errs := 0, 0
			for {
				i := next.Add(1) - 1
				if i >= total {
					break
				}
				if wait := time.Until(start.Add(time.Duration(i) * period)); wait > 0 {
					time.Sleep(wait)
				}
				restarts := int32(trackedBase + i)
				name, isTracked := g.target(int(i))
				body := fmt.Appendf(nil, `[{"op":"replace","path":"/status/containerStatuses/0/restartCount","value":%d}]`, restarts)
				t := time.Now()
				_, err := g.client.CoreV1().Pods(g.ns).Patch(ctx, name, types.JSONPatchType, body, metav1.PatchOptions{}, "status")
				acked := time.Now()
				calls = append(calls, acked.Sub(t))
				if err != nil {
					errs++
					continue
				}
				sent++
				if isTracked {
					mu.Lock()
					res.trackedAt[restarts] = patchTimes{sent: t, acked: acked}
					mu.Unlock()
				}
			}
			mu.Lock()
			res.calls = append(res.calls, calls...)
			res.sent += sent
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res
}

// target picks the pod of patch i.
func (g *patchGen) target(i int) (name string, tracked bool) {
	if i%g.every == 0 {
		return g.tracked[(i/g.every)%len(g.tracked)].Name, true
	}
	for {
		n := rand.IntN(g.pods)
		// The last 3 of every 100 are unschedulable (no container status),
		// and a tracked pod patched here would hide a tracked patch.
		if name := fmt.Sprintf("synth-%05d", n); n%100 < 97 && !g.isTracked(name) {
			return name, false
		}
	}
}

func (g *patchGen) isTracked(name string) bool {
	for _, p := range g.tracked {
		if p.Name == name {
			return true
		}
	}
	return false
}
