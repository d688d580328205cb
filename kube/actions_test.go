package kube

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
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	utilexec "k8s.io/client-go/util/exec"
)

// The UI hands an exec the terminal with tea.Exec.
var _ tea.ExecCommand = (*ExecCommand)(nil)

// reviewingClientset answers SelfSubjectAccessReviews: allowed when allow
// says so, and counts the requests.
func reviewingClientset(allow func(authorizationv1.ResourceAttributes) bool, calls *int) *fake.Clientset {
	client := fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*calls++
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = allow(*r.Spec.ResourceAttributes)
		return true, r, nil
	})
	return client
}

func TestAccessReviewAsksOnceAndSaysWhy(t *testing.T) {
	ctx := context.Background()
	calls := 0
	client := reviewingClientset(func(a authorizationv1.ResourceAttributes) bool {
		return a.Namespace == "shop" && a.Verb == "list" && a.Resource == "pods"
	}, &calls)
	r := NewAccessReview(client, "prod", false)

	if a := r.Can(ctx, "shop", "list", "", "pods", ""); !a.Allowed || a.Reason != "" {
		t.Errorf("list pods in shop = %+v, want allowed", a)
	}
	if a := r.Can(ctx, "shop", "list", "", "pods", ""); !a.Allowed || calls != 1 {
		t.Errorf("second identical check: %+v after %d requests, want the cached answer", a, calls)
	}
	want := Access{Allowed: false, Reason: "you cannot create pods/exec in namespace shop"}
	if a := r.Can(ctx, "shop", "create", "", "pods", "exec"); a != want {
		t.Errorf("exec = %+v, want %+v", a, want)
	}
	if a := r.Can(ctx, "", "patch", "", "nodes", ""); a.Reason != "you cannot patch nodes" {
		t.Errorf("patch nodes = %+v", a)
	}
	if a := r.Can(ctx, "", "create", "policy", "poddisruptionbudgets", ""); a.Reason != "you cannot create poddisruptionbudgets.policy" {
		t.Errorf("create PDBs = %+v", a)
	}
	// Answers expire, so a new RoleBinding shows up without a restart.
	r.now = func() time.Time { return time.Now().Add(accessTTL + time.Second) }
	before := calls
	r.Can(ctx, "shop", "list", "", "pods", "")
	if calls != before+1 {
		t.Errorf("expired answer not asked again")
	}
	r.Forget()
	r.Can(ctx, "shop", "list", "", "pods", "")
	if calls != before+2 {
		t.Errorf("Forget did not drop the cache")
	}
}

func TestAccessReviewErrorsAreNotCached(t *testing.T) {
	client := fake.NewClientset()
	fail := true
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if fail {
			return true, nil, errors.New("connection refused")
		}
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = true
		return true, r, nil
	})
	r := NewAccessReview(client, "prod", false)
	a := r.Can(context.Background(), "shop", "get", "", "pods", "log")
	if a.Allowed || !strings.HasPrefix(a.Reason, "cannot check whether you may get pods/log in namespace shop: ") {
		t.Errorf("failed check = %+v", a)
	}
	fail = false
	if a := r.Can(context.Background(), "shop", "get", "", "pods", "log"); !a.Allowed {
		t.Errorf("after the server came back: %+v", a)
	}
}

func TestAccessReviewInReadOnlyModeAsksNothing(t *testing.T) {
	calls := 0
	client := reviewingClientset(func(authorizationv1.ResourceAttributes) bool { return true }, &calls)
	r := NewAccessReview(client, "prod", true)
	for _, c := range []struct{ verb, resource, sub string }{
		{"create", "pods", "exec"}, {"get", "pods", "exec"}, {"patch", "nodes", ""}, {"delete", "pods", ""},
		{"create", "pods", "eviction"}, {"get", "services", "proxy"}, {"deletecollection", "pods", ""},
	} {
		if a := r.Can(context.Background(), "shop", c.verb, "", c.resource, c.sub); a != (Access{Allowed: false, Reason: "read-only mode"}) {
			t.Errorf("%s %s/%s in read-only mode = %+v", c.verb, c.resource, c.sub, a)
		}
	}
	if calls != 0 {
		t.Errorf("read-only refusals made %d requests", calls)
	}
	if a := r.Can(context.Background(), "shop", "get", "", "pods", "log"); !a.Allowed || calls != 1 {
		t.Errorf("reads are still checked: %+v after %d requests", a, calls)
	}
}

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
	var ro *ReadOnlyError
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
