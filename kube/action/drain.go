package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// DrainOptions are the choices a drain needs from the user, as in
// `kubectl drain`. DaemonSet pods are always left alone (their DaemonSet
// would put them straight back).
type DrainOptions struct {
	// DeleteEmptyDir allows evicting pods with emptyDir volumes, whose
	// data is lost (kubectl's --delete-emptydir-data).
	DeleteEmptyDir bool
	// Force allows deleting pods no controller will recreate (--force).
	Force bool
	// Timeout bounds the whole drain; zero means only ctx does.
	Timeout time.Duration
	// GracePeriod overrides the pods' terminationGracePeriodSeconds; zero
	// keeps each pod's own.
	GracePeriod time.Duration
	// GraceNow asks for no grace period at all (kubectl's
	// --grace-period=0): the API server removes each pod at once and the
	// kubelet kills its containers without waiting. It overrides GracePeriod.
	GraceNow bool
	// RetryDelay is the wait between evictions a PodDisruptionBudget
	// refused; zero means 5s, as kubectl. Cancelling a drain can take up
	// to this long: kubectl's drain code sleeps it out.
	RetryDelay time.Duration
}

const defaultEvictRetryDelay = 5 * time.Second

// DrainPod is one pod on the node being drained.
type DrainPod struct {
	Namespace, Name string
	// Owner is the controller, "ReplicaSet/web-7d4f9", empty when none.
	Owner string
	// EmptyDir: the pod has emptyDir volumes, whose data eviction deletes.
	EmptyDir bool
	// EmptyDirVolumes name those volumes, as the pod spec does.
	EmptyDirVolumes []string
	// Unmanaged: no controller will recreate the pod elsewhere.
	Unmanaged bool
	// Finished: the pod has Succeeded or Failed, so it goes whatever the options.
	Finished bool
	// PDBs name the PodDisruptionBudgets covering the pod.
	PDBs []string
}

func (p DrainPod) String() string { return p.Namespace + "/" + p.Name }

// PDBHeadroom is a PodDisruptionBudget covering pods the drain evicts.
type PDBHeadroom struct {
	Namespace, Name string
	// DisruptionsAllowed is the budget's status: how many of its pods may go now.
	DisruptionsAllowed int32
	// Pods are the pods of the drain it covers (namespace/name).
	Pods []string
}

// NoHeadroom means the API server refuses (429) every eviction of these
// pods until other replicas become healthy: the drain will wait and retry.
func (b PDBHeadroom) NoHeadroom() bool { return b.DisruptionsAllowed <= 0 }

// DrainPlan is what a drain would do, shown to the user before they
// confirm it.
type DrainPlan struct {
	Node    string
	Options DrainOptions
	// Cordoned: the node is already unschedulable.
	Cordoned bool
	// Evict are the pods the drain evicts.
	Evict []DrainPod
	// DaemonSet pods are skipped: their DaemonSet would recreate them here.
	DaemonSet []DrainPod
	// Mirror pods are skipped: static pods belong to the kubelet.
	Mirror []DrainPod
	// EmptyDir pods lose their emptyDir data; they need DeleteEmptyDir.
	EmptyDir []DrainPod
	// Unmanaged pods are not recreated anywhere; they need Force.
	Unmanaged []DrainPod
	// Blocked are the pods that stop the drain with these options, each
	// with what would allow it (as kubectl's drain filters decide).
	Blocked []BlockedPod
	// PDBs are the disruption budgets covering pods to evict.
	PDBs []PDBHeadroom
	// Blockers say why the drain cannot start with these options.
	Blockers []string
	// Warnings are things the user should know that do not block.
	Warnings []string
}

// DrainNeed is what a blocked pod needs before a drain may remove it.
type DrainNeed int

const (
	// NeedDeleteEmptyDir: the pod has emptyDir volumes (DeleteEmptyDir).
	NeedDeleteEmptyDir DrainNeed = iota + 1
	// NeedForce: no controller recreates the pod (Force).
	NeedForce
	// NeedOther: something an option cannot fix (Reason says what).
	NeedOther
)

// BlockedPod is a pod that stops the drain.
type BlockedPod struct {
	DrainPod
	Need DrainNeed
	// Reason is why, for NeedOther.
	Reason string
}

// NoHeadroom returns the budgets that will hold the drain up.
func (p *DrainPlan) NoHeadroom() []PDBHeadroom {
	var out []PDBHeadroom
	for _, b := range p.PDBs {
		if b.NoHeadroom() {
			out = append(out, b)
		}
	}
	return out
}

// DrainBlockedError is a drain that cannot start with the chosen options.
type DrainBlockedError struct {
	Node     string
	Blockers []string
}

func (e *DrainBlockedError) Error() string {
	return fmt.Sprintf("cannot drain node %s: %s", e.Node, strings.Join(e.Blockers, "; "))
}

// PlanDrain looks at a node's pods and says what a drain with opts would
// do. When something blocks the drain the plan is still returned, with a
// *DrainBlockedError listing the blockers.
func PlanDrain(ctx context.Context, client kubernetes.Interface, node string, opts DrainOptions) (*DrainPlan, error) {
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, nodeError(node, "drain", err)
	}
	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list the pods of node %s: %w", node, err)
	}
	plan := &DrainPlan{Node: node, Options: opts, Cordoned: n.Spec.Unschedulable}
	sort.Slice(pods.Items, func(i, j int) bool {
		a, b := &pods.Items[i], &pods.Items[j]
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	daemonSets := map[string]error{} // namespace/name → Get error (nil: exists)
	dsExists := func(ns, name string) error {
		key := ns + "/" + name
		if err, ok := daemonSets[key]; ok {
			return err
		}
		_, err := client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		daemonSets[key] = err
		return err
	}
	var needEmptyDir, needForce []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName != node { // fake clientsets ignore field selectors
			continue
		}
		dp, verdict, note := classifyForDrain(p, opts, dsExists)
		if dp.EmptyDir && !dp.Finished && verdict != skipDaemonSet && verdict != skipMirror {
			plan.EmptyDir = append(plan.EmptyDir, dp)
		}
		if dp.Unmanaged && !dp.Finished && verdict != skipMirror {
			plan.Unmanaged = append(plan.Unmanaged, dp)
		}
		switch verdict {
		case evictPod:
			plan.Evict = append(plan.Evict, dp)
			if note != "" {
				plan.Warnings = append(plan.Warnings, note)
			}
		case skipDaemonSet:
			plan.DaemonSet = append(plan.DaemonSet, dp)
		case skipMirror:
			plan.Mirror = append(plan.Mirror, dp)
		case blockedByEmptyDir:
			needEmptyDir = append(needEmptyDir, dp.String())
			plan.Blocked = append(plan.Blocked, BlockedPod{DrainPod: dp, Need: NeedDeleteEmptyDir})
		case blockedUnmanaged:
			needForce = append(needForce, dp.String())
			plan.Blocked = append(plan.Blocked, BlockedPod{DrainPod: dp, Need: NeedForce})
		case blockedOther:
			plan.Blockers = append(plan.Blockers, note)
			plan.Blocked = append(plan.Blocked, BlockedPod{DrainPod: dp, Need: NeedOther, Reason: note})
		}
	}
	if len(needEmptyDir) > 0 {
		plan.Blockers = append(plan.Blockers, fmt.Sprintf("%s emptyDir volumes whose data eviction deletes: %s (allow deleting emptyDir data to go on)",
			podCount(len(needEmptyDir), "uses", "use"), strings.Join(needEmptyDir, ", ")))
	}
	if len(needForce) > 0 {
		plan.Blockers = append(plan.Blockers, fmt.Sprintf("%s no controller to recreate it elsewhere: %s (force to delete anyway)",
			podCount(len(needForce), "has", "have"), strings.Join(needForce, ", ")))
	}
	if err := plan.addPDBs(ctx, client); err != nil {
		plan.Warnings = append(plan.Warnings, err.Error())
	}
	if len(plan.Blockers) > 0 {
		return plan, &DrainBlockedError{Node: node, Blockers: plan.Blockers}
	}
	return plan, nil
}

func podCount(n int, one, many string) string {
	if n == 1 {
		return "1 pod " + one
	}
	return fmt.Sprintf("%d pods %s", n, many)
}

type drainVerdict int

const (
	evictPod drainVerdict = iota
	skipDaemonSet
	skipMirror
	blockedByEmptyDir
	blockedUnmanaged
	blockedOther
)

// classifyForDrain decides a pod's fate the way kubectl's drain filters do,
// in the same order (DaemonSet, mirror, local storage, unreplicated), and
// records every property the plan shows. note is a warning for evicted
// pods or the blocker for blockedOther.
func classifyForDrain(p *corev1.Pod, opts DrainOptions, daemonSetGet func(ns, name string) error) (DrainPod, drainVerdict, string) {
	dp := DrainPod{
		Namespace: p.Namespace, Name: p.Name,
		Finished: p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed,
	}
	ref := metav1.GetControllerOf(p)
	if ref != nil {
		dp.Owner = ref.Kind + "/" + ref.Name
	}
	dp.Unmanaged = ref == nil
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			dp.EmptyDir = true
			dp.EmptyDirVolumes = append(dp.EmptyDirVolumes, v.Name)
		}
	}
	var note string
	if ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == appsv1.SchemeGroupVersion.String() && !dp.Finished {
		switch err := daemonSetGet(p.Namespace, ref.Name); {
		case err == nil:
			return dp, skipDaemonSet, ""
		case apierrors.IsNotFound(err) && opts.Force:
			// kubectl goes on to its other filters: an orphan with emptyDir
			// volumes still needs DeleteEmptyDir.
			note = fmt.Sprintf("%s belongs to DaemonSet %s, which no longer exists: it will be deleted", dp, ref.Name)
		case apierrors.IsNotFound(err):
			return dp, blockedOther, fmt.Sprintf("%s belongs to DaemonSet %s, which no longer exists (force to delete it)", dp, ref.Name)
		default:
			return dp, blockedOther, fmt.Sprintf("cannot check DaemonSet %s/%s of pod %s: %s", p.Namespace, ref.Name, dp, kube.Explain(err))
		}
	}
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return dp, skipMirror, ""
	}
	if dp.Finished {
		return dp, evictPod, note
	}
	if dp.EmptyDir && !opts.DeleteEmptyDir {
		return dp, blockedByEmptyDir, ""
	}
	if dp.Unmanaged && !opts.Force {
		return dp, blockedUnmanaged, ""
	}
	return dp, evictPod, note
}

// addPDBs finds the policy/v1 disruption budgets covering the pods to evict.
func (plan *DrainPlan) addPDBs(ctx context.Context, client kubernetes.Interface) error {
	byNS := map[string][]int{} // namespace → indexes into plan.Evict
	for i, p := range plan.Evict {
		byNS[p.Namespace] = append(byNS[p.Namespace], i)
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	var errs []error
	for _, ns := range namespaces {
		pdbs, err := client.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot see the PodDisruptionBudgets of namespace %s (%s): the drain may wait on one without warning", ns, kube.Explain(err)))
			continue
		}
		podLabels, err := podLabelsOf(ctx, client, ns, plan.Node)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pdb := range pdbs.Items {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil {
				continue // the API server validates selectors; nothing to match
			}
			h := PDBHeadroom{Namespace: ns, Name: pdb.Name, DisruptionsAllowed: pdb.Status.DisruptionsAllowed}
			for _, i := range byNS[ns] {
				p := &plan.Evict[i]
				if sel.Matches(labels.Set(podLabels[p.Name])) {
					p.PDBs = append(p.PDBs, pdb.Name)
					h.Pods = append(h.Pods, p.String())
				}
			}
			if len(h.Pods) > 0 {
				plan.PDBs = append(plan.PDBs, h)
			}
		}
	}
	return errors.Join(errs...)
}

// podLabelsOf returns the labels of a namespace's pods on node.
func podLabelsOf(ctx context.Context, client kubernetes.Interface, ns, node string) (map[string]map[string]string, error) {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list the pods of node %s in %s: %w", node, ns, err)
	}
	out := make(map[string]map[string]string, len(pods.Items))
	for _, p := range pods.Items {
		out[p.Name] = p.Labels
	}
	return out, nil
}

// DrainStep is the kind of a drain progress report.
type DrainStep int

const (
	// DrainCordoned: the node is cordoned (now, or it already was).
	DrainCordoned DrainStep = iota
	// DrainSkipping: a DaemonSet or mirror pod is left in place.
	DrainSkipping
	// DrainEvicting: an eviction was asked for a pod.
	DrainEvicting
	// DrainDeleting: a pod is being deleted (the server has no eviction API).
	DrainDeleting
	// DrainRetrying: an eviction was refused for now (429), usually by a
	// PodDisruptionBudget, and will be tried again after RetryIn.
	DrainRetrying
	// DrainEvicted: an evicted pod is gone.
	DrainEvicted
	// DrainDeleted: a deleted pod is gone.
	DrainDeleted
	// DrainPodFailed: a pod could not be evicted.
	DrainPodFailed
	// DrainNote: any other message from kubectl's drain code.
	DrainNote
	// DrainFinished: the drain is over; Message is the summary.
	DrainFinished
)

var drainStepNames = [...]string{"cordoned", "skipping", "evicting", "deleting", "retrying", "evicted", "deleted", "failed", "note", "finished"}

func (s DrainStep) String() string {
	if int(s) >= 0 && int(s) < len(drainStepNames) {
		return drainStepNames[s]
	}
	return fmt.Sprintf("DrainStep(%d)", int(s))
}

// DrainProgress is one step of a running drain, for the view.
type DrainProgress struct {
	Step DrainStep
	// Pod is namespace/name when the step is about one pod.
	Pod string
	// PDB names the budget holding up a DrainRetrying, when known.
	PDB string
	// RetryIn is the wait before the next try of a DrainRetrying.
	RetryIn time.Duration
	// Message is one line for the view, always set.
	Message string
}

// DrainSkip is a pod a drain left in place.
type DrainSkip struct {
	Pod, Reason string
}

// DrainFailure is a pod a drain could not remove.
type DrainFailure struct {
	Pod, Reason string
}

// DrainSummary is how a drain went.
type DrainSummary struct {
	Node string
	// Cordoned: the node is cordoned now. It stays so after the drain;
	// uncordon it when it can take pods again.
	Cordoned bool
	// Evicted are the pods removed (evicted, or deleted), namespace/name.
	Evicted []string
	Skipped []DrainSkip
	Failed  []DrainFailure
	// TimedOut: DrainOptions.Timeout ended the drain; Cancelled: its ctx did.
	TimedOut, Cancelled bool
	Duration            time.Duration
}

func (s DrainSummary) String() string {
	var b strings.Builder
	switch {
	case s.TimedOut:
		fmt.Fprintf(&b, "drain of node %s timed out after %s", s.Node, s.Duration.Round(time.Millisecond))
	case s.Cancelled:
		fmt.Fprintf(&b, "drain of node %s cancelled after %s", s.Node, s.Duration.Round(time.Millisecond))
	case len(s.Failed) > 0:
		fmt.Fprintf(&b, "drain of node %s incomplete after %s", s.Node, s.Duration.Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "node %s drained in %s", s.Node, s.Duration.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, ": %d evicted, %d skipped, %d failed", len(s.Evicted), len(s.Skipped), len(s.Failed))
	for _, f := range s.Failed {
		fmt.Fprintf(&b, "; %s: %s", f.Pod, f.Reason)
	}
	return b.String()
}

// RunDrain cordons the plan's node, then evicts its pods with kubectl's own
// drain code, reporting each step to progress (called from one goroutine
// at a time). It looks at the node again first, so pods that came or went
// since the plan are handled; if the drain is blocked now it changes
// nothing. It returns when every pod is gone, opts.Timeout passes, or ctx
// ends, always with a complete summary; the error says why it is incomplete.
func RunDrain(ctx context.Context, client kubernetes.Interface, plan *DrainPlan, opts DrainOptions, progress func(DrainProgress)) (DrainSummary, error) {
	if plan == nil {
		return DrainSummary{}, errors.New("drain: no plan (call PlanDrain first)")
	}
	started := time.Now()
	t := &drainTracker{progress: progress, pods: map[string]*podTrack{}, pdbs: map[string][]string{}}
	sum := DrainSummary{Node: plan.Node}
	finish := func(err error) (DrainSummary, error) {
		sum.Duration = time.Since(started)
		t.emit(DrainProgress{Step: DrainFinished, Message: sum.String()})
		return sum, err
	}
	// notStarted ends a drain that changed nothing, or only cordoned.
	notStarted := func(err error) (DrainSummary, error) {
		sum.Duration = time.Since(started)
		t.emit(DrainProgress{Step: DrainFinished, Message: fmt.Sprintf("drain of node %s not started: %s", plan.Node, kube.Explain(err))})
		return sum, err
	}
	parent := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}

	fresh, err := PlanDrain(ctx, client, plan.Node, opts)
	if err != nil {
		return notStarted(err)
	}
	for _, b := range fresh.PDBs {
		for _, pod := range b.Pods {
			t.pdbs[pod] = append(t.pdbs[pod], b.Name)
		}
	}
	res, err := Cordon(ctx, client, plan.Node)
	if err != nil {
		return notStarted(err)
	}
	sum.Cordoned = true
	t.emit(DrainProgress{Step: DrainCordoned, Message: res.Message})
	for _, p := range fresh.DaemonSet {
		sum.Skipped = append(sum.Skipped, DrainSkip{Pod: p.String(), Reason: "managed by " + p.Owner})
		t.emit(DrainProgress{Step: DrainSkipping, Pod: p.String(), Message: fmt.Sprintf("skipping %s: managed by %s, which would recreate it here", p, p.Owner)})
	}
	for _, p := range fresh.Mirror {
		sum.Skipped = append(sum.Skipped, DrainSkip{Pod: p.String(), Reason: "static (mirror) pod"})
		t.emit(DrainProgress{Step: DrainSkipping, Pod: p.String(), Message: fmt.Sprintf("skipping %s: a static pod, owned by the node's kubelet", p)})
	}
	for _, w := range fresh.Warnings {
		t.emit(DrainProgress{Step: DrainNote, Message: w})
	}

	retry := opts.RetryDelay
	if retry <= 0 {
		retry = defaultEvictRetryDelay
	}
	grace := -1 // each pod's own terminationGracePeriodSeconds
	switch {
	case opts.GraceNow:
		grace = 0
	case opts.GracePeriod > 0:
		grace = int(math.Ceil(opts.GracePeriod.Seconds()))
	}
	h := &drain.Helper{
		Ctx: ctx, Client: client,
		Force: opts.Force, DeleteEmptyDirData: opts.DeleteEmptyDir, IgnoreAllDaemonSets: true,
		GracePeriodSeconds: grace, Timeout: opts.Timeout, EvictErrorRetryDelay: retry,
		Out:                             &lineWriter{line: t.message},
		ErrOut:                          &lineWriter{line: t.message},
		OnPodDeletionOrEvictionStarted:  t.started,
		OnPodDeletionOrEvictionFinished: t.finished,
	}
	list, errs := h.GetPodsForDeletion(plan.Node)
	if len(errs) > 0 {
		return notStarted(fmt.Errorf("drain node %s: %w", plan.Node, errors.Join(errs...)))
	}
	pods := list.Pods()
	evictErr := h.DeleteOrEvictPods(pods)

	sum.TimedOut = ctx.Err() != nil && parent.Err() == nil
	sum.Cancelled = parent.Err() != nil
	t.summarize(pods, evictErr, &sum)
	if len(sum.Failed) == 0 { // the deadline came after the last pod went
		sum.TimedOut, sum.Cancelled = false, false
	}
	err = nil
	switch {
	case sum.Cancelled:
		err = fmt.Errorf("drain of node %s cancelled: %d of %d pods not evicted: %w", plan.Node, len(sum.Failed), len(pods), parent.Err())
	case sum.TimedOut:
		err = fmt.Errorf("drain of node %s timed out after %s: %d of %d pods not evicted: %w", plan.Node, opts.Timeout, len(sum.Failed), len(pods), context.DeadlineExceeded)
	case len(sum.Failed) > 0:
		err = fmt.Errorf("drain of node %s incomplete: %d of %d pods not evicted: %w", plan.Node, len(sum.Failed), len(pods), evictErr)
	}
	return finish(err)
}

// drainTracker turns kubectl's drain callbacks and messages into
// DrainProgress, one at a time.
type drainTracker struct {
	mu       sync.Mutex
	progress func(DrainProgress)
	pods     map[string]*podTrack // namespace/name → state, for the pods to evict
	pdbs     map[string][]string  // namespace/name → covering budgets
}

type podTrack struct {
	started   bool
	gone      bool
	err       error
	retries   int
	lastRetry string // why the last eviction was refused
}

func (t *drainTracker) emit(p DrainProgress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emitLocked(p)
}

func (t *drainTracker) emitLocked(p DrainProgress) {
	if t.progress != nil {
		t.progress(p)
	}
}

func (t *drainTracker) track(key string) *podTrack {
	tr := t.pods[key]
	if tr == nil {
		tr = &podTrack{}
		t.pods[key] = tr
	}
	return tr
}

// started is called before each eviction attempt; only the first is news.
func (t *drainTracker) started(pod *corev1.Pod, usingEviction bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	tr := t.track(key)
	if tr.started {
		return
	}
	tr.started = true
	if usingEviction {
		t.emitLocked(DrainProgress{Step: DrainEvicting, Pod: key, Message: "evicting " + key})
	} else {
		t.emitLocked(DrainProgress{Step: DrainDeleting, Pod: key, Message: "deleting " + key + " (the server has no eviction API)"})
	}
}

func (t *drainTracker) finished(pod *corev1.Pod, usingEviction bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	tr := t.track(key)
	switch {
	case err != nil:
		tr.err = err
		t.emitLocked(DrainProgress{Step: DrainPodFailed, Pod: key, Message: fmt.Sprintf("%s: %s", key, kube.Explain(err))})
	case usingEviction:
		tr.gone = true
		t.emitLocked(DrainProgress{Step: DrainEvicted, Pod: key, Message: key + " evicted"})
	default:
		tr.gone = true
		t.emitLocked(DrainProgress{Step: DrainDeleted, Pod: key, Message: key + " deleted"})
	}
}

// kubectl's drain messages (k8s.io/kubectl/pkg/drain/drain.go).
var (
	evictRetryRe = regexp.MustCompile(`^error when evicting pods/"([^"]+)" -n "([^"]+)" \(will retry after ([^)]+)\): (.*)$`)
	nsRetryRe    = regexp.MustCompile(`^error when evicting pod "([^"]+)" from terminating namespace "([^"]+)" \(will retry after ([^)]+)\): (.*)$`)
	evictingRe   = regexp.MustCompile(`^evicting pod \S+/\S+( \(server dry run\))?$`)
)

// message handles one line kubectl's drain code printed.
func (t *drainTracker) message(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if evictingRe.MatchString(line) {
		return // reported by started
	}
	m := evictRetryRe.FindStringSubmatch(line)
	if m == nil {
		m = nsRetryRe.FindStringSubmatch(line)
	}
	if m == nil {
		t.emitLocked(DrainProgress{Step: DrainNote, Message: line})
		return
	}
	key := m[2] + "/" + m[1]
	wait, _ := time.ParseDuration(m[3])
	why := m[4]
	p := DrainProgress{Step: DrainRetrying, Pod: key, RetryIn: wait}
	tr := t.track(key)
	tr.retries++
	switch {
	case strings.Contains(why, "disruption budget"):
		pdbs := t.pdbs[key]
		p.PDB = strings.Join(pdbs, ", ")
		if len(pdbs) == 0 {
			p.Message = fmt.Sprintf("eviction of %s blocked by a PodDisruptionBudget, retrying in %s", key, wait)
		} else {
			p.Message = fmt.Sprintf("eviction of %s blocked by PodDisruptionBudget %s, retrying in %s", key, p.PDB, wait)
		}
		tr.lastRetry = "eviction blocked by PodDisruptionBudget " + p.PDB
		if p.PDB == "" {
			tr.lastRetry = "eviction blocked by a PodDisruptionBudget"
		}
	default:
		p.Message = fmt.Sprintf("eviction of %s refused for now (%s), retrying in %s", key, why, wait)
		tr.lastRetry = "eviction refused: " + why
	}
	t.emitLocked(p)
}

// summarize sorts the pods into evicted and failed once kubectl's drain
// code has returned.
func (t *drainTracker) summarize(pods []corev1.Pod, evictErr error, sum *DrainSummary) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range pods {
		key := p.Namespace + "/" + p.Name
		tr := t.track(key)
		if tr.gone {
			sum.Evicted = append(sum.Evicted, key)
			continue
		}
		sum.Failed = append(sum.Failed, DrainFailure{Pod: key, Reason: t.failureReason(tr, key, evictErr, *sum)})
	}
}

// failureReason explains why a pod is still there; t.mu is held.
func (t *drainTracker) failureReason(tr *podTrack, key string, evictErr error, sum DrainSummary) string {
	var reason string
	switch {
	case tr.lastRetry != "":
		reason = fmt.Sprintf("%s (%d tries)", tr.lastRetry, tr.retries)
	case tr.err != nil:
		reason = kube.Explain(tr.err)
	default:
		if msg := podErrorMessage(evictErr, key); msg != "" {
			reason = msg
			if strings.Contains(msg, "to terminate") {
				reason = "evicted, but still terminating when the drain stopped"
			}
		} else if !tr.started {
			reason = "not evicted"
		} else {
			reason = "not gone yet"
		}
	}
	switch {
	case sum.TimedOut:
		reason += "; the drain timed out"
	case sum.Cancelled:
		reason += "; the drain was cancelled"
	}
	return reason
}

// podErrorMessage finds the part of kubectl's aggregated drain error that
// is about one pod; its messages name the pod and namespace in quotes.
func podErrorMessage(err error, key string) string {
	if err == nil {
		return ""
	}
	ns, name, _ := strings.Cut(key, "/")
	var parts []error
	var agg interface{ Errors() []error }
	if errors.As(err, &agg) {
		parts = agg.Errors()
	} else {
		parts = []error{err}
	}
	for _, e := range parts {
		msg := e.Error()
		if strings.Contains(msg, `"`+name+`"`) && strings.Contains(msg, `"`+ns+`"`) {
			return msg
		}
	}
	return ""
}

// lineWriter calls line for each complete line written to it; kubectl's
// drain code writes whole lines, from several goroutines.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if l := strings.TrimSpace(string(w.buf[:i])); l != "" {
			w.line(l)
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
