package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// tmuxSession runs the real kdoctor binary in a detached tmux session on a
// private socket, the way a person would use it, and reads the screen.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// tmuxSessions numbers the sessions: each gets its own tmux server, so one
// shutting down never races the next one starting.
var tmuxSessions int

func startTmux(t *testing.T, width, height int, command string) *tmuxSession {
	t.Helper()
	tmuxSessions++
	s := &tmuxSession{t: t, socket: fmt.Sprintf("kdoctor-e2e-%d-%d", os.Getpid(), tmuxSessions), name: "e2e"}
	s.tmux("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), command)
	s.tmux("set-option", "-t", s.name, "remain-on-exit", "on")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) screen() string {
	return s.tmux("capture-pane", "-p", "-J", "-S", "-100", "-t", s.name)
}

func (s *tmuxSession) send(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

func (s *tmuxSession) typeText(text string) { s.tmux("send-keys", "-t", s.name, "-l", text) }

func (s *tmuxSession) waitFor(what string, cond func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if cond(scr) {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("timed out waiting for %s; screen:\n%s", what, scr)
	return ""
}

func (s *tmuxSession) dead() bool {
	return strings.TrimSpace(s.tmux("display-message", "-p", "-t", s.name, "#{pane_dead}")) == "1"
}

// TestTUIEndToEnd walks the main journey with the real binary in tmux
// against the real API server holding every scenario: the tree shows the
// pods, the filter finds the OOMKilled pod, enter names crash.oom-killed,
// p shows the previous log lines the kubelet serves, c + confirm cordons
// the node; then --read-only refuses c and the node is unchanged; q exits
// and leaves the terminal as it was.
func TestTUIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real API server and tmux (not in -short mode)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the end-to-end test: apt-get install tmux")
	}
	bin := filepath.Join(t.TempDir(), "kdoctor")
	if out, err := exec.Command("go", "build", "-tags", "kdoctor_e2e", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "*")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := srv.WriteKubeconfig(kubeconfig, ""); err != nil {
		t.Fatal(err)
	}
	// A private config and state dir: no user theme or read-only default
	// leaks in, and the session log lands in the test's directory.
	env := fmt.Sprintf("env XDG_CONFIG_HOME=%s XDG_STATE_HOME=%s TERM=xterm-256color", dir, dir)
	command := func(extra string) string {
		return fmt.Sprintf("%s %s --kubeconfig %s -A --theme mono %s", env, bin, kubeconfig, extra)
	}

	s := startTmux(t, 160, 48, command(""))
	s.waitFor("the scenario pods", func(scr string) bool {
		return strings.Contains(scr, "ledger-7d9f8b6c5-qz4wn") && strings.Contains(scr, "live")
	})
	s.send("/")
	s.typeText("ledger")
	s.send("Enter", "G", "Enter")
	scr := s.waitFor("the diagnosis", func(scr string) bool { return strings.Contains(scr, "Root cause") })
	if !strings.Contains(scr, "crash.oom-killed") || !strings.Contains(scr, "OOMKilled") {
		t.Fatalf("root cause crash.oom-killed with evidence not shown:\n%s", scr)
	}
	s.send("p")
	s.waitFor("previous log lines served by the kubelet", func(scr string) bool {
		return strings.Contains(scr, "previous instance") && strings.Contains(scr, "OutOfMemoryError")
	})

	// Search the log: a new term replaces the last, smart case.
	s.send("/")
	s.typeText("outofmemory")
	s.send("Enter")
	s.waitFor("the search", func(scr string) bool { return strings.Contains(scr, `"outofmemory" 1 of 1`) })
	// Describe shows kubectl describe's own lines, none blank between them.
	s.send("d")
	scr = s.waitFor("kubectl describe", func(scr string) bool { return strings.Contains(scr, "Namespace:") })
	lines := strings.Split(scr, "\n")
	for i, l := range lines {
		if strings.Contains(l, "│Name:") && (i+1 == len(lines) || !strings.Contains(lines[i+1], "Namespace:")) {
			t.Fatalf("describe's Name: line is not followed by Namespace:\n%s", scr)
		}
	}
	s.send("y")
	s.waitFor("the pod's YAML", func(scr string) bool {
		return strings.Contains(scr, "kind: Pod") && strings.Contains(scr, "managedFields hidden")
	})
	s.send("e")
	s.waitFor("the pod's events, warnings first", func(scr string) bool {
		return strings.Contains(scr, "Warning BackOff") && strings.Contains(scr, "warnings first")
	})
	s.send("Escape")
	time.Sleep(300 * time.Millisecond)
	s.send("up")
	s.send("d")
	s.waitFor("the Deployment described", func(scr string) bool {
		return strings.Contains(scr, "Describe · deployment payments/ledger") && strings.Contains(scr, "Replicas:")
	})
	s.send("Escape")
	time.Sleep(300 * time.Millisecond)
	s.send("down")

	pod, err := srv.Client().CoreV1().Pods("payments").Get(ctx, "ledger-7d9f8b6c5-qz4wn", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeName := pod.Spec.NodeName
	s.send("Escape")
	time.Sleep(300 * time.Millisecond) // let esc arrive alone, not as alt+c
	s.send("c")
	s.waitFor("the cordon dialog", func(scr string) bool { return strings.Contains(scr, "Cordon node "+nodeName+"?") })
	s.send("Enter")
	s.waitFor("the cordon result", func(scr string) bool { return strings.Contains(scr, "cordoned") })
	node, err := srv.Client().CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil || !node.Spec.Unschedulable {
		t.Fatalf("node %s not cordoned through the API (err %v)", nodeName, err)
	}
	// The palette takes the highlighted namespace.
	s.send(":")
	s.typeText("ns pay")
	s.waitFor("the suggestion", func(scr string) bool { return strings.Contains(scr, "› ns payments") })
	s.send("Enter")
	s.waitFor("the payments scope", func(scr string) bool {
		return strings.Contains(scr, "ns payments") && !strings.Contains(scr, "no pods")
	})
	s.send("q")
	s.waitFor("kdoctor to exit", func(string) bool { return s.dead() })
	if scr := s.screen(); strings.Contains(scr, "ctx kdoctor-sandbox") {
		t.Fatalf("the alternate screen was not left on exit:\n%s", scr)
	}
	_ = exec.Command("tmux", "-L", s.socket, "kill-server").Run()

	// Read-only: make the node schedulable again, then try to cordon it.
	if _, err := srv.Client().CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, []byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	ro := startTmux(t, 160, 48, command("--read-only"))
	ro.waitFor("the read-only tree", func(scr string) bool {
		return strings.Contains(scr, "READ-ONLY") && strings.Contains(scr, "ledger-7d9f8b6c5-qz4wn")
	})
	ro.send("/")
	ro.typeText("ledger")
	ro.send("Enter", "G", "c")
	ro.waitFor("the refusal", func(scr string) bool { return strings.Contains(scr, "read-only mode: cordon is unavailable") })
	ro.send("q")
	ro.waitFor("kdoctor to exit", func(string) bool { return ro.dead() })
	node, err = srv.Client().CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil || node.Spec.Unschedulable {
		t.Fatalf("read-only run changed node %s (err %v)", nodeName, err)
	}
	after, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	_ = exec.Command("tmux", "-L", ro.socket, "kill-server").Run()

	// A crash restores the terminal and says in one line where the report is.
	crash := startTmux(t, 120, 30, command(""))
	crash.waitFor("the tree", func(scr string) bool { return strings.Contains(scr, "live") })
	crash.send("F12")
	crash.waitFor("kdoctor to exit", func(string) bool { return crash.dead() })
	scr = crash.screen()
	if !strings.Contains(scr, "kdoctor hit a bug") || strings.Contains(scr, "goroutine ") || strings.Contains(scr, "ctx kdoctor-sandbox") {
		t.Fatalf("crash did not end with one line on a restored terminal:\n%s", scr)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "kdoctor", "crash-*.log"))
	if len(reports) != 1 {
		t.Fatalf("want one crash report in %s, got %v", dir, reports)
	}
	if data, _ := os.ReadFile(reports[0]); !strings.Contains(string(data), "kdoctor_e2e build's F12 key") {
		t.Fatalf("crash report lacks the panic: %s", data)
	}

	_ = exec.Command("tmux", "-L", crash.socket, "kill-server").Run()

	// SIGTERM (and SIGHUP) end kdoctor cleanly: exit 0, terminal restored.
	for _, sig := range []string{"TERM", "HUP"} {
		// A shell runs kdoctor and prints how it ended: tmux 3.3 has no
		// word for a pane whose process a signal killed.
		term := startTmux(t, 120, 30, "sh -c '"+command("")+`; echo "kdoctor exited $?"; sleep 60'`)
		term.waitFor("the tree", func(scr string) bool { return strings.Contains(scr, "live") })
		pid := strings.TrimSpace(term.tmux("display-message", "-p", "-t", term.name, "#{pane_pid}"))
		if out, err := exec.Command("pkill", "-"+sig, "-P", pid, "-f", "kdoctor").CombinedOutput(); err != nil {
			t.Fatalf("signal %s to kdoctor under shell %s: %v %s", sig, pid, err, out)
		}
		scr := term.waitFor("kdoctor to exit on SIG"+sig, func(scr string) bool { return strings.Contains(scr, "kdoctor exited") })
		if !strings.Contains(scr, "kdoctor exited 0") {
			t.Errorf("SIG%s: want exit status 0:\n%s", sig, scr)
		}
		if scr := term.screen(); strings.Contains(scr, "ctx kdoctor-sandbox") {
			t.Errorf("SIG%s left the alternate screen up:\n%s", sig, scr)
		}
		_ = exec.Command("tmux", "-L", term.socket, "kill-server").Run()
	}

	for _, e := range after[len(before):] {
		if e.User == kubetest.AdminUser && e.UserAgent != "" && strings.HasPrefix(e.UserAgent, "kdoctor") {
			switch e.Verb {
			case "create", "update", "patch", "delete", "deletecollection":
				if e.Resource != "selfsubjectaccessreviews" {
					t.Errorf("read-only kdoctor sent %s %s", e.Verb, e.RequestURI)
				}
			}
		}
	}
}
