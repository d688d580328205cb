package action

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// LogLine is one line of a container log.
type LogLine struct {
	// Pod is set when the stream merges the pods of a workload
	// (OpenWorkloadLogs), so the view can prefix and colour by pod.
	Pod string
	// Container is set when the stream merges several containers
	// (LogOptions.AllContainers, or a workload's pods), so the view can
	// prefix each line with it.
	Container string
	// Note marks a line kdoctor wrote into a workload stream (a pod joined,
	// went away, or the pod cap was reached), not a container's output.
	Note bool
	// Time is the kubelet's timestamp when LogOptions.Timestamps asked for
	// one; it is removed from Text so the view can format it.
	Time time.Time
	// Text is the line without its newline, cut to the ring's line cap.
	Text string
}

// String renders the line as `kubectl logs --prefix` would, without the timestamp.
func (l LogLine) String() string {
	switch {
	case l.Note || (l.Pod == "" && l.Container == ""):
		return l.Text
	case l.Pod != "":
		return "[" + l.Pod + "/" + l.Container + "] " + l.Text
	}
	return "[" + l.Container + "] " + l.Text
}

// Defaults for the bounded log buffers.
const (
	// DefaultLogLines is how many lines a LogRing (and a LogStream's
	// pending buffer) keeps: enough to scroll back through a crash, small
	// enough (a few MB) to keep for every open log pane.
	DefaultLogLines = 10_000
	// DefaultMaxLineBytes caps one line: a minified JSON blob or a binary
	// dumped to stdout must not pin megabytes per line.
	DefaultMaxLineBytes = 16 << 10
	// minLineBytes keeps room for a truncation marker and some text.
	minLineBytes = 64
)

// LogRing keeps the last N lines of a log. However long a stream runs, its
// memory stays flat: new lines push the oldest out and Dropped counts them,
// so the view can say "N lines skipped" instead of silently losing history.
// A LogRing is not safe for concurrent use.
type LogRing struct {
	lines        []LogLine // grows up to capacity, then is reused in place
	start        int       // index of the oldest line once full
	capacity     int
	maxLineBytes int
	dropped      int64
}

// NewLogRing returns a ring of capacity lines, each cut to maxLineBytes;
// zero or negative values mean DefaultLogLines and DefaultMaxLineBytes.
func NewLogRing(capacity, maxLineBytes int) *LogRing {
	if capacity <= 0 {
		capacity = DefaultLogLines
	}
	if maxLineBytes <= 0 {
		maxLineBytes = DefaultMaxLineBytes
	}
	// Leave room for the truncation marker and a little text.
	maxLineBytes = max(maxLineBytes, minLineBytes)
	return &LogRing{capacity: capacity, maxLineBytes: maxLineBytes}
}

// Append adds a line, truncating it to the line cap and pushing out the
// oldest line when the ring is full.
func (r *LogRing) Append(l LogLine) {
	if len(l.Text) > r.maxLineBytes {
		l.Text = truncateLine(l.Text, r.maxLineBytes, 0)
	}
	if len(r.lines) < r.capacity {
		r.lines = append(r.lines, l)
		return
	}
	r.lines[r.start] = l
	r.start++
	if r.start == r.capacity {
		r.start = 0
	}
	r.dropped++
}

// AppendAll appends lines in order.
func (r *LogRing) AppendAll(lines []LogLine) {
	for _, l := range lines {
		r.Append(l)
	}
}

// Lines returns a copy of the kept lines, oldest first.
func (r *LogRing) Lines() []LogLine {
	out := make([]LogLine, 0, len(r.lines))
	out = append(out, r.lines[r.start:]...)
	return append(out, r.lines[:r.start]...)
}

// Len is the number of lines kept.
func (r *LogRing) Len() int { return len(r.lines) }

// Cap is the most lines the ring keeps.
func (r *LogRing) Cap() int { return r.capacity }

// MaxLineBytes is the line cap.
func (r *LogRing) MaxLineBytes() int { return r.maxLineBytes }

// Dropped counts the lines pushed out since the ring was made.
func (r *LogRing) Dropped() int64 { return r.dropped }

// take empties the ring and returns its lines, oldest first; Dropped keeps
// counting across takes.
func (r *LogRing) take() []LogLine {
	out := r.Lines()
	clear(r.lines) // let the strings go
	r.lines = r.lines[:0]
	r.start = 0
	return out
}

// truncateLine cuts s so that it and a marker saying how much was lost fit
// in limit bytes, on a character boundary. discarded counts bytes of the
// line thrown away before s was built (by the stream reader). The result is
// never longer than limit, so truncating twice changes nothing.
func truncateLine(s string, limit, discarded int) string {
	if len(s) <= limit && discarded == 0 {
		return s
	}
	// The marker's length depends on the count, which depends on the cut:
	// size it for the largest count it can show.
	room := max(limit-len(truncationMarker(len(s)+discarded)), 0)
	cut := min(room, len(s))
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncationMarker(len(s)-cut+discarded)
}

func truncationMarker(lost int) string {
	return " … [" + strconv.Itoa(lost) + " bytes cut]"
}
