package diag

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// nearLimit is the share of a limit from which usage counts as at the
// limit: metrics.k8s.io averages over its window (15s by default), so a
// container averaging 90% of a limit spends whole periods at it.
const nearLimit = 0.9

// rankUsage puts usage after everything that already failed: it explains a
// crash (as a refinement) or warns of one to come.
const rankUsage = 56

// usageRules read metrics.k8s.io (Facts.Usage): only when the pod's sample
// was found, so a cluster without metrics-server is diagnosed as before.
var usageRules = []*rule{
	{
		ID: "usage.memory-near-limit", Severity: Warning, Step: StepDescribe, Rank: rankUsage,
		Match:   usageMatcher(corev1.ResourceMemory),
		Summary: "Container {{.Container}} uses {{.Percent}} of its memory limit ({{.Used}} of {{.Limit}}): a little more and it is OOMKilled",
		Explanation: "Memory is not throttled: the moment a container's memory crosses its limit the kernel's OOM " +
			"killer ends it (reason OOMKilled, exit code 137) and the kubelet restarts it. metrics.k8s.io reports " +
			"the working set, the memory the kernel cannot simply drop, so at {{.Percent}} a burst of traffic, a " +
			"cache filling up or a garbage-collection cycle is enough. {{.Detail}}",
		NextSteps: []string{
			"Watch the container's memory for a few minutes (kubectl top pod --containers, or your monitoring) to see whether it is steady or climbing.",
			"Raise the memory limit above the peak with headroom, and the request with it; if it only climbs, look for a leak.",
			"For a JVM, size the heap from the limit (-XX:MaxRAMPercentage=75) instead of a fixed -Xmx.",
		},
		Commands: []string{
			"kubectl top pod -n {{.Namespace}} {{.Pod}} --containers",
			"kubectl get pod -n {{.Namespace}} {{.Pod}} -o jsonpath='{.spec.containers[?(@.name==\"{{.Container}}\")].resources}'",
		},
	},
	{
		ID: "usage.cpu-at-limit", Severity: Warning, Step: StepDescribe, Rank: rankUsage,
		Match:   usageMatcher(corev1.ResourceCPU),
		Summary: "Container {{.Container}} runs at {{.Percent}} of its CPU limit ({{.Used}} of {{.Limit}}): the kernel is throttling it",
		Explanation: "A CPU limit is a CFS quota: in every 100ms period the container may run for its limit's share " +
			"of it, then it is paused until the next period. An average this close to the limit means it hits the " +
			"quota in most periods, so requests wait, latency grows, and health probes with short timeouts fail " +
			"and can get it restarted. Averages hide bursts: throttling starts well before 100%. {{.Detail}}",
		NextSteps: []string{
			"Confirm the throttling: nr_throttled in the container's cpu.stat, or container_cpu_cfs_throttled_periods_total against container_cpu_cfs_periods_total in your monitoring.",
			"Raise the CPU limit or remove it (keep the request, which is what scheduling and fair sharing use).",
			"Or make the app fit: fewer threads than the limit allows (GOMAXPROCS, -XX:ActiveProcessorCount), less work per request.",
		},
		Commands: []string{
			"kubectl top pod -n {{.Namespace}} {{.Pod}} --containers",
			"kubectl exec -n {{.Namespace}} {{.Pod}} -c {{.Container}} -- cat /sys/fs/cgroup/cpu.stat",
		},
	},
}

// usageMatcher finds the containers whose usage of res is at nearLimit of
// their limit or more.
func usageMatcher(res corev1.ResourceName) func(w *walk) []hit {
	return func(w *walk) []hit {
		pm := w.usage()
		if pm == nil {
			return nil
		}
		var hits []hit
		for _, c := range w.mainContainers() {
			if c.Spec == nil || c.Status == nil || c.Status.State.Running == nil {
				continue
			}
			limit, ok := c.Spec.Resources.Limits[res]
			used, sampled := containerUsage(pm, c.Name, res)
			if !ok || limit.IsZero() || !sampled {
				continue
			}
			share := float64(used.MilliValue()) / float64(limit.MilliValue())
			if share < nearLimit {
				continue
			}
			h := hit{Container: c.Name, Vars: map[string]string{
				"Used": formatUsage(res, used), "Limit": formatLimit(res, limit), "Percent": percent(share),
			}}
			what := "memory"
			if res == corev1.ResourceCPU {
				what = "CPU"
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("metrics.k8s.io: container %s uses %s %s, %s of its limit (%s), sampled %s over %s",
				c.Name, h.Vars["Used"], what, h.Vars["Percent"], h.Vars["Limit"], w.age(pm.Timestamp.Time), pm.Window.Duration))
			h.Vars["Detail"] = ""
			switch res {
			case corev1.ResourceMemory:
				if t, _ := c.lastTermination(); t != nil && t.Reason == "OOMKilled" {
					// It died this way before: this explains the crash finding.
					h.Refines = c.Name
					h.Vars["Detail"] = "It was OOMKilled before and is back near the limit: it will be killed again."
				}
			case corev1.ResourceCPU:
				if probes := w.probeTimeouts(c.Name); len(probes) > 0 {
					h.Refines = c.Name
					h.Evidence = append(h.Evidence, w.formatEvents(probes)...)
					h.Vars["Detail"] = "Its probes are timing out (see evidence): throttling is a likely reason."
				}
			}
			hits = append(hits, h)
		}
		return hits
	}
}

// usage is the pod's metrics.k8s.io sample, or nil.
func (w *walk) usage() *metricsv1beta1.PodMetrics {
	if w.pod == nil || w.f.Usage.State != Found || w.f.Usage.Object == nil || w.f.Usage.Object.Name != w.pod.Name {
		return nil
	}
	return w.f.Usage.Object
}

func containerUsage(pm *metricsv1beta1.PodMetrics, container string, res corev1.ResourceName) (resource.Quantity, bool) {
	for _, c := range pm.Containers {
		if c.Name == container {
			q, ok := c.Usage[res]
			return q, ok
		}
	}
	return resource.Quantity{}, false
}

// formatUsage prints usage as kubectl top does: millicores, and Mi.
func formatUsage(res corev1.ResourceName, q resource.Quantity) string {
	if res == corev1.ResourceCPU {
		return fmt.Sprintf("%dm", q.MilliValue())
	}
	return fmt.Sprintf("%dMi", q.Value()/(1<<20))
}

// formatLimit prints a limit as manifests write it, CPU in cores or
// millicores ("1 CPU", "500m").
func formatLimit(res corev1.ResourceName, q resource.Quantity) string {
	if res == corev1.ResourceCPU {
		if m := q.MilliValue(); m%1000 == 0 {
			if m == 1000 {
				return "1 CPU"
			}
			return fmt.Sprintf("%d CPUs", m/1000)
		}
		return fmt.Sprintf("%dm", q.MilliValue())
	}
	return q.String()
}

// percent rounds down: 99.6% of a limit is not 100%.
func percent(share float64) string { return fmt.Sprintf("%d%%", int(share*100)) }

// probeTimeouts are the container's recent Unhealthy events that report a
// probe running out of time, in the kubelet's words: an HTTP probe's
// "context deadline exceeded (Client.Timeout exceeded while awaiting
// headers)", an exec probe's "command timed out", a TCP probe's "i/o timeout".
func (w *walk) probeTimeouts(container string) []event {
	var out []event
	for _, e := range w.containerEvents(container, "Unhealthy") {
		if w.recent(e.Last) && containsAny(strings.ToLower(e.Message), "deadline exceeded", "timed out", "timeout") {
			out = append(out, e)
		}
	}
	return out
}

// usageEvidence is the describe step's line for the pod's sample: what
// each container uses against its limit, as kubectl top --containers.
func (w *walk) usageEvidence() []string {
	pm := w.usage()
	if pm == nil {
		return nil
	}
	var parts []string
	for _, c := range w.mainContainers() {
		cpu, okc := containerUsage(pm, c.Name, corev1.ResourceCPU)
		mem, okm := containerUsage(pm, c.Name, corev1.ResourceMemory)
		if !okc && !okm {
			continue
		}
		part := c.Name
		if okc {
			part += " cpu " + formatUsage(corev1.ResourceCPU, cpu) + ofLimit(c, corev1.ResourceCPU, cpu)
		}
		if okm {
			part += " memory " + formatUsage(corev1.ResourceMemory, mem) + ofLimit(c, corev1.ResourceMemory, mem)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("usage (metrics.k8s.io, %s over %s): %s", w.age(pm.Timestamp.Time), pm.Window.Duration, strings.Join(parts, "; "))}
}

func ofLimit(c *container, res corev1.ResourceName, used resource.Quantity) string {
	if c.Spec == nil {
		return ""
	}
	limit, ok := c.Spec.Resources.Limits[res]
	if !ok || limit.IsZero() {
		return " (no limit)"
	}
	return fmt.Sprintf(" (%s of %s)", percent(float64(used.MilliValue())/float64(limit.MilliValue())), formatLimit(res, limit))
}
