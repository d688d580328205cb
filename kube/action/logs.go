package action

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// LogOptions says which container log to read and how much of it, like the
// flags of `kubectl logs`.
type LogOptions struct {
	// Container to read; empty means the pod's only container, else the one
	// named by the kubectl.kubernetes.io/default-container annotation, else
	// the first.
	Container string
	// AllContainers reads every container that has run (init, regular and
	// ephemeral), each line tagged with its container.
	AllContainers bool
	// Previous reads the last terminated instance (a crashed container's
	// last words) instead of the running one.
	Previous bool
	// Follow keeps the stream open for new lines until the container stops
	// or the stream is closed.
	Follow bool
	// TailLines > 0 starts with only the last N lines; 0 means all of them.
	TailLines int64
	// Since > 0 skips lines older than this; SinceTime, when set, wins.
	Since     time.Duration
	SinceTime time.Time
	// Timestamps asks the kubelet for each line's time (LogLine.Time).
	Timestamps bool
	// BufferLines bounds the lines waiting for the reader of the stream:
	// when the view falls behind a fast log the oldest are skipped and
	// counted (LogChunk.Skipped). Zero means DefaultLogLines.
	BufferLines int
	// MaxLineBytes cuts longer lines (zero means DefaultMaxLineBytes).
	MaxLineBytes int
}

// LogStatus is how one container's log stream ended. Not finding a log is
// a normal answer when troubleshooting, not a failure, so it is a status.
type LogStatus int

const (
	// LogComplete: the whole log was read, or the followed container stopped.
	LogComplete LogStatus = iota
	// LogNoPreviousInstance: Previous was asked but the container has not
	// restarted (or its previous log is already gone).
	LogNoPreviousInstance
	// LogNotStarted: the container is waiting to start, so it has no log yet.
	LogNotStarted
	// LogStopped: the stream was closed or its context ended.
	LogStopped
	// LogFailed: the log could not be read; LogEnd.Err says why.
	LogFailed
)

func (s LogStatus) String() string {
	switch s {
	case LogComplete:
		return "complete"
	case LogNoPreviousInstance:
		return "no previous instance"
	case LogNotStarted:
		return "not started"
	case LogStopped:
		return "stopped"
	case LogFailed:
		return "failed"
	}
	return fmt.Sprintf("LogStatus(%d)", int(s))
}

// LogEnd reports the end of one container's stream.
type LogEnd struct {
	// Pod is set in a workload's stream.
	Pod       string
	Container string
	Status    LogStatus
	// Message is one human sentence for the view, always set.
	Message string
	// Err is the underlying error for LogFailed.
	Err error
}

// LogChunk is everything a LogStream received since the previous chunk.
type LogChunk struct {
	Lines []LogLine
	// Skipped counts lines lost just before Lines because the reader fell
	// more than LogOptions.BufferLines behind the stream.
	Skipped int64
	// Ended lists the containers whose stream ended since the previous chunk.
	Ended []LogEnd
	// Done means every container's stream has ended: this is the last
	// chunk, and Next returns io.EOF from now on.
	Done bool
}

// LogStream reads one or more container logs in the background into a
// bounded buffer. The view reads it with Next, one tea.Cmd per chunk; one
// reader at a time. Close stops it.
type LogStream struct {
	// Containers are the containers being read, in display order.
	Containers []string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // holds one token when there is news for Next

	mu        sync.Mutex
	pending   *LogRing
	reported  int64 // pending.Dropped() already reported as Skipped
	ended     []LogEnd
	running   int
	delivered bool // the Done chunk went out

	// workload is set for a workload's stream (OpenWorkloadLogs).
	workload *workloadLogs
}

// OpenLogs starts reading a pod's container logs through src, so it works
// the same on the demo and on a real cluster. Errors finding the pod or its
// containers come back at once; each container's outcome (including
// "previous instance not found" and "not started yet") comes as a LogEnd in
// the stream. The stream lives until ctx ends or Close is called.
func OpenLogs(ctx context.Context, src kube.Source, namespace, pod string, opts LogOptions) (*LogStream, error) {
	containers, err := logContainers(ctx, src, namespace, pod, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &LogStream{
		Containers: containers,
		cancel:     cancel,
		wake:       make(chan struct{}, 1),
		pending:    NewLogRing(opts.BufferLines, opts.MaxLineBytes),
		running:    len(containers),
	}
	tag := len(containers) > 1 || opts.AllContainers
	for _, c := range containers {
		s.wg.Add(1)
		go s.read(ctx, src, namespace, pod, c, tag, opts)
	}
	return s, nil
}

// logContainers picks the containers to read, asking for the pod only
// when the options do not name one.
func logContainers(ctx context.Context, src kube.Source, namespace, pod string, opts LogOptions) ([]string, error) {
	if opts.Container != "" && !opts.AllContainers {
		return []string{opts.Container}, nil
	}
	p, err := src.Client().CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if !opts.AllContainers {
		if name := p.Annotations["kubectl.kubernetes.io/default-container"]; name != "" {
			return []string{name}, nil
		}
		if len(p.Spec.Containers) == 0 {
			return nil, fmt.Errorf("pod %s/%s has no containers", namespace, pod)
		}
		return []string{p.Spec.Containers[0].Name}, nil
	}
	// Init and ephemeral containers that never ran would only add "waiting
	// to start" noise; regular containers are always listed.
	ran := func(statuses []corev1.ContainerStatus, name string) bool {
		for _, st := range statuses {
			if st.Name == name {
				return st.State.Running != nil || st.State.Terminated != nil || st.LastTerminationState.Terminated != nil
			}
		}
		return false
	}
	var names []string
	for _, c := range p.Spec.InitContainers {
		if ran(p.Status.InitContainerStatuses, c.Name) {
			names = append(names, c.Name)
		}
	}
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.EphemeralContainers {
		if ran(p.Status.EphemeralContainerStatuses, c.Name) {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("pod %s/%s has no containers", namespace, pod)
	}
	return names, nil
}

// podLogOptions translates LogOptions for one container.
func podLogOptions(container string, opts LogOptions) *corev1.PodLogOptions {
	o := &corev1.PodLogOptions{
		Container:  container,
		Previous:   opts.Previous,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
	}
	if opts.TailLines > 0 {
		o.TailLines = &opts.TailLines
	}
	switch {
	case !opts.SinceTime.IsZero():
		t := metav1.NewTime(opts.SinceTime)
		o.SinceTime = &t
	case opts.Since > 0:
		secs := int64(math.Ceil(opts.Since.Seconds()))
		o.SinceSeconds = &secs
	}
	return o
}

// read streams one container's log into the pending buffer.
func (s *LogStream) read(ctx context.Context, src kube.Source, namespace, pod, container string, tag bool, opts LogOptions) {
	defer s.wg.Done()
	base := LogLine{}
	if tag {
		base.Container = container
	}
	s.finish(s.readInto(ctx, src, namespace, pod, container, base, opts))
}

// readInto streams one container's log into the pending buffer, each line
// starting from base (its prefix), and says how the stream ended.
func (s *LogStream) readInto(ctx context.Context, src kube.Source, namespace, pod, container string, base LogLine, opts LogOptions) LogEnd {
	rc, err := src.PodLogs(ctx, namespace, pod, podLogOptions(container, opts))
	if err != nil {
		return logEndFor(ctx, container, opts, err)
	}
	// Not every kube.Source's reader wakes up when ctx ends: close it then.
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer func() {
		stop()
		rc.Close()
	}()
	limit := s.pending.MaxLineBytes()
	err = scanLogLines(rc, limit, func(raw []byte, discarded int) {
		line := base
		if opts.Timestamps {
			line.Time, raw = splitTimestamp(raw)
		}
		line.Text = truncateLine(string(raw), limit, discarded)
		s.push(line)
	})
	if err != nil {
		return logEndFor(ctx, container, opts, err)
	}
	msg := fmt.Sprintf("end of the log of container %s", container)
	if opts.Follow {
		msg = fmt.Sprintf("the log stream of container %s ended (the container stopped or the connection closed)", container)
	}
	return LogEnd{Container: container, Status: LogComplete, Message: msg}
}

func (s *LogStream) push(l LogLine) {
	s.mu.Lock()
	s.pending.Append(l)
	s.mu.Unlock()
	s.signal()
}

func (s *LogStream) finish(e LogEnd) {
	s.mu.Lock()
	s.ended = append(s.ended, e)
	s.running--
	s.mu.Unlock()
	s.signal()
}

func (s *LogStream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next blocks until there are lines or ends to report, then returns all of
// them at once: a fast log arrives in few large chunks, not one message per
// line. After the Done chunk it returns io.EOF; when ctx ends, ctx.Err().
func (s *LogStream) Next(ctx context.Context) (LogChunk, error) {
	for {
		s.mu.Lock()
		if s.delivered {
			s.mu.Unlock()
			return LogChunk{}, io.EOF
		}
		// running reaching zero is news too: a workload stream's watcher
		// ends without a LogEnd of its own.
		if s.pending.Len() > 0 || len(s.ended) > 0 || s.running == 0 {
			c := LogChunk{
				Lines:   s.pending.take(),
				Skipped: s.pending.Dropped() - s.reported,
				Ended:   s.ended,
				Done:    s.running == 0,
			}
			s.reported = s.pending.Dropped()
			s.ended = nil
			s.delivered = c.Done
			s.mu.Unlock()
			return c, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return LogChunk{}, ctx.Err()
		case <-s.wake:
		}
	}
}

// Close stops every reader and waits for them; it is safe to call twice.
// Lines already received stay readable with Next.
func (s *LogStream) Close() {
	s.cancel()
	s.wg.Wait()
}

// scanLogLines calls emit for each line of r without its line ending. A
// line longer than limit is handed over cut to its first limit bytes, with
// the count of bytes discarded, so memory stays bounded whatever the input.
// The slice passed to emit is only valid during the call.
func scanLogLines(r io.Reader, limit int, emit func(line []byte, discarded int)) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var long []byte // a line longer than br's buffer, up to limit bytes
	discarded := 0
	for {
		frag, err := br.ReadSlice('\n')
		switch {
		case err == nil || (errors.Is(err, io.EOF) && (len(frag) > 0 || long != nil)):
			line := bytes.TrimSuffix(bytes.TrimSuffix(frag, []byte("\n")), []byte("\r"))
			if long != nil {
				room := limit - len(long)
				if len(line) > room {
					discarded += len(line) - max(room, 0)
					line = line[:max(room, 0)]
				}
				line = append(long, line...)
			} else if len(line) > limit {
				discarded += len(line) - limit
				line = line[:limit]
			}
			emit(line, discarded)
			long, discarded = nil, 0
			if err != nil {
				return nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
			room := limit - len(long)
			if len(frag) > room {
				discarded += len(frag) - max(room, 0)
				frag = frag[:max(room, 0)]
			}
			if long == nil {
				long = make([]byte, 0, min(limit, 2*len(frag)+1))
			}
			long = append(long, frag...)
		case errors.Is(err, io.EOF):
			return nil
		default:
			if len(frag) > 0 || long != nil {
				emit(append(long, frag[:min(len(frag), max(limit-len(long), 0))]...), discarded)
			}
			return err
		}
	}
}

// splitTimestamp parses the RFC 3339 time the kubelet puts before each
// line when asked for timestamps.
func splitTimestamp(line []byte) (time.Time, []byte) {
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		ts, rest = line, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return time.Time{}, line
	}
	return t, rest
}

// logEndFor turns a log error into the container's outcome: the kubelet's
// "previous terminated container … not found" and "… is waiting to start"
// are answers, not failures.
func logEndFor(ctx context.Context, container string, opts LogOptions, err error) LogEnd {
	msg := err.Error()
	switch {
	case ctx.Err() != nil:
		return LogEnd{Container: container, Status: LogStopped, Message: fmt.Sprintf("stopped reading the log of container %s", container)}
	case opts.Previous && strings.Contains(msg, "previous terminated container") && strings.Contains(msg, "not found"):
		return LogEnd{Container: container, Status: LogNoPreviousInstance,
			Message: fmt.Sprintf("container %s has no previous instance: it has not restarted (or its old log was already removed)", container)}
	case strings.Contains(msg, "is waiting to start"):
		why := ""
		if _, after, ok := strings.Cut(msg, "is waiting to start"); ok {
			why = strings.TrimSpace(strings.TrimPrefix(after, ":"))
		}
		m := fmt.Sprintf("container %s has not started yet, so it has no log", container)
		if why != "" {
			m = fmt.Sprintf("container %s has not started yet (%s), so it has no log", container, why)
		}
		return LogEnd{Container: container, Status: LogNotStarted, Message: m}
	}
	return LogEnd{Container: container, Status: LogFailed, Err: err,
		Message: fmt.Sprintf("cannot read the log of container %s: %s", container, kube.Explain(err))}
}
