package diag

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// age renders how long ago t was, kubectl style ("5m", "2d3h").
func (w *walk) age(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	d := w.now.Sub(t)
	if d < 0 {
		return "in " + duration.HumanDuration(-d)
	}
	return duration.HumanDuration(d) + " ago"
}

// oneLine keeps an API message on one evidence line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

// formatEvent renders an event the way kubectl describe lists it: type,
// reason, age, repetitions and the message verbatim.
func (w *walk) formatEvent(e event) string {
	var b strings.Builder
	b.WriteString(e.Type)
	b.WriteString(" ")
	b.WriteString(e.Reason)
	if !e.OnPod {
		b.WriteString(" on " + e.Object)
	}
	if e.Container != "" {
		b.WriteString(" (container " + e.Container + ")")
	}
	b.WriteString(" " + w.age(e.Last))
	if e.Count > 1 {
		fmt.Fprintf(&b, " (x%d over %s)", e.Count, duration.HumanDuration(e.Last.Sub(e.First)))
	}
	b.WriteString(": ")
	b.WriteString(oneLine(e.Message))
	return b.String()
}

func (w *walk) formatEvents(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = w.formatEvent(e)
	}
	return out
}

// formatTermination renders a terminated state with its exit code explained.
func (w *walk) formatTermination(c *container, t *corev1.ContainerStateTerminated, current bool) string {
	label := "last state"
	if current {
		label = "state"
	}
	s := fmt.Sprintf("%s %s: terminated", c.kind(), label)
	if t.Reason != "" {
		s += " " + t.Reason
	}
	s += fmt.Sprintf(", exit code %d (%s)", t.ExitCode, ExitCodeMeaning(t.ExitCode))
	if t.Signal != 0 {
		s += fmt.Sprintf(", signal %d", t.Signal)
	}
	if !t.FinishedAt.IsZero() {
		s += ", finished " + w.age(t.FinishedAt.Time)
		if !t.StartedAt.IsZero() {
			s += " after running " + duration.HumanDuration(t.FinishedAt.Sub(t.StartedAt.Time))
		}
	}
	if t.Message != "" {
		s += ": " + oneLine(t.Message)
	}
	return s
}

// formatState renders a container's current state in one line.
func (w *walk) formatState(c *container) string {
	st := c.Status
	if st == nil {
		return c.kind() + ": no status reported yet"
	}
	var s string
	switch {
	case st.State.Waiting != nil:
		s = c.kind() + ": waiting " + st.State.Waiting.Reason
		if st.State.Waiting.Message != "" {
			s += ": " + oneLine(st.State.Waiting.Message)
		}
	case st.State.Running != nil:
		s = c.kind() + ": running for " + w.since(st.State.Running.StartedAt.Time)
	case st.State.Terminated != nil:
		return w.formatTermination(c, st.State.Terminated, true) + fmt.Sprintf("; restarts %d", st.RestartCount)
	default:
		s = c.kind() + ": no state reported"
	}
	return s + fmt.Sprintf("; restarts %d, ready %t", st.RestartCount, st.Ready)
}

// describeEvidence is what the describe step looked at.
func (w *walk) describeEvidence() []string {
	var out []string
	if wl := w.f.Workload; wl != nil {
		out = append(out, w.workloadLines(wl)...)
		for i := range w.f.Children {
			out = append(out, w.workloadLines(&w.f.Children[i])...)
		}
		switch job := w.examinedJob(); {
		case wl.Kind == "CronJob" && job == nil:
			out = append(out, "the cronjob has no jobs")
		case wl.Kind == "CronJob":
			which := "the most recent"
			if job.Job != nil && JobFailed(job.Job) {
				which = "the most recent failed"
			}
			l := fmt.Sprintf("examined job %s, %s of %d", job.Name, which, len(w.f.Children))
			if w.pod != nil {
				l += fmt.Sprintf(" → pod %s, the least healthy of its %d", w.pod.Name, len(w.f.WorkloadPods))
			} else {
				l += "; it has no pods left"
			}
			out = append(out, l)
		case w.pod != nil:
			out = append(out, fmt.Sprintf("examined pod %s, the least healthy of %d", w.pod.Name, len(w.f.WorkloadPods)))
		default:
			out = append(out, "the workload has no pods")
		}
	}
	if len(w.f.Owners) > 0 {
		var chain []string
		for _, o := range w.f.Owners {
			chain = append(chain, o.Kind+" "+o.Name)
		}
		out = append(out, "owned by "+strings.Join(chain, " → "))
		for i := range w.f.Owners {
			if o := &w.f.Owners[i]; o.Kind == "Deployment" || o.Kind == "StatefulSet" {
				out = append(out, w.workloadLines(o)...)
			}
		}
	}
	p := w.pod
	if p == nil {
		return out
	}
	line := fmt.Sprintf("pod %s/%s: phase %s", p.Namespace, p.Name, p.Status.Phase)
	if p.Status.Reason != "" {
		line += ", reason " + p.Status.Reason
	}
	if p.Status.Message != "" {
		line += ": " + oneLine(p.Status.Message)
	}
	if p.Spec.NodeName != "" {
		line += "; node " + p.Spec.NodeName
	} else {
		line += "; not scheduled to a node"
	}
	out = append(out, line)
	if p.DeletionTimestamp != nil {
		l := "deletion requested: deletionTimestamp " + w.age(p.DeletionTimestamp.Time)
		if len(p.Finalizers) > 0 {
			l += ", finalizers " + strings.Join(p.Finalizers, ", ")
		}
		out = append(out, l)
	}
	for _, c := range p.Status.Conditions {
		if c.Status == corev1.ConditionTrue && c.Type != corev1.DisruptionTarget {
			continue
		}
		l := fmt.Sprintf("condition %s=%s", c.Type, c.Status)
		if c.Reason != "" {
			l += " (" + c.Reason + ")"
		}
		if c.Message != "" {
			l += ": " + oneLine(c.Message)
		}
		out = append(out, l)
	}
	for _, c := range w.cs {
		l := w.formatState(c)
		if c.Spec != nil && c.Spec.Image != "" {
			l += "; image " + c.Spec.Image
		}
		out = append(out, l)
		if c.Status != nil && c.Status.LastTerminationState.Terminated != nil {
			out = append(out, w.formatTermination(c, c.Status.LastTerminationState.Terminated, false))
		}
	}
	out = append(out, w.usageEvidence()...)
	if refs := w.referenceSummary(); refs != "" {
		out = append(out, refs)
	}
	return out
}

func (w *walk) workloadLines(wl *Workload) []string {
	name := strings.ToLower(wl.Kind) + " " + wl.Name
	if wl.State != Found {
		s := name + ": " + wl.State.String()
		if wl.Reason != "" {
			s += " (" + wl.Reason + ")"
		}
		return []string{s}
	}
	var out []string
	var conds []string
	switch {
	case wl.Deployment != nil:
		d := wl.Deployment
		out = append(out, fmt.Sprintf("%s: %d desired, %d current, %d updated, %d ready, %d available", name,
			replicas(d.Spec.Replicas), d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas))
		for _, c := range d.Status.Conditions {
			if c.Status != corev1.ConditionTrue || c.Type == "ReplicaFailure" {
				conds = append(conds, fmt.Sprintf("%s condition %s=%s (%s): %s", name, c.Type, c.Status, c.Reason, oneLine(c.Message)))
			}
		}
	case wl.ReplicaSet != nil:
		r := wl.ReplicaSet
		out = append(out, fmt.Sprintf("%s: %d desired, %d current, %d ready", name, replicas(r.Spec.Replicas), r.Status.Replicas, r.Status.ReadyReplicas))
		for _, c := range r.Status.Conditions {
			conds = append(conds, fmt.Sprintf("%s condition %s=%s (%s): %s", name, c.Type, c.Status, c.Reason, oneLine(c.Message)))
		}
	case wl.StatefulSet != nil:
		s := wl.StatefulSet
		l := fmt.Sprintf("%s: %d desired, %d current, %d updated, %d ready", name, replicas(s.Spec.Replicas), s.Status.Replicas, s.Status.UpdatedReplicas, s.Status.ReadyReplicas)
		if s.Status.UpdateRevision != "" && s.Status.UpdateRevision != s.Status.CurrentRevision {
			l += fmt.Sprintf("; rolling from revision %s to %s", s.Status.CurrentRevision, s.Status.UpdateRevision)
		}
		out = append(out, l)
	case wl.DaemonSet != nil:
		d := wl.DaemonSet
		out = append(out, fmt.Sprintf("%s: %d desired, %d scheduled, %d ready, %d misscheduled", name,
			d.Status.DesiredNumberScheduled, d.Status.CurrentNumberScheduled, d.Status.NumberReady, d.Status.NumberMisscheduled))
	case wl.Job != nil:
		j := wl.Job
		out = append(out, fmt.Sprintf("%s: %d active, %d succeeded, %d failed (backoffLimit %d)", name,
			j.Status.Active, j.Status.Succeeded, j.Status.Failed, replicas(j.Spec.BackoffLimit)))
		for _, c := range j.Status.Conditions {
			if c.Status == corev1.ConditionTrue {
				conds = append(conds, fmt.Sprintf("%s condition %s=%s (%s): %s", name, c.Type, c.Status, c.Reason, oneLine(c.Message)))
			}
		}
	case wl.CronJob != nil:
		cj := wl.CronJob
		l := fmt.Sprintf("%s: schedule %q, concurrencyPolicy %s, %d active", name, cj.Spec.Schedule, orDefault(string(cj.Spec.ConcurrencyPolicy), "Allow"), len(cj.Status.Active))
		if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
			l += ", suspended"
		}
		if t := cj.Status.LastScheduleTime; t != nil {
			l += ", last scheduled " + w.age(t.Time)
		}
		if t := cj.Status.LastSuccessfulTime; t != nil {
			l += ", last succeeded " + w.age(t.Time)
		}
		out = append(out, l)
	}
	return append(out, conds...)
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// referenceSummary lists the objects the pod spec references with what the
// lookup found, so a reader sees "not found" next to "found".
func (w *walk) referenceSummary() string {
	var parts []string
	add := func(kind, name string, st LookupState, reason string) {
		s := kind + "/" + name + " (" + st.String()
		if st == Unknown && reason != "" {
			s += ": " + reason
		}
		parts = append(parts, s+")")
	}
	for _, r := range w.f.ConfigMaps {
		add("configmap", r.Name, r.State, r.Reason)
	}
	for _, r := range w.f.Secrets {
		add("secret", r.Name, r.State, r.Reason)
	}
	for _, r := range w.f.PVCs {
		s := r.State.String()
		if r.Object != nil {
			s = string(r.Object.Status.Phase)
		}
		parts = append(parts, "persistentvolumeclaim/"+r.Name+" ("+s+")")
	}
	if sa := w.f.ServiceAccount; sa.Name != "" && sa.State != Found {
		add("serviceaccount", sa.Name, sa.State, sa.Reason)
	}
	if len(parts) == 0 {
		return ""
	}
	return "references: " + strings.Join(parts, ", ")
}

// maxEventLines bounds the events step's evidence; the findings quote the
// events they rest on anyway.
const maxEventLines = 30

func (w *walk) eventsEvidence() []string {
	var out []string
	evs := w.evs
	if len(evs) > maxEventLines {
		out = append(out, fmt.Sprintf("(%d older events not shown)", len(evs)-maxEventLines))
		evs = evs[len(evs)-maxEventLines:]
	}
	out = append(out, w.formatEvents(evs)...)
	if w.f.Events.State == Unknown {
		out = append(out, "events: not available ("+orUnknown(w.f.Events.Reason)+")")
	} else if len(w.evs) == 0 {
		out = append(out, "no events (events expire after an hour by default)")
	}
	return out
}

func orUnknown(reason string) string {
	if reason == "" {
		return "not gathered"
	}
	return reason
}

// logTailLines is how many lines of each log the logs step shows.
const logTailLines = 10

func (w *walk) logsEvidence() []string {
	var out []string
	for _, l := range w.f.Logs {
		name := l.Container
		if l.Init {
			name = "init container " + name
		}
		if l.Previous {
			name += " (previous)"
		} else {
			name += " (current)"
		}
		switch {
		case l.State != Found:
			out = append(out, name+": not available ("+orUnknown(l.Reason)+")")
		case strings.TrimSpace(l.Text) == "":
			out = append(out, name+": empty log")
		default:
			for _, line := range lastLines(l.Text, logTailLines) {
				out = append(out, name+": "+line)
			}
		}
	}
	return out
}

// lastLines returns up to n last non-empty lines of text.
func lastLines(text string, n int) []string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimRight(lines[i], "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (w *walk) nodeEvidence() []string {
	n := w.f.Node
	switch {
	case n.Name == "":
		return nil
	case n.State == NotFound:
		return []string{"node " + n.Name + ": not found (deleted from the cluster?)"}
	case n.State == Unknown:
		return []string{"node " + n.Name + ": not available (" + orUnknown(n.Reason) + ")"}
	}
	node := n.Object
	var out []string
	for _, c := range node.Status.Conditions {
		l := fmt.Sprintf("node %s: %s=%s", node.Name, c.Type, c.Status)
		if c.Reason != "" {
			l += " (" + c.Reason + ")"
		}
		bad := (c.Type == corev1.NodeReady) != (c.Status == corev1.ConditionTrue)
		if bad && c.Message != "" {
			l += ": " + oneLine(c.Message)
		}
		if bad && !c.LastTransitionTime.IsZero() {
			l += ", for " + w.since(c.LastTransitionTime.Time)
		}
		out = append(out, l)
	}
	if node.Spec.Unschedulable {
		out = append(out, "node "+node.Name+": spec.unschedulable=true (cordoned, SchedulingDisabled)")
	}
	if len(node.Spec.Taints) > 0 {
		var ts []string
		for _, t := range node.Spec.Taints {
			ts = append(ts, formatTaint(t))
		}
		out = append(out, "node "+node.Name+": taints "+strings.Join(ts, ", "))
	}
	out = append(out, w.formatEvents(w.nevs)...)
	if w.f.NodeEvents.State == Unknown {
		out = append(out, "node events: not available ("+orUnknown(w.f.NodeEvents.Reason)+")")
	}
	return out
}

func formatTaint(t corev1.Taint) string {
	s := t.Key
	if t.Value != "" {
		s += "=" + t.Value
	}
	return s + ":" + string(t.Effect)
}

// formatResources renders a resource list in stable order ("cpu 500m, memory 1Gi").
func formatResources(rl corev1.ResourceList) string {
	names := make([]string, 0, len(rl))
	for n := range rl {
		names = append(names, string(n))
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		q := rl[corev1.ResourceName(n)]
		parts[i] = n + " " + q.String()
	}
	return strings.Join(parts, ", ")
}

// podRequests sums what the scheduler reserves for the pod: the app
// containers' requests, or the largest init container's when larger.
func podRequests(spec *corev1.PodSpec) corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, c := range spec.Containers {
		for n, q := range c.Resources.Requests {
			cur := total[n]
			cur.Add(q)
			total[n] = cur
		}
	}
	for _, c := range spec.InitContainers {
		for n, q := range c.Resources.Requests {
			if cur, ok := total[n]; !ok || q.Cmp(cur) > 0 {
				total[n] = q.DeepCopy()
			}
		}
	}
	for n, q := range spec.Overhead {
		cur := total[n]
		cur.Add(q)
		total[n] = cur
	}
	return total
}

// since renders how long it has been since t ("21s", "3d"), for states
// that still hold.
func (w *walk) since(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return duration.HumanDuration(w.now.Sub(t))
}

// shortAge renders a duration kubectl style ("5m", "2d3h").
func shortAge(d time.Duration) string { return duration.HumanDuration(d) }
