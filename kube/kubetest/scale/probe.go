package scale

import (
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/ui"
)

// MarkKind says what a Mark observed.
type MarkKind uint8

// Marks the Recorder sets.
const (
	// MarkFirstRows: the model holds its first pods (the first useful frame).
	MarkFirstRows MarkKind = iota
	// MarkAllPods: the model holds every expected pod (the first full frame).
	MarkAllPods
	// MarkKey: a key press was handled (a filter keystroke: its matches
	// are applied).
	MarkKey
	// MarkPod: a tracked pod's restart count changed in the model.
	MarkPod
)

// Mark is a state of the model and the frame that first showed it.
type Mark struct {
	Kind     MarkKind
	UID      types.UID
	Restarts int32
	// Updated is when the Update that produced the state returned.
	Updated time.Time
	// Written is when the first frame rendered after it reached the output.
	Written time.Time
}

// Recorder watches a running program from both ends: the Probe reports what
// the model holds after each Update and when View ran, and the program's
// output (the Recorder is that io.Writer) says when a frame reached the
// terminal. A state seen after an Update belongs to the frame written after
// the following View, because bubbletea renders the model after every
// Update and flushes the latest render on its own frame ticker; that frame
// is the one that shows the state. Resolved marks arrive on Marks().
//
// The program calls Update and View on its event loop and Write on its
// renderer goroutine, so everything is guarded by one mutex; the work under
// it is a few map lookups, small next to what is measured.
type Recorder struct {
	expect int
	out    chan Mark

	mu                sync.Mutex
	sawRows, sawAll   bool
	keyOpen           bool   // a key press whose effect is not in the model yet
	lastContent       string // the last frame rendered
	tracked           map[types.UID]int32
	updated, rendered []Mark
	views, writes     int
	bytes             int64
	timing            bool
	viewTimes         []time.Duration
	dropped           int
}

// NewRecorder returns a recorder that sets MarkAllPods once the model holds
// expectPods pods.
func NewRecorder(expectPods int) *Recorder {
	// Marks are read as they come; the buffer only absorbs a reader's pause.
	return &Recorder{expect: expectPods, out: make(chan Mark, 4096), tracked: map[types.UID]int32{}}
}

// Marks delivers each mark once the frame showing it has been written.
func (r *Recorder) Marks() <-chan Mark { return r.out }

// Track starts watching the restart counts of pods (UID → current count):
// every change the model takes in becomes a MarkPod.
func (r *Recorder) Track(pods map[types.UID]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid, n := range pods {
		r.tracked[uid] = n
	}
}

// TimeViews turns the recording of View durations on or off; turning it on
// discards what was recorded before.
func (r *Recorder) TimeViews(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timing = on
	if on {
		r.viewTimes = r.viewTimes[:0]
	}
}

// Counters are the View calls and output writes (frames) so far, and the
// marks dropped because nobody read Marks.
type Counters struct {
	Views, Writes, Dropped int
	Bytes                  int64
	ViewTimes              []time.Duration
}

// Counters returns a snapshot of the counters.
func (r *Recorder) Counters() Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Counters{Views: r.views, Writes: r.writes, Dropped: r.dropped, Bytes: r.bytes,
		ViewTimes: append([]time.Duration(nil), r.viewTimes...)}
}

// afterUpdate records what the model holds now.
func (r *Recorder) afterUpdate(m ui.Model, msg tea.Msg) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.sawRows && m.PodCount() > 0 {
		r.sawRows = true
		r.updated = append(r.updated, Mark{Kind: MarkFirstRows, Updated: now})
	}
	if !r.sawAll && r.expect > 0 && m.PodCount() >= r.expect {
		r.sawAll = true
		r.updated = append(r.updated, Mark{Kind: MarkAllPods, Updated: now})
	}
	// A key is handled once its effect is in the model: for a filter
	// keystroke on a big tree that is when the matching, which runs off the
	// UI loop, has been applied, not when the typed character is echoed.
	if _, ok := msg.(tea.KeyPressMsg); ok {
		r.keyOpen = true
	}
	if r.keyOpen && !m.FilterPending() {
		r.keyOpen = false
		r.updated = append(r.updated, Mark{Kind: MarkKey, Updated: now})
	}
	for uid, last := range r.tracked {
		row, ok := m.PodByUID(uid)
		if !ok || row.Restarts == last {
			continue
		}
		r.tracked[uid] = row.Restarts
		r.updated = append(r.updated, Mark{Kind: MarkPod, UID: uid, Restarts: row.Restarts, Updated: now})
	}
}

// viewed is called after View: what the last Update produced is now in the
// frame the renderer will flush next. A frame identical to the last one
// written is not written at all (the renderer skips it): the terminal
// already shows that state, so its marks are resolved now.
func (r *Recorder) viewed(d time.Duration, content string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.views++
	if r.timing {
		r.viewTimes = append(r.viewTimes, d)
	}
	if content == r.lastContent && len(r.rendered) == 0 {
		for _, m := range r.updated {
			m.Written = now
			r.emit(m)
		}
		r.updated = r.updated[:0]
		return
	}
	r.lastContent = content
	r.rendered = append(r.rendered, r.updated...)
	r.updated = r.updated[:0]
}

func (r *Recorder) emit(m Mark) {
	select {
	case r.out <- m:
	default:
		r.dropped++
	}
}

// Write is the program's output: it stamps the frame and resolves every
// mark rendered before it. The bytes are counted and dropped.
func (r *Recorder) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	r.bytes += int64(len(p))
	for _, m := range r.rendered {
		m.Written = now
		r.emit(m)
	}
	r.rendered = r.rendered[:0]
	return len(p), nil
}

// Probe wraps kdoctor's root model to observe it inside the real program:
// after each Update it tells the Recorder what the model now holds, and it
// times View. It changes nothing the model does.
type Probe struct {
	Model ui.Model
	rec   *Recorder
}

// NewProbe wraps m.
func NewProbe(m ui.Model, rec *Recorder) Probe { return Probe{Model: m, rec: rec} }

// Init starts the model (it starts the watch).
func (p Probe) Init() tea.Cmd { return p.Model.Init() }

// Update runs the model's Update and records the result.
func (p Probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if im, ok := msg.(inspectMsg); ok {
		im.f(p.Model)
		close(im.done)
		return p, nil
	}
	next, cmd := p.Model.Update(msg)
	m, ok := next.(ui.Model)
	if !ok {
		return next, cmd // not kdoctor's model any more: stop observing
	}
	p.Model = m
	p.rec.afterUpdate(m, msg)
	return p, cmd
}

// View times the model's View.
func (p Probe) View() tea.View {
	start := time.Now()
	v := p.Model.View()
	p.rec.viewed(time.Since(start), v.Content)
	return v
}

// inspectMsg carries a function to run on the program's event loop.
type inspectMsg struct {
	f    func(ui.Model)
	done chan struct{}
}

// Inspect runs f with the current model on the program's event loop, the
// one place where reading the model cannot race with Update, and waits for
// it. The program must be running a Probe.
func Inspect(p *tea.Program, f func(ui.Model)) {
	msg := inspectMsg{f: f, done: make(chan struct{})}
	p.Send(msg)
	<-msg.done
}
