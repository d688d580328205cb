package action_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// Users of the real API server besides the admin: two cluster admins for
// the read-only audit (one identity per session, so the audit log tells
// the sessions apart) and a viewer bound to a namespaced Role.
const (
	realNS       = "actions"
	realOtherNS  = "actions-other"
	realNode     = "actions-node"
	roUser       = "ro-admin"
	rwUser       = "rw-admin"
	viewerUser   = "pod-viewer"
	previousText = "starting\nconnecting to db\npanic: db unreachable\n"
)

// realEnv is one real API server with the fixtures every subtest shares.
type realEnv struct {
	srv *kubetest.Server
	dir string // for kubeconfigs and session logs
}

// TestActionsAgainstRealAPIServer runs the actions against a real
// kube-apiserver and etcd, with the fake kubelet serving logs and exec and
// confirming evictions. One server serves all subtests (~2.5 s to start).
func TestActionsAgainstRealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real API server (not in -short mode)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	srv, err := kubetest.Start(ctx, kubetest.Options{Users: []kubetest.User{
		{Name: roUser}, {Name: rwUser}, {Name: viewerUser},
	}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	env := &realEnv{srv: srv, dir: t.TempDir()}
	env.setUp(t)

	t.Run("logs", env.testLogs)
	t.Run("exec", env.testExec)
	t.Run("exec with a terminal", env.testExecTTY)
	t.Run("cordon", env.testCordon)
	t.Run("drain plan", env.testDrainPlan)
	t.Run("drain blocked by a PDB", env.testDrainBlockedByPDB)
	t.Run("read-only session changes nothing", env.testReadOnlyAudit)
	t.Run("restricted user", env.testRestrictedUser)
	t.Run("debug container", env.testDebugContainer)
}

// setUp creates the namespaces, a Ready node served by the fake kubelet, a
// running pod "shell" (containers app and distroless) and a restarted pod
// "crashy" with a previous log, and makes the two admins admins.
func (e *realEnv) setUp(t *testing.T) {
	ctx := kubetest.Timeout(t, 30*time.Second)
	c := e.srv.Client()
	for _, ns := range []string{realNS, realOtherNS} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: realNode}}); err != nil {
		t.Fatal(err)
	}
	if err := e.createPod(ctx, realNode, "shell", nil, "app", "distroless"); err != nil {
		t.Fatal(err)
	}
	e.srv.Kubelet().SetNoShell(realNS, "shell", "distroless")
	if err := e.createPod(ctx, realNode, "crashy", func(p *corev1.Pod) {
		st := &p.Status.ContainerStatuses[0]
		st.RestartCount = 1
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: 2, Reason: "Error",
			StartedAt: metav1.NewTime(time.Now().Add(-time.Minute)), FinishedAt: metav1.NewTime(time.Now().Add(-30 * time.Second)),
		}
	}, "app"); err != nil {
		t.Fatal(err)
	}
	e.srv.Kubelet().LoadLogs(map[facts.LogKey][]byte{
		{Namespace: realNS, Pod: "crashy", Container: "app", Previous: true}: []byte(previousText),
		{Namespace: realNS, Pod: "crashy", Container: "app"}:                 []byte("starting\n"),
	})
	for _, u := range []string{roUser, rwUser} {
		_, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: u + "-is-admin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: u}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// createPod creates a running, ready pod in realNS on node; mutate may
// change it (its status included) before it is stored.
func (e *realEnv) createPod(ctx context.Context, node, name string, mutate func(*corev1.Pod), containers ...string) error {
	now := metav1.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: realNS, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}},
	}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "example/" + c})
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Image: "example/" + c, Ready: true, ContainerID: "containerd://" + name + "-" + c,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	if mutate != nil {
		mutate(pod)
	}
	status := pod.Status
	created, err := e.srv.Client().CoreV1().Pods(realNS).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s: %w", name, err)
	}
	status.QOSClass = created.Status.QOSClass
	created.Status = status
	if _, err := e.srv.Client().CoreV1().Pods(realNS).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod %s status: %w", name, err)
	}
	return nil
}

// connect connects as user through a kubeconfig, as kdoctor does.
func (e *realEnv) connect(t *testing.T, user string, readOnly bool) *kube.Cluster {
	t.Helper()
	path := filepath.Join(e.dir, user+".kubeconfig")
	if err := e.srv.WriteKubeconfig(path, user); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	cl, err := kube.Connect(flags, kube.ConnectOptions{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func (e *realEnv) actions(t *testing.T, user string, readOnly bool) *action.Actions {
	t.Helper()
	cl := e.connect(t, user, readOnly)
	log, err := action.OpenSessionLog(filepath.Join(e.dir, "state-"+user))
	if err != nil {
		t.Fatal(err)
	}
	a := action.NewActions(cl, cl.Config, log)
	a.User = user
	return a
}

// readLogStream reads a stream to its end.
func readLogStream(t *testing.T, s *action.LogStream) ([]action.LogLine, []action.LogEnd, int64) {
	t.Helper()
	ctx := kubetest.Timeout(t, 15*time.Second)
	var lines []action.LogLine
	var ends []action.LogEnd
	var skipped int64
	for {
		c, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		lines = append(lines, c.Lines...)
		ends = append(ends, c.Ended...)
		skipped += c.Skipped
		if c.Done {
			return lines, ends, skipped
		}
	}
}

func logTexts(lines []action.LogLine) string {
	var s []string
	for _, l := range lines {
		s = append(s, l.Text)
	}
	return strings.Join(s, "\n")
}

func (e *realEnv) testLogs(t *testing.T) {
	ctx := kubetest.Timeout(t, 30*time.Second)
	a := e.actions(t, rwUser, false)

	t.Run("previous", func(t *testing.T) {
		s, err := a.Logs(ctx, realNS, "crashy", action.LogOptions{Previous: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		lines, ends, _ := readLogStream(t, s)
		if got := logTexts(lines); got != strings.TrimSuffix(previousText, "\n") {
			t.Errorf("previous log = %q, want %q", got, previousText)
		}
		if len(ends) != 1 || ends[0].Status != action.LogComplete || ends[0].Container != "app" {
			t.Errorf("ends = %+v", ends)
		}
	})

	t.Run("previous not found", func(t *testing.T) {
		s, err := a.Logs(ctx, realNS, "shell", action.LogOptions{Container: "app", Previous: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		lines, ends, _ := readLogStream(t, s)
		if len(lines) != 0 || len(ends) != 1 || ends[0].Status != action.LogNoPreviousInstance || ends[0].Err != nil {
			t.Errorf("lines %d, ends %+v; want no lines and status %v", len(lines), ends, action.LogNoPreviousInstance)
		}
	})

	t.Run("tail with timestamps", func(t *testing.T) {
		s, err := a.Logs(ctx, realNS, "crashy", action.LogOptions{Previous: true, TailLines: 1, Timestamps: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		lines, _, _ := readLogStream(t, s)
		if len(lines) != 1 || lines[0].Text != "panic: db unreachable" || lines[0].Time.IsZero() {
			t.Errorf("tail 1 with timestamps = %+v", lines)
		}
	})

	t.Run("follow with a bounded buffer", func(t *testing.T) {
		key := facts.LogKey{Namespace: realNS, Pod: "shell", Container: "app"}
		e.srv.Kubelet().LoadLogs(map[facts.LogKey][]byte{key: []byte("one\ntwo\n")})
		s, err := a.Logs(ctx, realNS, "shell", action.LogOptions{Container: "app", Follow: true, BufferLines: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var first []action.LogLine
		for len(first) < 2 {
			c, err := s.Next(ctx)
			if err != nil || c.Done {
				t.Fatalf("following: chunk %+v, err %v", c, err)
			}
			first = append(first, c.Lines...)
		}
		if got := logTexts(first); got != "one\ntwo" {
			t.Fatalf("first lines = %q", got)
		}
		for i := range 20 {
			e.srv.Kubelet().AppendLog(key, fmt.Sprintf("line %d", i))
		}
		// Not reading for a while is a view busy elsewhere: the 20 new
		// lines overflow the 5-line buffer.
		time.Sleep(time.Second)
		var got []action.LogLine
		var skipped int64
		for len(got) == 0 || got[len(got)-1].Text != "line 19" {
			c, err := s.Next(ctx)
			if err != nil || c.Done {
				t.Fatalf("following: chunk %+v, err %v", c, err)
			}
			if len(c.Lines) > 5 {
				t.Errorf("a chunk of %d lines from a 5-line buffer", len(c.Lines))
			}
			got = append(got, c.Lines...)
			skipped += c.Skipped
		}
		if int64(len(got))+skipped != 20 || skipped == 0 {
			t.Errorf("received %d lines and %d skipped, want 20 in all with some skipped", len(got), skipped)
		}
		// Close ends a follow promptly, and the stream says so.
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not end a follow")
		}
		c, err := s.Next(ctx)
		if err != nil || !c.Done || c.Ended[0].Status != action.LogStopped {
			t.Errorf("after Close: %+v, %v", c, err)
		}
	})
}

func (e *realEnv) testExec(t *testing.T) {
	ctx := kubetest.Timeout(t, 30*time.Second)
	a := e.actions(t, rwUser, false)

	cmd := a.Exec(ctx, realNS, "shell", "app", "sh", "-c", "echo hi")
	var out bytes.Buffer
	cmd.SetStdout(&out)
	if err := cmd.Run(); err != nil || out.String() != "hi\n" || cmd.Result().ExitCode != 0 {
		t.Errorf("sh -c 'echo hi': stdout %q, exit %d, err %v", out.String(), cmd.Result().ExitCode, err)
	}

	// An interactive shell: bash is tried first.
	cmd = a.Exec(ctx, realNS, "shell", "app")
	out.Reset()
	var errOut bytes.Buffer
	cmd.SetStdin(strings.NewReader("echo hi\nnosuchcmd\nexit 3\n"))
	cmd.SetStdout(&out)
	cmd.SetStderr(&errOut)
	err := cmd.Run()
	res := cmd.Result()
	if err != nil || out.String() != "hi\n" || res.ExitCode != 3 || !slices.Equal(res.Command, []string{"/bin/bash"}) || res.TTY {
		t.Errorf("shell session: stdout %q, result %+v, err %v; want hi, exit 3 from /bin/bash", out.String(), res, err)
	}
	if errOut.String() != "sh: nosuchcmd: not found\n" {
		t.Errorf("stderr = %q", errOut.String())
	}

	cmd = a.Exec(ctx, realNS, "shell", "distroless")
	cmd.SetStdin(strings.NewReader("echo hi\n"))
	err = cmd.Run()
	var noShell *action.NoShellError
	if !errors.Is(err, action.ErrNoShell) || !errors.As(err, &noShell) ||
		err.Error() != "container distroless has no shell (distroless image?): try an ephemeral debug container: kubectl debug -it -n actions shell --image=busybox --target=distroless" {
		t.Errorf("shell into a distroless container: %v", err)
	}
	// Both shells were tried, through the API server.
	tried := map[string]bool{}
	_, werr := e.srv.WaitForAuditEvent(ctx, func(ev kubetest.AuditEvent) bool {
		if ev.Subresource == "exec" && ev.User == rwUser && strings.Contains(ev.RequestURI, "container=distroless") {
			for _, sh := range []string{"%2Fbin%2Fbash", "%2Fbin%2Fsh"} {
				if strings.Contains(ev.RequestURI, "command="+sh+"&") || strings.HasSuffix(ev.RequestURI, "command="+sh) {
					tried[sh] = true
				}
			}
		}
		return len(tried) == 2
	})
	if werr != nil {
		t.Errorf("audit log does not show both shells tried in the distroless container (saw %v): %v", tried, werr)
	}

	entries := readSessionEntries(t, a.Log)
	var execs []action.SessionEntry
	for _, en := range entries {
		if en.Action == "exec" {
			execs = append(execs, en)
		}
	}
	if len(execs) != 3 || !strings.HasPrefix(execs[1].Result, "/bin/bash exited 3 after ") || !strings.Contains(execs[2].Error, "has no shell") || execs[0].User != rwUser {
		t.Errorf("session log exec entries = %+v", execs)
	}
}

func readSessionEntries(t *testing.T, l *action.SessionLog) []action.SessionEntry {
	t.Helper()
	data, err := os.ReadFile(l.Path(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var out []action.SessionEntry
	for line := range strings.Lines(string(data)) {
		var en action.SessionEntry
		if err := json.Unmarshal([]byte(line), &en); err != nil {
			t.Fatalf("session log line %q: %v", line, err)
		}
		out = append(out, en)
	}
	return out
}

func (e *realEnv) testCordon(t *testing.T) {
	ctx := kubetest.Timeout(t, 20*time.Second)
	a := e.actions(t, rwUser, false)
	const node = "cordon-node"
	if _, err := e.srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	unschedulable := func() bool {
		n, err := e.srv.Client().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Spec.Unschedulable
	}
	for _, step := range []struct {
		do      func(context.Context, string) (action.NodeResult, error)
		changed bool
		want    bool
		msg     string
	}{
		{a.Cordon, true, true, "node cordon-node cordoned"},
		{a.Cordon, false, true, "node cordon-node was already cordoned"},
		{a.Uncordon, true, false, "node cordon-node uncordoned"},
	} {
		res, err := step.do(ctx, node)
		if err != nil || res.Changed != step.changed || res.Message != step.msg {
			t.Errorf("%+v, %v; want changed=%v %q", res, err, step.changed, step.msg)
		}
		if got := unschedulable(); got != step.want {
			t.Errorf("after %q the API server says unschedulable=%v", step.msg, got)
		}
	}
	_, err := a.Cordon(ctx, "deleted-node")
	if !apierrors.IsNotFound(err) || kube.Explain(err) != "cannot cordon node deleted-node: it no longer exists (deleted meanwhile?)" {
		t.Errorf("cordon of a node that is gone: %v", err)
	}
}

// session is one scripted troubleshooting session touching every action;
// it returns the errors of the actions that change something or reach
// into a container, by action.
func (e *realEnv) session(t *testing.T, a *action.Actions, node string) map[string]error {
	ctx := kubetest.Timeout(t, 60*time.Second)
	for _, opts := range []action.LogOptions{{}, {Previous: true}} {
		s, err := a.Logs(ctx, realNS, "crashy", opts)
		if err != nil {
			t.Fatalf("logs %+v: %v", opts, err)
		}
		readLogStream(t, s)
		s.Close()
	}
	errs := map[string]error{}
	errs["exec"] = a.Exec(ctx, realNS, "shell", "app", "sh", "-c", "echo hi").Run()
	_, errs["cordon"] = a.Cordon(ctx, node)
	_, errs["uncordon"] = a.Uncordon(ctx, node)
	opts := action.DrainOptions{Timeout: 20 * time.Second}
	plan, err := a.PlanDrain(ctx, node, opts)
	if err != nil {
		t.Fatalf("plan drain: %v", err)
	}
	_, errs["drain"] = a.Drain(ctx, plan, opts, nil)
	return errs
}

// auditChangesCluster reports whether a request could have changed the cluster
// or reached into a container.
func auditChangesCluster(ev kubetest.AuditEvent) bool {
	switch ev.Subresource {
	case "exec", "attach", "portforward", "proxy", "eviction":
		return true
	}
	switch ev.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		// Access reviews create nothing: read-only mode allows them on purpose.
		return ev.Resource != "selfsubjectaccessreviews" && ev.Resource != "selfsubjectrulesreviews"
	}
	return false
}

func (e *realEnv) testReadOnlyAudit(t *testing.T) {
	ctx := kubetest.Timeout(t, 90*time.Second)
	const node = "audit-node"
	e.drainNode(t, ctx, node, "audit-a")

	// Read-only twice: as kdoctor --read-only runs (both the up-front check
	// and the transport guard), and with only the transport guard, which
	// must stop every action path on its own.
	since := time.Now()
	readOnly := e.actions(t, roUser, true)
	guardOnly := e.actions(t, roUser, true)
	guardOnly.ReadOnly = false
	for name, a := range map[string]*action.Actions{"read-only": readOnly, "transport guard only": guardOnly} {
		for action, err := range e.session(t, a, node) {
			if action == "uncordon" && err == nil && a == guardOnly {
				continue // the cordon was refused: nothing to uncordon, no request to refuse
			}
			if !strings.HasPrefix(kube.Explain(err), "read-only mode: refused") {
				t.Errorf("%s: %s: %v, want a read-only refusal", name, action, err)
			}
		}
	}
	// Then normally, as another identity.
	for action, err := range e.session(t, e.actions(t, rwUser, false), node) {
		if err != nil {
			t.Errorf("normal session: %s: %v", action, err)
		}
	}

	// The normal session's drain is the last request: once it is in the
	// audit log, so is everything before it.
	if _, err := e.srv.WaitForAuditEvent(ctx, func(ev kubetest.AuditEvent) bool {
		return ev.User == rwUser && ev.Subresource == "eviction" && ev.Name == "audit-a"
	}); err != nil {
		t.Fatalf("the normal session's eviction never reached the audit log: %v", err)
	}
	events, err := e.srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	reads, writes := map[string]int{}, map[string]int{}
	normal := map[string]bool{}
	for _, ev := range events {
		if ev.User != roUser && ev.User != rwUser || ev.Time.Before(since) {
			continue
		}
		what := fmt.Sprintf("%s %s/%s", ev.Verb, ev.Resource, ev.Subresource)
		if auditChangesCluster(ev) {
			writes[ev.User]++
			if ev.User == rwUser {
				normal[ev.Verb+" "+ev.Resource+"/"+ev.Subresource] = true
			}
			if ev.User == roUser {
				t.Errorf("read-only session: %s %s (%d)", what, ev.RequestURI, ev.Code)
			}
		} else {
			reads[ev.User]++
		}
	}
	if reads[roUser] == 0 {
		t.Error("the read-only sessions made no request at all: the audit filter is wrong")
	}
	for _, want := range []string{"patch nodes/", "create pods/eviction"} {
		if !normal[want] {
			t.Errorf("the normal session's changes %v lack %q", normal, want)
		}
	}
	if !normal["create pods/exec"] && !normal["get pods/exec"] {
		t.Errorf("the normal session's changes %v lack the exec", normal)
	}
	t.Logf("read-only: %d reads, %d changes; normal: %d reads, %d changes", reads[roUser], writes[roUser], reads[rwUser], writes[rwUser])
}

func (e *realEnv) testRestrictedUser(t *testing.T) {
	ctx := kubetest.Timeout(t, 30*time.Second)
	c := e.srv.Client()
	_, err := c.RbacV1().Roles(realNS).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-viewer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RbacV1().RoleBindings(realNS).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-viewer"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: viewerUser}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := e.actions(t, viewerUser, false)
	access := a.Access()
	// RBAC reaches the authorizer through an informer: allow it a moment.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		access.Forget()
		return access.Can(ctx, realNS, "list", "", "pods", "").Allowed, nil
	})
	if err != nil {
		t.Fatalf("the viewer never got to list pods in %s: %v", realNS, err)
	}
	for _, c := range []struct {
		ns, verb, resource, sub string
		want                    kube.Access
	}{
		{realNS, "list", "pods", "", kube.Access{Allowed: true}},
		{realNS, "get", "pods", "log", kube.Access{Allowed: true}},
		{realOtherNS, "list", "pods", "", kube.Access{Reason: "you cannot list pods in namespace actions-other"}},
		{realNS, "create", "pods", "exec", kube.Access{Reason: "you cannot create pods/exec in namespace actions"}},
		{"", "patch", "nodes", "", kube.Access{Reason: "you cannot patch nodes"}},
	} {
		if got := access.Can(ctx, c.ns, c.verb, "", c.resource, c.sub); got != c.want {
			t.Errorf("can %s %s/%s in %q = %+v, want %+v", c.verb, c.resource, c.sub, c.ns, got, c.want)
		}
	}
	if got := a.CanExec(ctx, realNS); got.Allowed {
		t.Errorf("CanExec = %+v", got)
	}
	if got := a.CanDrain(ctx); got.Allowed || got.Reason != "you cannot patch nodes" {
		t.Errorf("CanDrain = %+v", got)
	}
	// What Can says matches what the server does.
	s, err := a.Logs(ctx, realNS, "crashy", action.LogOptions{Previous: true})
	if err != nil {
		t.Fatal(err)
	}
	lines, _, _ := readLogStream(t, s)
	s.Close()
	if len(lines) != 3 {
		t.Errorf("viewer read %d lines of logs, want 3", len(lines))
	}
	if err := a.Exec(ctx, realNS, "shell", "app", "true").Run(); err == nil || !apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("viewer exec: %v, want forbidden", err)
	}
	if _, err := a.Cordon(ctx, realNode); !apierrors.IsForbidden(err) {
		t.Errorf("viewer cordon: %v, want forbidden", err)
	}
	// The read-only guard answers without asking.
	roAccess := kube.NewAccessReview(kubernetes.Interface(nil), "ctx", true)
	if got := roAccess.Can(ctx, realNS, "create", "", "pods", "exec"); got != (kube.Access{Reason: "read-only mode"}) {
		t.Errorf("read-only Can = %+v", got)
	}
}
