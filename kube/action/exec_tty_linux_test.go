package action_test

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/term"
	"golang.org/x/sys/unix"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// openPTY opens a pseudo-terminal pair: the test types into and reads the
// screen from master, the session gets slave as its terminal.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0)
	}
	if err == nil {
		slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// testTerminal is a pseudo-terminal whose screen (what is written to it)
// is recorded.
type testTerminal struct {
	master, slave *os.File
	before        *term.State // the slave's state before the session
	mu            sync.Mutex
	screen        bytes.Buffer
}

// openTestTerminal opens a pseudo-terminal of rows×cols, skipping the test
// where there is none.
func openTestTerminal(t *testing.T, rows, cols uint16) *testTerminal {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	tt := &testTerminal{master: master, slave: slave}
	if tt.before, err = term.GetState(slave.Fd()); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tt.mu.Lock()
			tt.screen.Write(buf[:n])
			tt.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tt
}

// text is everything written to the terminal so far.
func (tt *testTerminal) text() string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.screen.String()
}

// wait waits until the screen shows want.
func (tt *testTerminal) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(tt.text(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("screen %q never showed %q", tt.text(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testExecTTY runs an interactive shell on a real terminal, as tea.Exec
// hands it over: raw mode during the session, the terminal's state as it
// was afterwards, and no key press lost to a reader left behind.
func (e *realEnv) testExecTTY(t *testing.T) {
	tt := openTestTerminal(t, 40, 120)
	master, slave, before := tt.master, tt.slave, tt.before
	waitScreen := func(want string) { t.Helper(); tt.wait(t, want) }

	ctx := kubetest.Timeout(t, 30*time.Second)
	cmd := e.actions(t, rwUser, false).Exec(ctx, realNS, "shell", "app")
	cmd.SetStdin(slave)
	cmd.SetStdout(slave)
	cmd.SetStderr(slave)
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()

	// Type only once the session has the terminal in raw mode, as a user
	// would after the prompt; the remote shell reads lines ended by Enter
	// (\r in raw mode).
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := term.GetState(slave.Fd())
		if err == nil && !reflect.DeepEqual(st, before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session never put the terminal in raw mode")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := master.WriteString("echo hi\r"); err != nil {
		t.Fatal(err)
	}
	waitScreen("hi\r\n")
	// The terminal's size at the start reached the remote TTY.
	if w, h := e.srv.Kubelet().TerminalSize(realNS, "shell", "app"); w != 120 || h != 40 {
		t.Errorf("the kubelet got terminal size %dx%d, want 120x40", w, h)
	}
	// A resize reaches the remote TTY: the kernel signals the terminal's
	// foreground process group, which the test's pty has none of, so the
	// test sends the SIGWINCH itself.
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := unix.Kill(os.Getpid(), unix.SIGWINCH); err != nil {
			t.Fatal(err)
		}
		if w, h := e.srv.Kubelet().TerminalSize(realNS, "shell", "app"); w == 100 && h == 30 {
			break
		}
		if time.Now().After(deadline) {
			w, h := e.srv.Kubelet().TerminalSize(realNS, "shell", "app")
			t.Fatalf("the kubelet got terminal size %dx%d after a resize, want 100x30", w, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := master.WriteString("exit 3\r"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tty session: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tty session did not end on exit")
	}
	if res := cmd.Result(); !res.TTY || res.ExitCode != 3 {
		t.Errorf("result = %+v, want a TTY session that exited 3", res)
	}
	got := tt.text()
	if strings.Contains(got, "echo hi") {
		t.Errorf("the terminal echoed the input locally (%q): it was not in raw mode", got)
	}
	after, err := term.GetState(slave.Fd())
	if err != nil || !reflect.DeepEqual(before, after) {
		t.Errorf("terminal state not restored after the session (err %v)", err)
	}

	// The next key press goes to whoever reads the terminal next (the UI),
	// not to a reader the session left behind.
	if _, err := master.WriteString("z\n"); err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, _ := slave.Read(buf)
		read <- string(buf[:n])
	}()
	select {
	case s := <-read:
		if s != "z\n" {
			t.Errorf("read %q after the session, want \"z\\n\"", s)
		}
	case <-time.After(3 * time.Second):
		t.Error("a key press after the session was swallowed")
	}
}

// testDebugTTY runs a debug session on a real terminal, as the UI hands it
// over: kubectl attach's hint, raw mode, the terminal's size sent through
// pods/attach, the terminal restored afterwards.
func (e *realEnv) testDebugTTY(t *testing.T) {
	tt := openTestTerminal(t, 25, 90)
	master, slave, before := tt.master, tt.slave, tt.before
	waitScreen := func(want string) { t.Helper(); tt.wait(t, want) }

	ctx := kubetest.Timeout(t, 30*time.Second)
	cmd := e.actions(t, rwUser, false).Debug(ctx, realNS, "shell", "distroless", "")
	cmd.SetStdin(slave)
	cmd.SetStdout(slave)
	cmd.SetStderr(slave)
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	waitScreen("If you don't see a command prompt, try pressing enter.\r\n")
	if _, err := master.WriteString("hostname\r"); err != nil {
		t.Fatal(err)
	}
	waitScreen("shell\r\n")
	// The size goes out as the stream starts, through pods/attach (the
	// kubelet records it asynchronously: allow it a moment).
	name := cmd.Container().Name
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w, h := e.srv.Kubelet().TerminalSize(realNS, "shell", name)
		if w == 90 && h == 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the kubelet got terminal size %dx%d for %s, want 90x25", w, h, name)
			break
		}
	}
	if _, err := master.WriteString("exit\r"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("debug session: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("debug session did not end on exit")
	}
	if res := cmd.Result(); !res.TTY {
		t.Errorf("result = %+v, want a TTY session", res)
	}
	got := tt.text()
	if strings.Contains(got, "hostname") { // the remote shell does not echo
		t.Errorf("the terminal echoed the input locally (%q): it was not in raw mode", got)
	}
	if after, err := term.GetState(slave.Fd()); err != nil || !reflect.DeepEqual(before, after) {
		t.Errorf("terminal state not restored after the debug session (err %v)", err)
	}
}
