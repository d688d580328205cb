package ui

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/sahilm/fuzzy"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/live"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
)

// nodeKind is the level of a tree line.
type nodeKind uint8

const (
	nsNode nodeKind = iota
	workloadNode
	podNode
	containerNode
	k8sNodeNode // a cluster node, in group-by-node mode
)

// lineID names a line stably across rebuilds (the cursor follows it) without
// building strings on every rebuild.
type lineID struct {
	name string // namespace, "ns\x00kind\x00name" for workloads, node name, pod UID
	ctr  int32
	kind nodeKind
}

// line is one visible row of the tree. It is kept small (pointers, no
// strings of its own): a rebuild writes one per visible object, and at a
// hundred thousand pods copying fat lines would cost more than sorting.
type line struct {
	id     lineID
	ctr    int32 // container index for container lines
	kind   nodeKind
	depth  uint8
	open   bool
	byNode bool
	health live.Health
	pod    *live.PodRow // pod and container lines
	grp    *group       // namespace and node lines
	bkt    *bucket      // workload lines
}

func (l line) label() string {
	switch l.kind {
	case nsNode, k8sNodeNode:
		return l.grp.label
	case workloadNode:
		return l.bkt.key.kind + " " + l.bkt.key.name
	case podNode:
		if l.byNode {
			return l.pod.Namespace + "/" + l.pod.Name
		}
		return l.pod.Name
	}
	c := l.pod.Containers[l.ctr]
	if c.Init {
		return "init:" + c.Name
	}
	return c.Name
}

// count is the pods by health under a namespace, workload or node line.
func (l line) count() [4]int {
	switch {
	case l.grp != nil:
		return l.grp.count
	case l.bkt != nil:
		return l.bkt.count
	}
	return [4]int{}
}

// note is the summary shown in place of pod columns (missing pods, node state).
func (l line) note() string {
	switch {
	case l.grp != nil:
		return l.grp.note
	case l.bkt != nil:
		return l.bkt.note
	}
	return ""
}

// namespace of the line's object ("" for node lines).
func (l line) namespace() string {
	switch {
	case l.pod != nil:
		return l.pod.Namespace
	case l.bkt != nil:
		return l.bkt.key.ns
	case l.kind == nsNode:
		return l.grp.label
	}
	return ""
}

// nodeName is the cluster node of the line's pod or node group.
func (l line) nodeName() string {
	switch {
	case l.pod != nil:
		return l.pod.Node
	case l.kind == k8sNodeNode:
		return l.grp.node
	}
	return ""
}

type wlKey struct{ ns, kind, name string }

// bucket holds the pods of one workload (or the bare pods of a namespace, or
// the pods of a node), kept sorted lazily: only buckets a batch touched are
// sorted again, so a frame's update costs what changed, not the cluster size.
type bucket struct {
	key    wlKey
	id     lineID
	pods   []*podItem
	sorted bool
	// jobs are a CronJob's Jobs, the level between it and its pods,
	// filled with the visible pods on each rebuild.
	jobs map[string]*bucket
	// per rebuild, over the pods that pass the filter
	health live.Health
	count  [4]int
	note   string
	use    usageSum
}

// group is a namespace (or a node) and its buckets.
type group struct {
	id      lineID
	label   string
	kind    nodeKind
	node    string
	buckets map[wlKey]*bucket
	// per rebuild
	health live.Health
	count  [4]int
	note   string
	order  []*bucket
	use    usageSum
}

// PodTree is the pod tree pane: namespace → workload → pod → container (or
// node → pod → container), with health rolled up and problems first. It
// keeps the cursor on the same object across live updates.
type PodTree struct {
	rows map[types.UID]*podItem
	// items holds the same pods as rows, for the loops over every pod
	// (filtering, regrouping): a slice walks 100k pods several times
	// faster than a map.
	items []*podItem
	// counts is pods by health, kept as rows change: the header shows it
	// on every frame, and counting 100k rows per View would cost more
	// than drawing the screen.
	counts    [4]int
	workloads map[types.UID]live.WorkloadRow
	nodes     map[string]live.NodeRow
	// failedCreate holds the latest FailedCreate message per owner
	// ("ns/replicaset-name"), the reason a workload has no pods.
	failedCreate map[string]string
	// jobOwner is the CronJob of each watched Job ("" for a Job of its
	// own): it puts a Job's pods under the right CronJob even when the
	// Job's name does not follow the CronJob controller's pattern.
	jobOwner map[jobKey]string

	groups map[lineID]*group

	collapsed map[lineID]bool // namespaces, workloads and nodes the user closed
	expanded  map[lineID]bool // pods the user opened
	lines     []line

	cursorID      lineID
	cursor, top   int
	width, height int

	// cache holds the styled lines of the last frame (see lineCache).
	cache *lineCache

	filter string
	query  string   // filter, lower-cased
	words  []string // query words
	exact  bool     // the words are matched as substrings, not subsequences
	// filterGen counts filter changes; a filter job's result is applied
	// only if no change came after it (see Filter).
	filterGen uint64
	// pending is set while a filter job runs; touched are the pods placed
	// meanwhile, whose match the job's result does not cover.
	pending bool
	touched []*podItem
	// instance tells this tree's filter jobs from those of the tree it
	// replaced (a namespace or context switch makes a new one); it is
	// shared by the copies bubbletea makes.
	instance     *struct{ _ byte }
	problemsOnly bool
	byNode       bool
	// usage is the latest metrics.k8s.io sample while the usage columns
	// show (showUsage); each podItem points at its pod's.
	usage     map[types.NamespacedName]*usage.Pod
	showUsage bool
}

// NewPodTree returns an empty tree.
func NewPodTree() PodTree {
	return PodTree{
		rows:      map[types.UID]*podItem{},
		workloads: map[types.UID]live.WorkloadRow{}, nodes: map[string]live.NodeRow{}, failedCreate: map[string]string{},
		jobOwner:  map[jobKey]string{},
		groups:    map[lineID]*group{},
		collapsed: map[lineID]bool{}, expanded: map[lineID]bool{},
		cache: &lineCache{}, instance: &struct{ _ byte }{},
	}
}

// Apply merges a watch batch and rebuilds the visible lines, unless every
// change kept its pod's place, health and filter match (a restart count or
// a status word, most of a busy cluster's churn): then only those pods'
// lines are repointed, and a batch costs what it holds, not the cluster size.
func (t *PodTree) Apply(b live.Batch) {
	// Jobs first, so the pods of this batch already group under them.
	structural := t.applyJobs(b)
	// Nodes first: a quiet pod shows its node's verdict (PodRow.OnNode).
	var rejudged map[string]bool
	noteNode := func(name string, changed bool) {
		if changed {
			if rejudged == nil {
				rejudged = map[string]bool{}
			}
			rejudged[name] = true
		}
	}
	for _, n := range b.Nodes {
		old, had := t.nodes[n.Name]
		t.nodes[n.Name] = n
		noteNode(n.Name, !had || old.QuietRule != n.QuietRule || old.QuietHealth != n.QuietHealth || old.QuietShort != n.QuietShort)
	}
	for _, n := range b.DeletedNodes {
		_, had := t.nodes[n]
		delete(t.nodes, n)
		noteNode(n, had)
	}
	for i := range b.Pods {
		n, known := t.nodes[b.Pods[i].Node]
		r := b.Pods[i].OnNode(n, known)
		if t.place(&r) {
			structural = true
		}
	}
	if rejudged != nil {
		for _, it := range t.items {
			if old := it.row; rejudged[old.Node] && (old.Rule == "" || old.NodeJudged) {
				n, known := t.nodes[old.Node]
				if r := old.OnNode(n, known); r.Rule != old.Rule || r.Cause != old.Cause {
					if t.place(&r) {
						structural = true
					}
				}
			}
		}
	}
	for _, uid := range b.DeletedPods {
		if it := t.rows[uid]; it != nil {
			t.counts[it.row.Health]--
			t.unplace(it)
			delete(t.rows, uid)
			t.dropItem(it)
		}
	}
	for _, w := range b.Workloads {
		t.workloads[w.UID] = w
	}
	for _, uid := range b.DeletedWorkloads {
		delete(t.workloads, uid)
	}
	for _, e := range b.Events {
		if e.Reason == "FailedCreate" {
			t.failedCreate[e.Namespace+"/"+e.ObjectName] = e.Message
		}
	}
	if structural || len(b.DeletedPods)+len(b.Workloads)+len(b.DeletedWorkloads)+len(b.Nodes)+len(b.DeletedNodes) > 0 {
		t.rebuild()
	}
}

// jobKey names a Job in its namespace.
type jobKey struct{ ns, name string }

// applyJobs records the CronJob of each Job in the batch. When that moves
// pods (a Job's owner differs from what its name suggests, which the pods
// were grouped by), it regroups the pods of Jobs and reports true; owners
// that match the name, the common case, cost nothing more.
func (t *PodTree) applyJobs(b live.Batch) bool {
	moved := false
	for _, w := range b.Workloads {
		if w.Kind != "Job" {
			continue
		}
		k := jobKey{w.Namespace, w.Name}
		old, had := t.jobOwner[k]
		t.jobOwner[k] = w.Owner
		if (had && old != w.Owner) || (!had && w.Owner != live.CronJobOfJob(w.Name)) {
			moved = true
		}
	}
	for _, uid := range b.DeletedWorkloads {
		if w, ok := t.workloads[uid]; ok && w.Kind == "Job" {
			k := jobKey{w.Namespace, w.Name}
			if owner, had := t.jobOwner[k]; had {
				delete(t.jobOwner, k)
				moved = moved || owner != live.CronJobOfJob(w.Name)
			}
		}
	}
	if !moved {
		return false
	}
	for _, it := range t.items {
		if it.row.Job == "" {
			continue
		}
		g, k := t.groupOf(it.row)
		if it.bkt != nil && it.bkt.key == k && g.buckets[k] == it.bkt {
			continue
		}
		t.unplace(it)
		nb := g.bucket(k)
		nb.pods = append(nb.pods, it)
		nb.sorted = false
		it.bkt = nb
	}
	return true
}

// workloadOf is the pod's workload in the tree: its own guess, corrected
// by the watched Job's owner when the pod belongs to a Job.
func (t *PodTree) workloadOf(r *live.PodRow) (kind, name string) {
	if r.Job != "" && len(t.jobOwner) > 0 {
		if owner, ok := t.jobOwner[jobKey{r.Namespace, r.Job}]; ok {
			if owner != "" {
				return "CronJob", owner
			}
			return "Job", r.Job
		}
	}
	return r.WorkloadKind, r.WorkloadName
}

// searchText joins the fields the filter looks at, lower-cased, separated
// by NULs so a query never matches across two fields.
func searchText(r *live.PodRow) string {
	var b strings.Builder
	for _, f := range []string{r.Namespace, r.WorkloadName, r.Name, r.Node, r.Status, r.Cause} {
		b.WriteString(f)
		b.WriteByte(0)
	}
	for _, c := range r.Containers {
		b.WriteString(c.Name)
		b.WriteByte(0)
	}
	return strings.ToLower(b.String())
}

// groupOf says where a pod sits in the current grouping.
func (t *PodTree) groupOf(r *live.PodRow) (*group, wlKey) {
	if t.byNode {
		name := r.Node
		if name == "" {
			name = "(not scheduled)"
		}
		id := lineID{kind: k8sNodeNode, name: name}
		g := t.groups[id]
		if g == nil {
			g = &group{id: id, label: name, kind: k8sNodeNode, node: r.Node, buckets: map[wlKey]*bucket{}}
			t.groups[id] = g
		}
		return g, wlKey{}
	}
	id := lineID{kind: nsNode, name: r.Namespace}
	g := t.groups[id]
	if g == nil {
		g = &group{id: id, label: r.Namespace, kind: nsNode, buckets: map[wlKey]*bucket{}}
		t.groups[id] = g
	}
	kind, name := t.workloadOf(r)
	return g, wlKey{r.Namespace, kind, name}
}

func (g *group) bucket(k wlKey) *bucket {
	b := g.buckets[k]
	if b == nil {
		b = &bucket{key: k, id: lineID{kind: workloadNode, name: k.ns + "\x00" + k.kind + "\x00" + k.name}, sorted: true}
		g.buckets[k] = b
	}
	return b
}

// podItem is a pod as the tree holds it: the row, the text the filter
// matches against, whether it matches, and where it sits. Keeping these on
// the item (not in maps keyed by UID) keeps a refilter of 100k pods linear
// and cheap.
type podItem struct {
	row     *live.PodRow
	search  string
	bkt     *bucket
	line    int32       // index of its line in PodTree.lines, -1 when not shown
	idx     int32       // index in PodTree.items, -1 once deleted
	health  live.Health // row.Health, kept here so a rebuild reads no row
	matched bool
	use     *usage.Pod // its usage sample, while the usage columns show
}

// dropItem removes a deleted pod from items.
func (t *PodTree) dropItem(it *podItem) {
	last := t.items[len(t.items)-1]
	t.items[it.idx], last.idx = last, it.idx
	t.items[len(t.items)-1] = nil
	t.items = t.items[:len(t.items)-1]
	it.idx = -1
}

// place puts a new or changed pod into its bucket and reports whether the
// lines must be rebuilt; when they need not, the pod's line now shows r.
func (t *PodTree) place(r *live.PodRow) (rebuild bool) {
	it := t.rows[r.UID]
	if it == nil {
		it = &podItem{line: -1, idx: int32(len(t.items))}
		t.rows[r.UID] = it
		t.items = append(t.items, it)
		if t.usage != nil {
			it.use = t.usage[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}]
		}
	}
	if t.pending {
		t.touched = append(t.touched, it)
	}
	old, wasMatched := it.row, it.matched
	if old != nil {
		t.counts[old.Health]--
	}
	t.counts[r.Health]++
	it.row, it.search, it.health = r, searchText(r), r.Health
	it.matched = t.filter == "" || t.matches(it.search)
	g, k := t.groupOf(r)
	if it.bkt != nil && it.bkt.key == k && g.buckets[k] == it.bkt {
		// Same place: the order changes only with health.
		if old.Health != r.Health {
			it.bkt.sorted = false
			return true
		}
		return it.matched != wasMatched || !t.repoint(it, old)
	}
	t.unplace(it)
	b := g.bucket(k)
	b.pods = append(b.pods, it)
	b.sorted = false
	it.bkt = b
	return true
}

// repoint makes the line of a pod whose place, health and match did not
// change show its new row. It reports false when that is not enough: an
// open pod's container lines take their health from the containers.
func (t *PodTree) repoint(it *podItem, old *live.PodRow) bool {
	if it.line < 0 {
		return true // not shown before, so not now either
	}
	if int(it.line) >= len(t.lines) {
		return false
	}
	l := &t.lines[it.line]
	if l.kind != podNode || l.pod != old || l.open {
		return false
	}
	l.pod = it.row
	return true
}

func (t *PodTree) unplace(it *podItem) {
	b := it.bkt
	if b == nil {
		return
	}
	if i := slices.Index(b.pods, it); i >= 0 {
		b.pods = slices.Delete(b.pods, i, i+1)
	}
	it.bkt = nil
}

// regroup rebuilds every bucket after the grouping mode changed.
func (t *PodTree) regroup() {
	t.groups = map[lineID]*group{}
	for _, it := range t.items {
		g, k := t.groupOf(it.row)
		b := g.bucket(k)
		b.pods = append(b.pods, it)
		b.sorted = false
		it.bkt = b
	}
}

// SetUsage shows a usage sample in the usage columns (show), or hides them.
// A pod the sample lacks (new, not running) shows blank cells. The tree
// keeps the sample: it is the poll's, never changed after.
func (t *PodTree) SetUsage(pods map[types.NamespacedName]*usage.Pod, show bool) {
	t.showUsage = show
	t.usage = nil
	if show {
		t.usage = pods
	}
	for _, it := range t.items {
		it.use = nil
		if t.usage != nil {
			it.use = t.usage[types.NamespacedName{Namespace: it.row.Namespace, Name: it.row.Name}]
		}
	}
	t.rebuild()
}

func (t *PodTree) usageShown() bool { return t.showUsage && t.usage != nil }

// Counts returns how many pods are in each health state.
func (t *PodTree) Counts() [4]int { return t.counts }

// Len is the number of pods held.
func (t *PodTree) Len() int { return len(t.rows) }

// Node returns what is known of a cluster node.
func (t *PodTree) Node(name string) (live.NodeRow, bool) {
	n, ok := t.nodes[name]
	return n, ok
}

// Pod finds a pod by namespace and name.
func (t *PodTree) Pod(ns, name string) *live.PodRow {
	for _, it := range t.items {
		if it.row.Namespace == ns && it.row.Name == name {
			return it.row
		}
	}
	return nil
}

// SetSize sets the pane's size in cells.
func (t *PodTree) SetSize(w, h int) {
	t.width, t.height = w, h
	t.scrollToCursor()
}

// SetFilter sets the fuzzy filter query and applies it at once. A query
// that extends the previous one only narrows its matches. A filter job
// still running is forgotten.
func (t *PodTree) SetFilter(q string) {
	t.filterGen++
	t.pending, t.touched = false, nil
	if q == "" {
		t.filter, t.query, t.words = "", "", nil
		for _, it := range t.items {
			it.matched = true
		}
		t.rebuild()
		return
	}
	job := t.newFilterJob(q)
	t.finish(job, job.run())
}

// asyncFilterMin is the size from which Filter matches off the UI loop:
// below it matching takes well under a millisecond.
const asyncFilterMin = 5000

// Filter sets the filter query as the user types it. On a big tree the
// matching runs in the returned command, off the UI loop and over every
// core, and FinishFilter applies its result, unless another keystroke came
// first: then the result is stale and dropped, and typing never waits for
// the matching of a query already replaced. Until then the tree keeps
// showing the previous matches.
func (t *PodTree) Filter(q string) tea.Cmd {
	if q == "" || len(t.items) < asyncFilterMin {
		t.SetFilter(q)
		return nil
	}
	t.filterGen++
	t.pending, t.touched = true, nil
	job := t.newFilterJob(q)
	return func() tea.Msg { return filterDoneMsg{job: job, result: job.run()} }
}

// FilterPending reports whether a typed query is still being matched.
func (t *PodTree) FilterPending() bool { return t.pending }

// FinishFilter applies a filter job's result; it reports false when the
// result was stale and dropped.
func (t *PodTree) FinishFilter(msg filterDoneMsg) bool {
	if msg.job.tree != t.instance || msg.job.gen != t.filterGen || !t.pending {
		return false
	}
	t.finish(msg.job, msg.result)
	return true
}

// filterDoneMsg carries a filter job's result to the UI loop.
type filterDoneMsg struct {
	job    *filterJob
	result filterResult
}

// filterJob is what matching needs, copied on the UI loop so that the
// matching itself reads nothing the tree may change meanwhile.
type filterJob struct {
	tree       *struct{ _ byte }
	gen        uint64
	filter     string
	words      []string
	narrowing  bool // the query extends the one applied before
	prevExact  bool
	items      []*podItem // never dereferenced off the UI loop
	texts      []string   // items' search texts
	prev       []bool     // items' matches under the previous query
	goroutines int
}

type filterResult struct {
	exact   bool
	matched []bool
}

func (t *PodTree) newFilterJob(q string) *filterJob {
	query := strings.ToLower(q)
	j := &filterJob{
		tree: t.instance, gen: t.filterGen, filter: q, words: strings.Fields(query),
		narrowing: t.filter != "" && strings.HasPrefix(query, t.query), prevExact: t.exact,
		items: make([]*podItem, len(t.items)), texts: make([]string, len(t.items)), prev: make([]bool, len(t.items)),
		goroutines: runtime.GOMAXPROCS(0),
	}
	copy(j.items, t.items)
	for i, it := range t.items {
		j.texts[i], j.prev[i] = it.search, it.matched
	}
	return j
}

// run matches every item. Exact words first ("oom" finds OOMKilled, not
// every name with an o, an o and an m); only when nothing contains them
// does the filter fall back to fuzzy subsequences, so typos and
// abbreviations still find something.
func (j *filterJob) run() filterResult {
	res := filterResult{matched: make([]bool, len(j.texts))}
	for _, exact := range []bool{true, false} {
		res.exact = exact
		onlyPrev := j.narrowing && exact == j.prevExact
		n := j.parallel(func(lo, hi int) int {
			found := 0
			for i := lo; i < hi; i++ {
				m := (!onlyPrev || j.prev[i]) && matchWords(j.texts[i], j.words, exact)
				res.matched[i] = m
				if m {
					found++
				}
			}
			return found
		})
		if n > 0 || !exact {
			break
		}
	}
	return res
}

// parallel splits [0, len(texts)) over the job's goroutines and sums what
// f returns; each goroutine writes only its own range.
func (j *filterJob) parallel(f func(lo, hi int) int) int {
	n := len(j.texts)
	parts := min(j.goroutines, max(1, n/asyncFilterMin))
	if parts <= 1 {
		return f(0, n)
	}
	counts := make([]int, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[p] = f(p*n/parts, (p+1)*n/parts)
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	return total
}

// finish applies a job's result on the UI loop. Pods changed or added since
// the job started are matched again here (an item deleted meanwhile is
// set too, harmlessly: nothing holds it any more).
func (t *PodTree) finish(j *filterJob, r filterResult) {
	t.filter, t.query, t.words, t.exact = j.filter, strings.ToLower(j.filter), j.words, r.exact
	for i, it := range j.items {
		it.matched = r.matched[i]
	}
	// Pods placed since the job started (changed or new) are in touched.
	for _, it := range t.touched {
		if it.idx >= 0 {
			it.matched = t.matches(it.search)
		}
	}
	t.pending, t.touched = false, nil
	t.rebuild()
}

// matches says whether every word of the query is a case-insensitive
// subsequence of one field (namespace, workload, pod, node, status, cause,
// container): "pay oom" finds the OOMKilled pod in payments, while a word is
// never stitched together from letters scattered over several fields. It is
// the notion of a match sahilm/fuzzy has (which highlights the rows on
// screen) without its scoring, so it stays linear over 100k pods.
func (t *PodTree) matches(s string) bool { return matchWords(s, t.words, t.exact) }

func matchWords(s string, words []string, exact bool) bool {
	for _, word := range words {
		if exact {
			// NULs separate the fields, so a word never spans two.
			if !strings.Contains(s, word) {
				return false
			}
		} else if !anyFieldHas(s, word) {
			return false
		}
	}
	return true
}

func anyFieldHas(s, word string) bool {
	j := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == 0:
			j = 0 // next field: start the word again
		case s[i] == word[j]:
			j++
			if j == len(word) {
				return true
			}
		}
	}
	return false
}

// ToggleProblemsOnly hides or shows healthy pods.
func (t *PodTree) ToggleProblemsOnly() bool {
	t.problemsOnly = !t.problemsOnly
	t.rebuild()
	return t.problemsOnly
}

// ToggleByNode switches between grouping by namespace and by node.
func (t *PodTree) ToggleByNode() bool {
	t.byNode = !t.byNode
	t.regroup()
	t.rebuild()
	return t.byNode
}

// Selected returns the pod under the cursor (or owning the container under it).
func (t *PodTree) Selected() *live.PodRow {
	if t.cursor < len(t.lines) {
		return t.lines[t.cursor].pod
	}
	return nil
}

// SelectedLine returns the line under the cursor.
func (t *PodTree) SelectedLine() (line, bool) {
	if t.cursor < len(t.lines) {
		return t.lines[t.cursor], true
	}
	return line{}, false
}

// SelectedContainer names the container under the cursor, if any.
func (t *PodTree) SelectedContainer() string {
	if l, ok := t.SelectedLine(); ok && l.kind == containerNode {
		return l.pod.Containers[l.ctr].Name
	}
	return ""
}

// Select puts the cursor on a pod, opening what hides it.
func (t *PodTree) Select(ns, name string) bool {
	p := t.Pod(ns, name)
	if p == nil {
		return false
	}
	if t.filter != "" {
		t.SetFilter("")
	}
	t.problemsOnly = t.problemsOnly && p.Health != live.Healthy
	delete(t.collapsed, lineID{kind: nsNode, name: ns})
	delete(t.collapsed, lineID{kind: k8sNodeNode, name: p.Node})
	if b := t.rows[p.UID].bkt; b != nil {
		delete(t.collapsed, b.id)
		if b.key.kind == "CronJob" {
			delete(t.collapsed, lineID{kind: workloadNode, name: p.Namespace + "\x00Job\x00" + p.Job})
		}
	}
	t.cursorID = lineID{kind: podNode, name: string(p.UID)}
	t.rebuild()
	return true
}

// SelectFirstPod puts the cursor on the first pod shown (the worst, as
// pods sort worst first), so that a filter and Enter leave it on what the
// user was looking for; false when no pod is shown.
func (t *PodTree) SelectFirstPod() bool {
	for i, l := range t.lines {
		if l.kind == podNode {
			t.setCursor(i)
			return true
		}
	}
	return false
}

// Move moves the cursor by delta lines.
func (t *PodTree) Move(delta int) { t.setCursor(t.cursor + delta) }

// MoveTo puts the cursor on an absolute line (negative counts from the end).
func (t *PodTree) MoveTo(i int) {
	if i < 0 {
		i = len(t.lines) + i
	}
	t.setCursor(i)
}

// ClickRow selects the line at a row of the pane (0 is the column header).
func (t *PodTree) ClickRow(row int) {
	if row >= 1 {
		t.setCursor(t.top + row - 1)
	}
}

func (t *PodTree) setCursor(i int) {
	if len(t.lines) == 0 {
		t.cursor, t.cursorID = 0, lineID{}
		return
	}
	t.cursor = max(0, min(i, len(t.lines)-1))
	t.cursorID = t.lines[t.cursor].id
	t.scrollToCursor()
}

func (t *PodTree) rowsVisible() int { return max(1, t.height-1) }

func (t *PodTree) scrollToCursor() {
	if t.height <= 0 {
		return
	}
	h := t.rowsVisible()
	if t.cursor < t.top {
		t.top = t.cursor
	}
	if t.cursor >= t.top+h {
		t.top = t.cursor - h + 1
	}
	t.top = max(0, min(t.top, len(t.lines)-h))
}

// SetOpen opens or closes the node under the cursor.
func (t *PodTree) SetOpen(open bool) {
	l, ok := t.SelectedLine()
	if !ok {
		return
	}
	switch l.kind {
	case podNode:
		if open {
			t.expanded[l.id] = true
		} else {
			delete(t.expanded, l.id)
		}
	case containerNode:
		if !open {
			// Closing on a container closes its pod and moves up to it.
			id := lineID{kind: podNode, name: string(l.pod.UID)}
			delete(t.expanded, id)
			t.cursorID = id
		}
	default:
		t.collapsed[l.id] = !open
	}
	t.rebuild()
}

// Toggle flips the node under the cursor.
func (t *PodTree) Toggle() {
	if l, ok := t.SelectedLine(); ok {
		t.SetOpen(!l.open)
	}
}

func (t *PodTree) visible(it *podItem) bool {
	return it.matched && (!t.problemsOnly || it.health != live.Healthy)
}

// rebuild recomputes the visible lines, keeping the cursor on the same object
// and the selection's screen position where possible. Only buckets touched
// since the last rebuild are re-sorted.
func (t *PodTree) rebuild() {
	screenPos := t.cursor - t.top
	filtering := t.filter != ""
	t.addMissingWorkloads()

	groups := make([]*group, 0, len(t.groups))
	for id, g := range t.groups {
		g.health, g.count, g.order, g.use = live.Healthy, [4]int{}, g.order[:0], usageSum{}
		for k, b := range g.buckets {
			if len(b.pods) == 0 && b.note == "" {
				delete(g.buckets, k)
				continue
			}
			if !b.sorted {
				slices.SortFunc(b.pods, func(x, y *podItem) int {
					a, c := x.row, y.row
					return cmp.Or(cmp.Compare(c.Health, a.Health), cmp.Compare(a.Namespace, c.Namespace), cmp.Compare(a.Name, c.Name))
				})
				b.sorted = true
			}
			b.health, b.count, b.use = live.Healthy, [4]int{}, usageSum{}
			if b.note != "" {
				b.health = b.noteHealth()
			}
			shown := b.note != ""
			for _, it := range b.pods {
				it.line = -1 // until the lines below place it
				if !t.visible(it) {
					continue
				}
				shown = true
				b.count[it.health]++
				b.health = max(b.health, it.health)
				b.use.add(it.use)
			}
			if !shown {
				continue
			}
			for i := range b.count {
				g.count[i] += b.count[i]
			}
			g.use.cpuMilli += b.use.cpuMilli
			g.use.memBytes += b.use.memBytes
			g.use.pods += b.use.pods
			g.health = max(g.health, b.health)
			g.order = append(g.order, b)
		}
		if len(g.buckets) == 0 {
			delete(t.groups, id)
			continue
		}
		if len(g.order) == 0 {
			continue
		}
		g.note = ""
		if g.kind == k8sNodeNode {
			if n, ok := t.nodes[g.node]; ok {
				g.health = max(g.health, n.Health)
				g.note = n.Summary()
			}
		}
		slices.SortFunc(g.order, func(a, b *bucket) int {
			return cmp.Or(cmp.Compare(b.health, a.health), cmp.Compare(boolInt(a.key.kind == ""), boolInt(b.key.kind == "")),
				cmp.Compare(a.key.name, b.key.name), cmp.Compare(a.key.kind, b.key.kind))
		})
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int {
		return cmp.Or(cmp.Compare(b.health, a.health), cmp.Compare(a.label, b.label))
	})

	lines := t.lines[:0]
	for _, g := range groups {
		open := filtering || !t.collapsed[g.id]
		lines = append(lines, line{id: g.id, kind: g.kind, health: g.health, open: open, grp: g})
		if !open {
			continue
		}
		for _, b := range g.order {
			depth := uint8(1)
			if b.key.kind != "" {
				wlOpen := filtering || !t.collapsed[b.id]
				lines = append(lines, line{id: b.id, kind: workloadNode, depth: 1, health: b.health, open: wlOpen, bkt: b})
				if !wlOpen {
					continue
				}
				depth = 2
			}
			if b.key.kind == "CronJob" {
				lines = t.appendJobs(lines, b, depth, filtering)
				continue
			}
			for _, it := range b.pods {
				if t.visible(it) {
					lines = t.appendPod(lines, it, depth)
				}
			}
		}
	}
	t.lines = lines

	// Keep the cursor on the same object; if it vanished, stay at the same index.
	idx := -1
	if t.cursorID != (lineID{}) {
		for i := range t.lines {
			if t.lines[i].id == t.cursorID {
				idx = i
				break
			}
		}
	}
	if len(t.lines) == 0 {
		t.cursor, t.top = 0, 0
		return
	}
	if idx < 0 {
		idx = min(t.cursor, len(t.lines)-1)
	}
	t.cursor = max(idx, 0)
	t.cursorID = t.lines[t.cursor].id
	t.top = t.cursor - screenPos
	t.scrollToCursor()
}

// appendJobs adds a CronJob's visible pods under a line per Job (CronJob →
// Job → pod), the Job holding the worst pod first, then the newest: the
// CronJob controller names its Jobs after their scheduled minute.
func (t *PodTree) appendJobs(lines []line, b *bucket, depth uint8, filtering bool) []line {
	if b.jobs == nil {
		b.jobs = map[string]*bucket{}
	}
	for _, jb := range b.jobs {
		jb.pods, jb.health, jb.count, jb.use = jb.pods[:0], live.Healthy, [4]int{}, usageSum{}
	}
	var order []*bucket
	for _, it := range b.pods { // sorted by health, so each Job's pods stay sorted
		if !t.visible(it) {
			continue
		}
		jb := b.jobs[it.row.Job]
		if jb == nil {
			jb = &bucket{key: wlKey{b.key.ns, "Job", it.row.Job}, sorted: true,
				id: lineID{kind: workloadNode, name: b.key.ns + "\x00Job\x00" + it.row.Job}}
			b.jobs[it.row.Job] = jb
		}
		if len(jb.pods) == 0 {
			order = append(order, jb)
		}
		jb.pods = append(jb.pods, it)
		jb.count[it.health]++
		jb.health = max(jb.health, it.health)
		jb.use.add(it.use)
	}
	for name, jb := range b.jobs {
		if len(jb.pods) == 0 {
			delete(b.jobs, name)
		}
	}
	slices.SortFunc(order, func(x, y *bucket) int {
		return cmp.Or(cmp.Compare(y.health, x.health), cmp.Compare(y.key.name, x.key.name))
	})
	for _, jb := range order {
		open := filtering || !t.collapsed[jb.id]
		lines = append(lines, line{id: jb.id, kind: workloadNode, depth: depth, health: jb.health, open: open, bkt: jb})
		if !open {
			continue
		}
		for _, it := range jb.pods {
			lines = t.appendPod(lines, it, depth+1)
		}
	}
	return lines
}

func (b *bucket) noteHealth() live.Health {
	if strings.Contains(b.note, "FailedCreate") {
		return live.Failing
	}
	return live.Warning
}

func (t *PodTree) appendPod(lines []line, it *podItem, depth uint8) []line {
	p := it.row
	id := lineID{kind: podNode, name: string(p.UID)}
	// Most trees have no open pod: skip hashing every UID then.
	open := len(t.expanded) > 0 && t.expanded[id]
	it.line = int32(len(lines))
	lines = append(lines, line{id: id, kind: podNode, depth: depth, health: it.health, pod: p, open: open, byNode: t.byNode})
	if !open {
		return lines
	}
	for i, c := range p.Containers {
		h := live.Healthy
		if !c.Ready && !c.Init && p.Health != live.Healthy {
			h = p.Health
		}
		lines = append(lines, line{id: lineID{kind: containerNode, name: string(p.UID), ctr: int32(i)}, kind: containerNode, depth: depth + 1,
			health: h, pod: p, ctr: int32(i)})
	}
	return lines
}

// addMissingWorkloads gives controllers that want more pods than they have a
// line of their own (with the FailedCreate reason when there is one): their
// pods may never have been created, and only the workload's events say why.
func (t *PodTree) addMissingWorkloads() {
	for _, g := range t.groups {
		for _, b := range g.buckets {
			b.note = ""
		}
	}
	if t.byNode {
		return
	}
	for _, w := range t.workloads {
		if w.Missing() == 0 {
			continue
		}
		note := fmt.Sprintf("%d of %d pods exist", w.Current, w.Desired)
		if msg := t.failedCreateFor(w); msg != "" {
			note += " · FailedCreate: " + msg
		}
		if t.filter != "" && !t.matches(strings.ToLower(w.Namespace+"\x00"+w.Name+"\x00missing\x00failedcreate")) {
			continue
		}
		g, k := t.groupOf(&live.PodRow{Namespace: w.Namespace, WorkloadKind: w.Kind, WorkloadName: w.Name})
		g.bucket(k).note = note
	}
}

// failedCreateFor finds the FailedCreate message of a workload: on itself, or
// for a Deployment on one of its ReplicaSets (named <deployment>-<hash>).
func (t *PodTree) failedCreateFor(w live.WorkloadRow) string {
	if msg, ok := t.failedCreate[w.Namespace+"/"+w.Name]; ok {
		return msg
	}
	if w.Kind == "Deployment" {
		prefix := w.Namespace + "/" + w.Name + "-"
		for k, msg := range t.failedCreate {
			if strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "-") {
				return msg
			}
		}
	}
	return ""
}

func fuzzyPositions(q, s string) []int {
	m := fuzzy.Find(strings.ReplaceAll(q, " ", ""), []string{s})
	if len(m) == 0 {
		return nil
	}
	return m[0].MatchedIndexes
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
