package action

import (
	"context"
	"sync"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestRunDrainSendsTheGracePeriod: the dialog's grace period reaches each
// eviction as kubectl's --grace-period does: absent for the pods' own,
// 0 for GraceNow, whole seconds (rounded up) otherwise.
func TestRunDrainSendsTheGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts DrainOptions
		want int64 // -1: no grace period sent
	}{
		{"pods' own", DrainOptions{}, -1},
		{"now", DrainOptions{GraceNow: true, GracePeriod: 30 * time.Second}, 0},
		{"30s", DrainOptions{GracePeriod: 30 * time.Second}, 30},
		{"1.5s", DrainOptions{GracePeriod: 1500 * time.Millisecond}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := evictingClientset(drainFixture()...)
			var mu sync.Mutex
			got := map[string]int64{}
			client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() == "eviction" {
					ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
					g := int64(-1)
					if ev.DeleteOptions != nil && ev.DeleteOptions.GracePeriodSeconds != nil {
						g = *ev.DeleteOptions.GracePeriodSeconds
					}
					mu.Lock()
					got[ev.Name] = g
					mu.Unlock()
				}
				return false, nil, nil // on to the reactor that evicts
			})
			opts := tc.opts
			opts.DeleteEmptyDir, opts.Force, opts.Timeout = true, true, 20*time.Second
			plan, err := PlanDrain(context.Background(), client, "n1", opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := RunDrain(context.Background(), client, plan, opts, nil); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(plan.Evict) {
				t.Fatalf("%d evictions for %d pods: %v", len(got), len(plan.Evict), got)
			}
			for pod, g := range got {
				if g != tc.want {
					t.Errorf("eviction of %s: grace period %d, want %d", pod, g, tc.want)
				}
			}
		})
	}
}
