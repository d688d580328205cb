package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/muesli/cancelreader"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/kubectl/pkg/util/term"
)

// ErrNoShell matches (errors.Is) the error of a shell into a container
// that has none, as distroless images do not.
var ErrNoShell = errors.New("container has no shell")

// NoShellError is a container without /bin/bash or /bin/sh. Its message
// says what to do instead.
type NoShellError struct {
	Namespace, Pod, Container string
	// Err is the runtime's answer to the last shell tried.
	Err error
}

func (e *NoShellError) Error() string {
	return fmt.Sprintf("container %s has no shell (distroless image?): try an ephemeral debug container: kubectl debug -it -n %s %s --image=busybox --target=%s",
		e.Container, e.Namespace, e.Pod, e.Container)
}

// Is makes errors.Is(err, ErrNoShell) true.
func (e *NoShellError) Is(target error) bool { return target == ErrNoShell }

func (e *NoShellError) Unwrap() error { return e.Err }

// shells are tried in order for an interactive session.
var shells = [][]string{{"/bin/bash"}, {"/bin/sh"}}

// ExecResult is how an exec went.
type ExecResult struct {
	// Command is what ran: the shell found, or the command asked for.
	Command []string
	// ExitCode is the remote command's exit status.
	ExitCode int
	// TTY: the session had a terminal (stdin was one).
	TTY      bool
	Duration time.Duration
}

// ExecCommand runs a command, by default an interactive shell, in a
// container through the API server (pods/exec), like `kubectl exec -it`.
// It implements bubbletea's tea.ExecCommand, so the UI hands it the
// terminal with tea.Exec and gets the terminal back intact afterwards: the
// terminal is in raw mode only while the session runs, and nothing keeps
// reading stdin once Run returns.
type ExecCommand struct {
	Namespace, Pod, Container string
	// Command to run; empty means an interactive shell, /bin/bash, else /bin/sh.
	Command []string

	ctx    context.Context // Run takes no context: tea.ExecCommand's shape
	config *rest.Config
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	attach bool                    // attach to the container's main process (pods/attach) instead of exec
	refuse error                   // set: Run fails at once (read-only mode)
	onDone func(ExecResult, error) // session log
	result ExecResult
}

// NewExec prepares an exec into a container; ctx bounds the session.
func NewExec(ctx context.Context, cfg *rest.Config, namespace, pod, container string, command ...string) *ExecCommand {
	return &ExecCommand{Namespace: namespace, Pod: pod, Container: container, Command: command, ctx: ctx, config: cfg}
}

// SetStdin sets the session's input; when it is a terminal the session gets
// a TTY in raw mode.
func (e *ExecCommand) SetStdin(r io.Reader) { e.stdin = r }

// SetStdout sets where the remote output goes.
func (e *ExecCommand) SetStdout(w io.Writer) { e.stdout = w }

// SetStderr sets where the remote error output goes (merged into stdout with a TTY).
func (e *ExecCommand) SetStderr(w io.Writer) { e.stderr = w }

// Result is how the last Run went.
func (e *ExecCommand) Result() ExecResult { return e.result }

// Run runs the session to its end. A remote command that ran returns nil
// whatever its exit code (see Result): a shell's status is that of the
// user's last command, not a failure of kdoctor. Errors are failures to run
// it: no shell (*NoShellError), access denied, connection lost.
func (e *ExecCommand) Run() error {
	started := time.Now()
	res, err := e.run()
	res.Duration = time.Since(started)
	e.result = res
	if e.onDone != nil {
		e.onDone(res, err)
	}
	return err
}

func (e *ExecCommand) run() (ExecResult, error) {
	if e.refuse != nil {
		return ExecResult{}, e.refuse
	}
	if e.config == nil {
		return ExecResult{}, errors.New("exec needs a real cluster: the demo has no containers to run a command in")
	}
	ctx := e.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	// kubectl's term package, as kubectl exec -it uses it: raw mode while
	// the session runs, the terminal's state restored afterwards (and on a
	// termination signal), and the size followed on every platform.
	tty := term.TTY{In: e.stdin, Out: e.stdout, Raw: true}
	if !tty.IsTerminalIn() {
		return e.sessions(ctx, nil, nil)
	}
	if w, ok := e.stdin.(io.Writer); ok && !tty.IsTerminalOut() {
		tty.Out = w // the terminal file itself: follow its size
	}
	var res ExecResult
	err := tty.Safe(func() error {
		// One size monitor for the session (Safe stops it), shared by
		// the shells tried in turn.
		sizes := pumpSizes(tty.MonitorSize())
		var err error
		res, err = e.sessions(ctx, &tty, sizes)
		return err
	})
	return res, err
}

// sessions attaches, or runs the shells (or the command) in turn.
func (e *ExecCommand) sessions(ctx context.Context, tty *term.TTY, sizes <-chan remotecommand.TerminalSize) (ExecResult, error) {
	if e.attach {
		return e.stream(ctx, nil, tty, sizes)
	}
	candidates := shells
	if len(e.Command) > 0 {
		candidates = [][]string{e.Command}
	}
	var res ExecResult
	var err error
	for _, cmd := range candidates {
		res, err = e.stream(ctx, cmd, tty, sizes)
		if err == nil || !errors.Is(err, errMissingExecutable) {
			return res, err
		}
	}
	if len(e.Command) == 0 {
		return res, &NoShellError{Namespace: e.Namespace, Pod: e.Pod, Container: e.Container, Err: errors.Unwrap(err)}
	}
	return res, err
}

// errMissingExecutable wraps the runtime's "no such file" answer, so run
// can try the next shell.
var errMissingExecutable = errors.New("executable not found in the container")

type missingExecutableError struct{ err error }

func (e *missingExecutableError) Error() string        { return e.err.Error() }
func (e *missingExecutableError) Unwrap() error        { return e.err }
func (e *missingExecutableError) Is(target error) bool { return target == errMissingExecutable }

// stream runs one command (attaches when cmd is nil) and waits for it to end.
func (e *ExecCommand) stream(ctx context.Context, cmd []string, tty *term.TTY, sizes <-chan remotecommand.TerminalSize) (ExecResult, error) {
	res := ExecResult{Command: cmd, TTY: tty != nil}
	client, err := corev1client.NewForConfig(e.config)
	if err != nil {
		return res, err
	}
	req := client.RESTClient().Post().Resource("pods").Namespace(e.Namespace).Name(e.Pod)
	if e.attach {
		req = req.SubResource("attach").VersionedParams(&corev1.PodAttachOptions{
			Container: e.Container,
			Stdin:     e.stdin != nil, Stdout: true, Stderr: tty == nil, TTY: tty != nil,
		}, scheme.ParameterCodec)
	} else {
		req = req.SubResource("exec").VersionedParams(&corev1.PodExecOptions{
			Container: e.Container, Command: cmd,
			Stdin: e.stdin != nil, Stdout: true, Stderr: tty == nil, TTY: tty != nil,
		}, scheme.ParameterCodec)
	}
	// WebSocket first, SPDY for older servers and proxies, as kubectl does.
	ws, err := remotecommand.NewWebSocketExecutor(e.config, "GET", req.URL().String())
	if err != nil {
		return res, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.config, "POST", req.URL())
	if err != nil {
		return res, err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return res, err
	}

	var printed atomic.Int64
	opts := remotecommand.StreamOptions{Stdout: countingWriter{writerOr(e.stdout), &printed}, Tty: tty != nil}
	if tty == nil {
		opts.Stderr = countingWriter{writerOr(e.stderr), &printed}
	}
	if e.stdin != nil {
		in, err := newSessionInput(e.stdin)
		if err != nil {
			return res, err
		}
		defer in.stop()
		opts.Stdin = in
	}
	if tty != nil {
		q := &sizeQueue{sizes: sizes, done: make(chan struct{})}
		if first := tty.GetSize(); first != nil {
			q.first = &remotecommand.TerminalSize{Width: first.Width, Height: first.Height}
		}
		defer q.stop()
		opts.TerminalSizeQueue = q
		if e.attach {
			// The attached process printed its prompt before we came: as
			// kubectl attach says, a key press brings a new one.
			fmt.Fprint(writerOr(e.stdout), "If you don't see a command prompt, try pressing enter.\r\n")
		}
	}

	err = ex.StreamWithContext(ctx, opts)
	var exit utilexec.CodeExitError
	switch {
	case err == nil:
		return res, nil
	case !e.attach && isMissingExecutable(err, cmd, printed.Load()):
		return res, &missingExecutableError{err}
	case errors.As(err, &exit):
		res.ExitCode = exit.Code
		return res, nil
	}
	if e.attach {
		return res, fmt.Errorf("attach to %s/%s container %s: %w", e.Namespace, e.Pod, e.Container, err)
	}
	return res, fmt.Errorf("exec %s in %s/%s container %s: %w", strings.Join(cmd, " "), e.Namespace, e.Pod, e.Container, err)
}

// isMissingExecutable recognises the container runtime refusing to start
// cmd because it does not exist: containerd and CRI-O say so in words,
// others exit 126/127 before the command printed anything.
func isMissingExecutable(err error, cmd []string, output int64) bool {
	msg := err.Error()
	if strings.Contains(msg, "executable file not found") ||
		(strings.Contains(msg, "no such file or directory") && strings.Contains(msg, cmd[0])) {
		return true
	}
	var exit utilexec.CodeExitError
	return errors.As(err, &exit) && (exit.Code == 126 || exit.Code == 127) && output == 0
}

func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// countingWriter counts the bytes a session printed, stdout and stderr
// together, to tell "the shell is missing" from "the user's command was".
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// sessionInput hands stdin to one exec attempt and takes it back when the
// attempt ends. remotecommand copies stdin in a goroutine that would
// otherwise stay blocked reading the terminal after the session — and
// swallow the user's next key press in the UI.
type sessionInput struct {
	r      cancelreader.CancelReader
	mu     sync.Mutex // held during a Read, so stop can close safely
	closed bool
}

func newSessionInput(r io.Reader) (*sessionInput, error) {
	cr, err := cancelreader.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("exec: read the terminal: %w", err)
	}
	return &sessionInput{r: cr}, nil
}

// Read ends with io.EOF once stopped, so remotecommand's copier ends
// quietly instead of logging an error over the UI.
func (s *sessionInput) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	if errors.Is(err, cancelreader.ErrCanceled) {
		return n, io.EOF
	}
	return n, err
}

func (s *sessionInput) stop() {
	s.r.Cancel()
	s.mu.Lock() // waits for a Read in progress to see the cancel
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		_ = s.r.Close()
	}
}

// pumpSizes hands the resizes kubectl's term package reports to the
// session's streams, keeping only the latest. The term package's queue
// never ends once stopped, so this goroutine stays parked after the
// session (one per TTY session, a few KB); what matters is that
// remotecommand's resize goroutine does end, see sizeQueue.
func pumpSizes(src term.TerminalSizeQueue) <-chan remotecommand.TerminalSize {
	ch := make(chan remotecommand.TerminalSize, 1)
	if src == nil { // the output is not a terminal: no resizes
		return ch
	}
	go func() {
		for {
			s := src.Next()
			if s == nil {
				return
			}
			size := remotecommand.TerminalSize{Width: s.Width, Height: s.Height}
			select { // keep only the latest size
			case <-ch:
			default:
			}
			ch <- size
		}
	}()
	return ch
}

// sizeQueue feeds one stream the terminal's size: first the size at the
// start, then every resize, and nil (the end) when the stream is over.
type sizeQueue struct {
	first *remotecommand.TerminalSize
	sizes <-chan remotecommand.TerminalSize
	done  chan struct{}
}

// Next returns the next size, or nil once the stream is over.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if s := q.first; s != nil {
		q.first = nil
		return s
	}
	select {
	case s := <-q.sizes:
		return &s
	case <-q.done:
		return nil
	}
}

func (q *sizeQueue) stop() { close(q.done) }
