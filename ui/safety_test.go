package ui

import (
	"context"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kdoctor-dev/kdoctor/kube/demo"
	"github.com/kdoctor-dev/kdoctor/kube/live"
)

// TestHostileClusterDataCannotControlTheTerminal: names, causes and log
// lines carrying escape sequences are drawn inert.
func TestHostileClusterDataCannotControlTheTerminal(t *testing.T) {
	evil := "web\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J-数据库🚀-\xff"
	p := testPod("shop\x1b[31m", "web", evil, 1, "CrashLoopBackOff", "Error", 1)
	p.Status.ContainerStatuses[0].State.Waiting.Message = "boom \x1b]52;c;ZXZpbA==\x07"
	m := send(newTestModel(120, 30), testBatch(p))
	m = send(m, keyPress("down"), keyPress("down"))
	for _, v := range []string{m.View().Content, m.headerView(), m.statusView()} {
		for _, bad := range []string{"\x1b]52", "\x1b]0;", "\x1b[2J", "\xff"} {
			if strings.Contains(v, bad) {
				t.Fatalf("hostile sequence %q reached the screen", bad)
			}
		}
	}
	if !strings.Contains(m.View().Content, "数据库🚀") {
		t.Error("wide characters were lost")
	}
}

// slowSource answers logs only after a long time, like an overloaded server.
type slowSource struct{ *demo.Demo }

func (s slowSource) PodLogs(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
	return s.Demo.PodLogs(ctx, ns, pod, o)
}

// TestSlowServerNeverFreezesTheUI: while logs are slow to come, keys are
// still answered at once, because API calls only run in commands.
func TestSlowServerNeverFreezesTheUI(t *testing.T) {
	r := startProgram(t, slowSource{newDemo(t)}, 120, 30)
	r.keys("/")
	r.typeText("ledger")
	r.keys("enter", "G", "l")
	r.until("the logs pane", func(m Model) bool { return paneKindOf(m) == paneLogs })
	start := time.Now()
	r.keys("esc", "up")
	m := r.until("the cursor to move", func(m Model) bool { return m.focus == focusTree && m.tree.cursor < len(m.tree.lines)-1 })
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a key took %s while logs were loading", took)
	}
	_ = m
}

// TestNoLeaksAfterManySwitches: 50 namespace switches and 50 open/close
// cycles of the logs and diagnosis panes leave no goroutines behind.
func TestNoLeaksAfterManySwitches(t *testing.T) {
	runtime.GC()
	base := runtime.NumGoroutine()
	baseFDs := openFDs()
	func() {
		r := startProgram(t, newDemo(t), 120, 30)
		for i := 0; i < 50; i++ {
			ns := []string{"payments", "shop"}[i%2]
			r.keys(":")
			r.typeText("ns " + ns)
			r.keys("enter")
			r.until("scope "+ns, func(m Model) bool {
				return len(m.scope.Namespaces) == 1 && m.scope.Namespaces[0] == ns && m.state == live.Live && m.tree.Len() > 0
			})
			r.keys("G", "l")
			r.until("logs", func(m Model) bool { return logsOf(m) != nil && logsOf(m).stream != nil })
			r.keys("esc", "esc", "enter")
			r.until("diagnosis", func(m Model) bool { return diagnosisOf(m) != nil })
			r.keys("esc", "esc")
			r.until("panes closed", func(m Model) bool { return paneKindOf(m) == paneNone })
		}
		r.p.Quit()
		<-r.done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n <= base+2 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fds := openFDs(); baseFDs >= 0 && fds > baseFDs+2 {
		t.Fatalf("%d open files after, %d before", fds, baseFDs)
	}
}

func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
