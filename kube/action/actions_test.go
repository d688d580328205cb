package action

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// The UI hands an exec the terminal with tea.Exec.
var _ tea.ExecCommand = (*ExecCommand)(nil)

func readSessionLog(t *testing.T, path string) []SessionEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []SessionEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e SessionEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestSessionLogAppendsOneJSONLinePerEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := OpenSessionLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 23, 3, 12, 0, 0, time.Local)
	entries := []SessionEntry{
		{Time: day, Context: "prod", User: "alice", Action: "cordon", Object: "node/n1", Result: "node n1 cordoned"},
		{Time: day.Add(time.Minute), Context: "prod", Action: "exec", Object: "pod/shop/web-1 container app", Error: "container app has no shell"},
	}
	for _, e := range entries {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "session-2026-11-23.jsonl")
	if l.Path(day) != path {
		t.Errorf("path = %s, want %s", l.Path(day), path)
	}
	got := readSessionLog(t, path)
	if len(got) != 2 || !got[0].Time.Equal(entries[0].Time) || got[0].Result != entries[0].Result || got[1].Error != entries[1].Error {
		t.Errorf("read back %+v", got)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(strings.Split(string(raw), "\n")[1], `"user"`) {
		t.Errorf("empty user written: %s", raw)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v (%v), want 0600: it names clusters and pods", fi.Mode().Perm(), err)
	}
	if l.Err() != nil {
		t.Errorf("Err = %v", l.Err())
	}

	var nilLog *SessionLog
	if err := nilLog.Append(entries[0]); err != nil {
		t.Errorf("a nil log must accept entries silently: %v", err)
	}
}

func TestSessionLogDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if d, _ := DefaultSessionLogDir(); d != "/var/state/kdoctor" {
		t.Errorf("with XDG_STATE_HOME: %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/alice")
	if d, _ := DefaultSessionLogDir(); d != "/home/alice/.local/state/kdoctor" {
		t.Errorf("without XDG_STATE_HOME: %s", d)
	}
}

func TestActionsRecordChangesInTheSessionLog(t *testing.T) {
	ctx := context.Background()
	log, _ := OpenSessionLog(t.TempDir())
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	a := &Actions{Client: client, Log: log, Context: "prod", User: "alice"}
	if _, err := a.Cordon(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Uncordon(ctx, "n2"); err == nil {
		t.Fatal("uncordon of a missing node succeeded")
	}
	got := readSessionLog(t, log.Path(time.Now()))
	if len(got) != 2 {
		t.Fatalf("entries = %+v", got)
	}
	if e := got[0]; e.Action != "cordon" || e.Object != "node/n1" || e.Result != "node n1 cordoned" || e.Context != "prod" || e.User != "alice" || e.Error != "" {
		t.Errorf("cordon entry = %+v", e)
	}
	if e := got[1]; e.Action != "uncordon" || !strings.Contains(e.Error, "no longer exists") {
		t.Errorf("failed uncordon entry = %+v", e)
	}
}

func TestActionsInReadOnlyModeRefuseBeforeAnyRequest(t *testing.T) {
	ctx := context.Background()
	log, _ := OpenSessionLog(t.TempDir())
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	a := &Actions{Client: client, Log: log, Context: "prod", ReadOnly: true}
	var ro *kube.ReadOnlyError
	if _, err := a.Cordon(ctx, "n1"); !errors.As(err, &ro) {
		t.Errorf("cordon: %v", err)
	}
	if _, err := a.Uncordon(ctx, "n1"); !errors.As(err, &ro) {
		t.Errorf("uncordon: %v", err)
	}
	var steps []DrainProgress
	if _, err := a.Drain(ctx, &DrainPlan{Node: "n1"}, DrainOptions{}, func(p DrainProgress) { steps = append(steps, p) }); !errors.As(err, &ro) {
		t.Errorf("drain: %v", err)
	}
	if len(steps) != 1 || !strings.Contains(steps[0].Message, "read-only mode") {
		t.Errorf("drain progress = %+v, want one step saying why", steps)
	}
	if err := a.Exec(ctx, "shop", "web-1", "app").Run(); !errors.As(err, &ro) {
		t.Errorf("exec: %v", err)
	}
	if acts := client.Actions(); len(acts) != 0 {
		t.Errorf("read-only actions made %d requests, first %s %s", len(acts), acts[0].GetVerb(), acts[0].GetResource().Resource)
	}
	if got := readSessionLog(t, log.Path(time.Now())); len(got) != 4 || !strings.HasPrefix(got[3].Error, "read-only mode") || got[3].Action != "exec" {
		t.Errorf("session log = %+v, want the 4 refused attempts", got)
	}
}

func TestNoShellError(t *testing.T) {
	err := error(&NoShellError{Namespace: "shop", Pod: "web-1", Container: "app", Err: errors.New("stat /bin/sh: no such file or directory")})
	want := "container app has no shell (distroless image?): try an ephemeral debug container: kubectl debug -it -n shop web-1 --image=busybox --target=app"
	if err.Error() != want || !errors.Is(err, ErrNoShell) {
		t.Errorf("%q (is ErrNoShell: %v)", err, errors.Is(err, ErrNoShell))
	}
}

func TestIsMissingExecutable(t *testing.T) {
	bash := []string{"/bin/bash"}
	for _, c := range []struct {
		err    error
		output int64
		want   bool
	}{
		{errors.New(`OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/bash": stat /bin/bash: no such file or directory: unknown`), 0, true},
		{errors.New(`exec: "/bin/bash": executable file not found in $PATH`), 0, true},
		{utilexec.CodeExitError{Err: errors.New("command terminated with exit code 127"), Code: 127}, 0, true},
		{utilexec.CodeExitError{Err: errors.New("command terminated with exit code 127"), Code: 127}, 12, false}, // the user's last command
		{utilexec.CodeExitError{Err: errors.New("command terminated with exit code 1"), Code: 1}, 0, false},
		{errors.New(`open /data/x: no such file or directory`), 0, false},
		{errors.New("Forbidden"), 0, false},
	} {
		if got := isMissingExecutable(c.err, bash, c.output); got != c.want {
			t.Errorf("%v (output %d) = %v, want %v", c.err, c.output, got, c.want)
		}
	}
}
