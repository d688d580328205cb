package diag

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// staleAfter is how old a warning event may be and still count as current.
// Events are kept for an hour by default; a warning older than that on an
// object that has moved on is history, not the cause.
const staleAfter = time.Hour

// walk is the engine's view of the facts for one diagnosis: the target pod's
// containers joined with their statuses and the events sorted and
// attributed, so that rules read plain fields instead of re-deriving them.
type walk struct {
	f    *Facts
	now  time.Time
	pod  *corev1.Pod
	cs   []*container
	evs  []event // events of the pod, its workload and owners, oldest first
	nevs []event // node events, oldest first
	// vars are the names every template may use.
	vars map[string]string
	// sched is the scheduling message read once (schedView).
	sched     *schedView
	schedDone bool
}

// container joins a container's spec with its status.
type container struct {
	Name   string
	Init   bool
	Spec   *corev1.Container
	Status *corev1.ContainerStatus
}

// event is an Event with its times and count normalised across the old
// (count, first/lastTimestamp) and new (series, eventTime) forms.
type event struct {
	*corev1.Event
	First, Last time.Time
	Count       int32
	// Container is the container the event is about, from its fieldPath.
	Container string
	// Object is kind/name of the involved object, lower-case kind.
	Object string
	// OnPod is true when the event is about the target pod.
	OnPod bool
}

var fieldPathContainer = regexp.MustCompile(`spec\.(?:initContainers|containers|ephemeralContainers)\{([^}]+)\}`)

// EventLast is when an event was last seen, from whichever field its
// recorder filled: the series' last observation (events.k8s.io recorders
// repeating an event), lastTimestamp (core recorders), eventTime (new
// recorders' first occurrence), firstTimestamp, and at worst the event
// object's creation.
func EventLast(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func newEvent(e *corev1.Event, pod *corev1.Pod) event {
	ev := event{Event: e, Count: e.Count, Last: EventLast(e)}
	switch {
	case !e.FirstTimestamp.IsZero():
		ev.First = e.FirstTimestamp.Time
	case !e.EventTime.IsZero():
		ev.First = e.EventTime.Time
	default:
		ev.First = ev.Last
	}
	if e.Series != nil && e.Series.Count > ev.Count {
		ev.Count = e.Series.Count
	}
	if ev.Count < 1 {
		ev.Count = 1
	}
	if m := fieldPathContainer.FindStringSubmatch(e.InvolvedObject.FieldPath); m != nil {
		ev.Container = m[1]
	}
	ev.Object = strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	if pod != nil && e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == pod.Name &&
		(e.InvolvedObject.UID == "" || e.InvolvedObject.UID == pod.UID) {
		ev.OnPod = true
	}
	return ev
}

func newWalk(f *Facts) *walk {
	w := &walk{f: f, now: f.Now, pod: f.Pod}
	if p := w.pod; p != nil {
		for i := range p.Spec.InitContainers {
			c := &container{Name: p.Spec.InitContainers[i].Name, Init: true, Spec: &p.Spec.InitContainers[i]}
			c.Status = findStatus(p.Status.InitContainerStatuses, c.Name)
			w.cs = append(w.cs, c)
		}
		for i := range p.Spec.Containers {
			c := &container{Name: p.Spec.Containers[i].Name, Spec: &p.Spec.Containers[i]}
			c.Status = findStatus(p.Status.ContainerStatuses, c.Name)
			w.cs = append(w.cs, c)
		}
	}
	for i := range f.Events.Items {
		w.evs = append(w.evs, newEvent(&f.Events.Items[i], w.pod))
	}
	for i := range f.NodeEvents.Items {
		w.nevs = append(w.nevs, newEvent(&f.NodeEvents.Items[i], nil))
	}
	byTime := func(evs []event) {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Last.Before(evs[j].Last) })
	}
	byTime(w.evs)
	byTime(w.nevs)

	w.vars = map[string]string{
		"Namespace": f.Target.Namespace,
		"Kind":      f.Target.Kind,
		"Name":      f.Target.Name,
		"Target":    f.Target.Kind + "/" + f.Target.Name,
		"Pod":       "",
		"Node":      "",
	}
	if w.pod != nil {
		w.vars["Pod"] = w.pod.Name
		w.vars["Node"] = w.pod.Spec.NodeName
		if w.vars["Namespace"] == "" {
			w.vars["Namespace"] = w.pod.Namespace
		}
	}
	return w
}

func findStatus(ss []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}

// recent reports whether t lies within staleAfter of now. A zero time is
// treated as recent: an event whose age is unknown is not dismissed.
func (w *walk) recent(t time.Time) bool { return t.IsZero() || w.now.Sub(t) <= staleAfter }

// podEvents returns the recent events on the pod whose reason is one of
// reasons (all reasons when none given), oldest first.
func (w *walk) podEvents(reasons ...string) []event {
	var out []event
	for _, e := range w.evs {
		if e.OnPod && w.recent(e.Last) && (len(reasons) == 0 || oneOf(e.Reason, reasons...)) {
			out = append(out, e)
		}
	}
	return out
}

// containerEvents returns recent pod events about container c with one of
// reasons. An event names its container in its fieldPath; older kubelets
// only name it in the message.
func (w *walk) containerEvents(c string, reasons ...string) []event {
	var out []event
	for _, e := range w.podEvents(reasons...) {
		if e.Container == c || (e.Container == "" && mentionsContainer(e.Message, c)) {
			out = append(out, e)
		}
	}
	return out
}

func mentionsContainer(msg, c string) bool {
	return strings.Contains(msg, `container "`+c+`"`) || strings.Contains(msg, "Container "+c+" ") ||
		strings.Contains(msg, `Container "`+c+`"`) || strings.Contains(msg, "container "+c+" ") ||
		strings.Contains(msg, "container="+c+" ") || strings.Contains(msg, `for "`+c+`"`)
}

// mainContainers returns the pod's app containers.
func (w *walk) mainContainers() []*container {
	var out []*container
	for _, c := range w.cs {
		if !c.Init {
			out = append(out, c)
		}
	}
	return out
}

// podRunning reports whether the pod has left the creation phase: every
// app container has started at least once.
func (w *walk) podStarted() bool {
	for _, c := range w.mainContainers() {
		if c.Status == nil || (c.Status.State.Running == nil && c.Status.State.Terminated == nil &&
			c.Status.LastTerminationState.Terminated == nil) {
			return false
		}
	}
	return w.pod != nil
}

func (c *container) waiting() *corev1.ContainerStateWaiting {
	if c.Status == nil {
		return nil
	}
	return c.Status.State.Waiting
}

func (c *container) waitingReason() string {
	if wt := c.waiting(); wt != nil {
		return wt.Reason
	}
	return ""
}

// lastTermination returns the container's most recent termination: the
// current state when it is terminated, else lastState; current reports
// which.
func (c *container) lastTermination() (t *corev1.ContainerStateTerminated, current bool) {
	if c.Status == nil {
		return nil, false
	}
	if c.Status.State.Terminated != nil {
		return c.Status.State.Terminated, true
	}
	return c.Status.LastTerminationState.Terminated, false
}

func (c *container) restarts() int32 {
	if c.Status == nil {
		return 0
	}
	return c.Status.RestartCount
}

func (c *container) ready() bool { return c.Status != nil && c.Status.Ready }

// kind names the container for humans: "container app" or "init container migrate".
func (c *container) kind() string {
	if c.Init {
		return "init container " + c.Name
	}
	return "container " + c.Name
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// containsAny reports whether s contains any of subs, ignoring case.
func containsAny(s string, subs ...string) bool {
	ls := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(ls, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

// newest returns the last of evs (they are sorted oldest first).
func newest(evs []event) (event, bool) {
	if len(evs) == 0 {
		return event{}, false
	}
	return evs[len(evs)-1], true
}

// ownersOfKind returns the workloads of the given kind among the target,
// its owners and its children.
func (w *walk) workloads(kind string) []*Workload {
	var out []*Workload
	if w.f.Workload != nil && w.f.Workload.Kind == kind {
		out = append(out, w.f.Workload)
	}
	for i := range w.f.Owners {
		if w.f.Owners[i].Kind == kind {
			out = append(out, &w.f.Owners[i])
		}
	}
	return out
}

// genericReasons are pod events that say the kubelet tries again, not why
// it has to: a sandbox recreated, a back-off, a pull started, a container
// killed, created or started.
var genericReasons = []string{"SandboxChanged", "BackOff", "Pulling", "Pulled", "Killing", "Created", "Started", "Scheduled"}

// inCreation reports whether the pod is (back) in its creation phase: no
// app container runs, and none waits for a reason of its own (a crash
// loop, a config error); after a lost sandbox the kubelet shows
// ContainerCreating again, with the old restart count.
func (w *walk) inCreation() bool {
	if w.pod == nil || podTerminal(w.pod) || w.pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range w.mainContainers() {
		if c.Status == nil {
			continue
		}
		if c.Status.State.Running != nil || c.Status.State.Terminated != nil {
			return false
		}
		if r := c.waitingReason(); r != "" && r != "ContainerCreating" && r != "PodInitializing" {
			return false
		}
	}
	return true
}

// causeEvents returns the pod's events with one of reasons that explain
// a pod still stuck: the recent ones, else — the kubelet's event spam
// filter and the API server's event TTL leave the cause behind while
// generic retries keep coming — the older ones, when only generic events
// followed them. Newest last.
func (w *walk) causeEvents(reasons ...string) []event {
	if evs := w.podEvents(reasons...); len(evs) > 0 {
		return evs
	}
	var older []event
	for _, e := range w.evs {
		if e.OnPod && oneOf(e.Reason, reasons...) {
			older = append(older, e)
		}
	}
	last, ok := newest(older)
	if !ok {
		return nil
	}
	for _, e := range w.evs {
		if e.OnPod && e.Last.After(last.Last) && !oneOf(e.Reason, genericReasons...) && !oneOf(e.Reason, reasons...) {
			return nil // something else happened since: the old event is history
		}
	}
	return older
}

// olderCauseNote says, when newer events on the pod only repeat generic
// steps, that the explaining event is older and how old; "" otherwise.
func (w *walk) olderCauseNote(cause event) string {
	counts := map[string]int32{}
	var order []string
	var newestGeneric event
	for _, e := range w.evs {
		if !e.OnPod || !e.Last.After(cause.Last) || e.Reason == cause.Reason {
			continue
		}
		if !oneOf(e.Reason, genericReasons...) {
			return ""
		}
		if counts[e.Reason] == 0 {
			order = append(order, e.Reason)
		}
		counts[e.Reason] += e.Count
		newestGeneric = e
	}
	if len(order) == 0 {
		return ""
	}
	parts := make([]string, len(order))
	for i, r := range order {
		parts[i] = r
		if counts[r] > 1 {
			parts[i] += " x" + itoa32(counts[r])
		}
	}
	return "the newest events on the pod only repeat generic steps (" + strings.Join(parts, ", ") + ", last " +
		w.age(newestGeneric.Last) + "); the explaining " + cause.Reason + " event is older: last seen " + w.age(cause.Last)
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
