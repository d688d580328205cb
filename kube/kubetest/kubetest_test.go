package kubetest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/klog/v2"
	"k8s.io/kubectl/pkg/drain"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// One server for the whole package: starting one costs ~2.5 s, and tests
// keep to their own namespaces and nodes.
var srv *kubetest.Server

const (
	testNS   = "kubetest"
	otherNS  = "kubetest-other"
	testNode = "kubetest-node"
	viewer   = "viewer"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// cri-streaming logs the failed execs the tests make on purpose.
	klog.SetLogger(logr.Discard())
	if testing.Short() {
		// Every test here needs the real API server.
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	s, err := kubetest.Start(ctx, kubetest.Options{Users: []kubetest.User{{Name: viewer, Groups: []string{"kdoctor:viewers"}}}})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv = s
	code := m.Run()
	dir := srv.Dir()
	srv.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "Close left %s behind (%v)\n", dir, err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left after Close: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func server(t *testing.T) *kubetest.Server {
	t.Helper()
	if srv == nil {
		t.Skip("needs the real API server (not in -short mode)")
	}
	return srv
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// --- scenarios -------------------------------------------------------------

var (
	scenariosOnce sync.Once
	scenarios     []*facts.Scenario
	applied       map[string]*kubetest.Applied
	scenariosErr  error
)

// scenarioRoot is testdata/scenarios at the repository root;
// KDOCTOR_SCENARIOS overrides it (to try a scenario being written).
func scenarioRoot(t *testing.T) string {
	if d := os.Getenv("KDOCTOR_SCENARIOS"); d != "" {
		return d
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "scenarios")
}

// applyAll applies every scenario into the shared server, once.
func applyAll(t *testing.T) ([]*facts.Scenario, map[string]*kubetest.Applied) {
	t.Helper()
	s := server(t)
	scenariosOnce.Do(func() {
		root := scenarioRoot(t)
		scenarios, scenariosErr = facts.LoadScenarios(root)
		if scenariosErr == nil && len(scenarios) == 0 {
			scenariosErr = fmt.Errorf("no scenario under %s", root)
		}
		if scenariosErr != nil {
			return
		}
		applied = map[string]*kubetest.Applied{}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, sc := range scenarios {
			a, err := s.ApplyScenario(ctx, sc)
			if err != nil {
				scenariosErr = err
				return
			}
			applied[sc.Name] = a
		}
	})
	if scenariosErr != nil {
		t.Fatal(scenariosErr)
	}
	return scenarios, applied
}

func TestApplyAllScenarios(t *testing.T) {
	s := server(t)
	start := time.Now()
	all, appliedAll := applyAll(t)
	t.Logf("applied %d scenarios in %v", len(all), time.Since(start).Round(time.Millisecond))
	ctx := timeout(t, 30*time.Second)
	pods, err := s.Client().CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byUID := map[types.UID]*corev1.Pod{}
	for i := range pods.Items {
		byUID[pods.Items[i].UID] = &pods.Items[i]
	}
	nPods := 0
	for _, sc := range all {
		a := appliedAll[sc.Name]
		for _, o := range sc.Objects {
			want, ok := o.(*corev1.Pod)
			if !ok {
				continue
			}
			nPods++
			got := byUID[a.UIDs[want.UID]]
			if got == nil {
				t.Errorf("%s: pod %s/%s not listed", sc.Name, want.Namespace, want.Name)
				continue
			}
			if got.Name != want.Name || got.Namespace != want.Namespace {
				t.Errorf("%s: UID of %s/%s maps to %s/%s", sc.Name, want.Namespace, want.Name, got.Namespace, got.Name)
			}
			if want.Status.Phase != "" && got.Status.Phase != want.Status.Phase {
				t.Errorf("%s: pod %s phase %q, want %q", sc.Name, want.Name, got.Status.Phase, want.Status.Phase)
			}
			if g, w := statusSummary(got), statusSummary(want); g != w {
				t.Errorf("%s: pod %s containers\n got %s\nwant %s", sc.Name, want.Name, g, w)
			}
			if (want.DeletionTimestamp != nil) != (got.DeletionTimestamp != nil) {
				t.Errorf("%s: pod %s terminating=%v, want %v", sc.Name, want.Name, got.DeletionTimestamp != nil, want.DeletionTimestamp != nil)
			}
			for _, ref := range got.OwnerReferences {
				if _, inScenario := a.UIDs[ref.UID]; inScenario {
					t.Errorf("%s: pod %s owner %s still has its scenario UID", sc.Name, want.Name, ref.Name)
				}
			}
		}
	}
	if nPods == 0 {
		t.Fatal("the scenarios hold no pod")
	}
	t.Logf("%d scenario pods found among %d listed", nPods, len(pods.Items))

	// Events point at the server's objects.
	events, err := s.Client().CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	serverUIDs := map[types.UID]bool{}
	for _, a := range appliedAll {
		for _, o := range a.Objects {
			serverUIDs[o.UID] = true
		}
	}
	nEvents := 0
	for _, e := range events.Items {
		if e.InvolvedObject.UID == "" || e.Source.Component == "" && e.ReportingController == "" {
			continue
		}
		nEvents++
		if !serverUIDs[e.InvolvedObject.UID] {
			t.Errorf("event %s/%s: involvedObject %s %s uid %s is not a server UID", e.Namespace, e.Name, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.InvolvedObject.UID)
		}
	}
	t.Logf("%d events checked", nEvents)
}

// statusSummary renders what kdoctor diagnoses from container statuses.
func statusSummary(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "%s[ready=%v restarts=%d %s last=%s] ", c.Name, c.Ready, c.RestartCount, stateString(c.State), stateString(c.LastTerminationState))
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return "waiting:" + s.Waiting.Reason
	case s.Terminated != nil:
		return fmt.Sprintf("terminated:%s:%d", s.Terminated.Reason, s.Terminated.ExitCode)
	}
	return "-"
}

// previousLogScenario picks oom-killed, else any scenario with a previous log.
func previousLogScenario(t *testing.T) (*facts.Scenario, facts.LogKey) {
	all, _ := applyAll(t)
	var pick *facts.Scenario
	var key facts.LogKey
	for _, sc := range all {
		for k := range sc.Logs {
			if k.Previous && (pick == nil || sc.Name == "oom-killed" && pick.Name != "oom-killed") {
				pick, key = sc, k
			}
		}
	}
	if pick == nil {
		t.Fatal("no scenario has a .previous.log")
	}
	return pick, key
}

func TestPreviousLogs(t *testing.T) {
	s := server(t)
	sc, key := previousLogScenario(t)
	ctx := timeout(t, 20*time.Second)
	pod, err := s.Client().CoreV1().Pods(key.Namespace).Get(ctx, key.Pod, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s: %v", sc.Name, err)
	}
	var last *corev1.ContainerStateTerminated
	for _, c := range pod.Status.ContainerStatuses {
		if c.Name == key.Container {
			last = c.LastTerminationState.Terminated
		}
	}
	if last == nil {
		t.Fatalf("%s: pod %s container %s has no lastState.terminated", sc.Name, key.Pod, key.Container)
	}
	if sc.Name == "oom-killed" && (last.Reason != "OOMKilled" || last.ExitCode != 137) {
		t.Errorf("lastState.terminated = %s/%d, want OOMKilled/137", last.Reason, last.ExitCode)
	}
	t.Logf("%s: %s/%s lastState %s exit %d", sc.Name, key.Namespace, key.Pod, last.Reason, last.ExitCode)

	got, err := logs(ctx, s, key.Namespace, key.Pod, &corev1.PodLogOptions{Container: key.Container, Previous: true})
	if err != nil {
		t.Fatalf("logs --previous: %v", err)
	}
	want := string(sc.Logs[key])
	if got != want {
		t.Errorf("logs --previous:\n got %q\nwant %q", got, want)
	}
	lines := strings.Split(strings.TrimRight(want, "\n"), "\n")
	tail := int64(1)
	got, err = logs(ctx, s, key.Namespace, key.Pod, &corev1.PodLogOptions{Container: key.Container, Previous: true, TailLines: &tail, Timestamps: true})
	if err != nil {
		t.Fatalf("logs --previous --tail=1: %v", err)
	}
	ts, text, ok := strings.Cut(strings.TrimRight(got, "\n"), " ")
	if !ok || text != lines[len(lines)-1] {
		t.Errorf("logs --tail=1 --timestamps = %q, want a timestamp and %q", got, lines[len(lines)-1])
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
}

// --- pods of our own -------------------------------------------------------

var fixtureOnce sync.Once

// fixtures creates the test namespaces, a Ready node served by the fake
// kubelet and a running pod "shell" with containers app and distroless.
func fixtures(t *testing.T) {
	t.Helper()
	s := server(t)
	var err error
	fixtureOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, ns := range []string{testNS, otherNS} {
			if _, err = s.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				return
			}
		}
		if _, err = s.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}); err != nil {
			return
		}
		err = createPod(ctx, s, testNode, "shell", nil, "app", "distroless")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// createPod creates a running pod in testNS on node.
func createPod(ctx context.Context, s *kubetest.Server, node, name string, owner *metav1.OwnerReference, containers ...string) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: map[string]string{"app": "test"}}, Spec: corev1.PodSpec{NodeName: node}}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	now := metav1.Now()
	status := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "example/" + c})
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Image: "example/" + c, Ready: true, ContainerID: "containerd://" + name + c,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	created, err := s.Client().CoreV1().Pods(testNS).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	status.QOSClass = created.Status.QOSClass
	created.Status = status
	_, err = s.Client().CoreV1().Pods(testNS).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

// logs reads a log the way kubectl does (Stream surfaces the kubelet's
// message; DoRaw would replace it with a generic one).
func logs(ctx context.Context, s *kubetest.Server, ns, pod string, opts *corev1.PodLogOptions) (string, error) {
	rc, err := s.Client().CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestLogErrorsLikeKubelet(t *testing.T) {
	s := server(t)
	fixtures(t)
	ctx := timeout(t, 10*time.Second)
	for _, tc := range []struct {
		opts corev1.PodLogOptions
		want string
	}{
		{corev1.PodLogOptions{Container: "app", Previous: true}, `previous terminated container "app" in pod "shell" not found`},
		{corev1.PodLogOptions{Container: "nope"}, `container nope is not valid for pod shell`}, // the API server checks first
	} {
		_, err := logs(ctx, s, testNS, "shell", &tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("logs %+v: err %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestFollowLogs(t *testing.T) {
	s := server(t)
	fixtures(t)
	key := facts.LogKey{Namespace: testNS, Pod: "shell", Container: "app"}
	s.Kubelet().LoadLogs(map[facts.LogKey][]byte{key: []byte("one\ntwo\n")})
	ctx := timeout(t, 15*time.Second)
	stream, err := s.Client().CoreV1().Pods(testNS).GetLogs("shell", &corev1.PodLogOptions{Container: "app", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stream)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("log stream ended while following")
			}
			return l
		case <-ctx.Done():
			t.Fatal("timed out waiting for a log line")
		}
		return ""
	}
	if a, b := next(), next(); a != "one" || b != "two" {
		t.Fatalf("first lines %q %q, want one two", a, b)
	}
	s.Kubelet().AppendLog(key, "three")
	if l := next(); l != "three" {
		t.Fatalf("appended line %q, want three", l)
	}
}

// execIn runs command in testNS/shell through the API server, WebSocket
// first with SPDY fallback like kubectl.
func execIn(ctx context.Context, t *testing.T, cfg *rest.Config, container string, command []string, stdin string) (string, string, error) {
	return execWith(ctx, t, cfg, false, container, command, stdin)
}

// execWith runs an exec with the fallback executor, or SPDY alone (a POST,
// which the audit log records as verb create; WebSocket is a GET).
func execWith(ctx context.Context, t *testing.T, cfg *rest.Config, spdyOnly bool, container string, command []string, stdin string) (string, string, error) {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(cfg)
	req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(testNS).Name("shell").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdin: stdin != "", Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	if spdyOnly {
		ex = spdy
	}
	var out, errOut bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	err = ex.StreamWithContext(ctx, opts)
	return out.String(), errOut.String(), err
}

func exitCodeOf(err error) int {
	var ce utilexec.CodeExitError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

func TestExec(t *testing.T) {
	s := server(t)
	fixtures(t)
	s.Kubelet().SetNoShell(testNS, "shell", "distroless")
	ctx := timeout(t, 30*time.Second)
	started := time.Now()

	out, _, err := execIn(ctx, t, s.RESTConfig(), "app", []string{"/bin/sh"}, "echo hi\nexit 3\n")
	if out != "hi\n" || exitCodeOf(err) != 3 {
		t.Errorf("sh with 'echo hi; exit 3': stdout %q err %v, want \"hi\\n\" and exit code 3", out, err)
	}
	out, _, err = execIn(ctx, t, s.RESTConfig(), "app", []string{"sh", "-c", "hostname"}, "")
	if out != "shell\n" || err != nil {
		t.Errorf("sh -c hostname: stdout %q err %v", out, err)
	}
	_, errOut, err := execIn(ctx, t, s.RESTConfig(), "app", []string{"bash"}, "curl localhost\n")
	if errOut != "sh: curl: not found\n" || exitCodeOf(err) != 127 {
		t.Errorf("bash with an unknown command: stderr %q err %v, want not found and 127", errOut, err)
	}
	_, _, err = execIn(ctx, t, s.RESTConfig(), "distroless", []string{"/bin/sh"}, "echo hi\n")
	if want := `exec: "/bin/sh": stat /bin/sh: no such file or directory`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("sh in a distroless container: err %v, want %q", err, want)
	}
	out, _, err = execWith(ctx, t, s.RESTConfig(), true, "app", []string{"sh", "-c", "echo spdy; exit 4"}, "")
	if out != "spdy\n" || exitCodeOf(err) != 4 {
		t.Errorf("sh -c over SPDY: stdout %q err %v, want spdy and exit code 4", out, err)
	}
	t.Logf("5 execs in %v", time.Since(started).Round(time.Millisecond))

	for _, verb := range []string{"get", "create"} { // WebSocket, SPDY
		e, err := s.WaitForAuditEvent(ctx, func(e kubetest.AuditEvent) bool {
			return e.Verb == verb && e.Resource == "pods" && e.Subresource == "exec" && e.Name == "shell" &&
				e.User == kubetest.AdminUser && e.Stage == "ResponseComplete"
		})
		if err != nil {
			t.Fatalf("audit log has no %s pods/exec: %v", verb, err)
		}
		t.Logf("audit: %s %s/%s %s by %s → %d", e.Verb, e.Resource, e.Subresource, e.Name, e.User, e.Code)
	}
}

func TestCordonAndDrain(t *testing.T) {
	s := server(t)
	fixtures(t)
	ctx := timeout(t, 45*time.Second)
	c := s.Client()
	const node = "drain-node"
	if _, err := s.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(2)
	rs, err := c.AppsV1().ReplicaSets(testNS).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "test"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "test"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/app"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	for _, name := range []string{"web-a", "web-b"} {
		if err := createPod(ctx, s, node, name, owner, "app"); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := c.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("cordon: %v", err)
	}
	n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Fatalf("node after cordon: unschedulable=%v err=%v", n != nil && n.Spec.Unschedulable, err)
	}

	var log bytes.Buffer
	h := &drain.Helper{
		Ctx: ctx, Client: c, Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds: -1, Timeout: 30 * time.Second, Out: &log, ErrOut: &log,
	}
	started := time.Now()
	if err := drain.RunNodeDrain(h, node); err != nil {
		t.Fatalf("drain: %v\n%s", err, log.String())
	}
	t.Logf("drain took %v", time.Since(started).Round(time.Millisecond))
	left, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 0 {
		t.Errorf("%d pods left on the drained node", len(left.Items))
	}
}

func TestRestrictedUser(t *testing.T) {
	s := server(t)
	fixtures(t)
	ctx := timeout(t, 20*time.Second)
	c := s.Client()
	if s.RESTConfigFor("nobody") != nil {
		t.Error("RESTConfigFor an undeclared user is not nil")
	}
	_, err := c.RbacV1().Roles(testNS).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RbacV1().RoleBindings(testNS).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewer-reads-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: viewer}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Use the kubeconfig, as kdoctor would.
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := s.WriteKubeconfig(path, viewer); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	vc := kubernetes.NewForConfigOrDie(cfg)
	// RBAC reaches the authorizer through an informer: allow a moment.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := vc.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("viewer never allowed to list pods in %s: %v", testNS, err)
	}
	_, err = vc.CoreV1().Pods(otherNS).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("viewer listing pods in %s: err %v, want Forbidden", otherNS, err)
	}
	err = vc.CoreV1().Pods(testNS).Delete(ctx, "shell", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
	if !apierrors.IsForbidden(err) {
		t.Errorf("viewer deleting a pod: err %v, want Forbidden", err)
	}
}

func TestKubeconfigAndVersion(t *testing.T) {
	s := server(t)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := s.WriteKubeconfig(path, ""); err != nil {
		t.Fatal(err)
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != kubetest.ContextName {
		t.Errorf("current context %q, want %q", raw.CurrentContext, kubetest.ContextName)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	v, err := kubernetes.NewForConfigOrDie(cfg).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("server version %q, want v1.37.2 (is bin/kube-apiserver version-stamped?)", v.GitVersion)
	}
	if err := s.WriteKubeconfig(path, "nobody"); err == nil {
		t.Error("WriteKubeconfig for an undeclared user succeeded")
	}
}

func TestSyntheticPods(t *testing.T) {
	s := server(t)
	ctx := timeout(t, 30*time.Second)
	started := time.Now()
	if err := s.CreateSyntheticPods(ctx, "bench", 200, 16); err != nil {
		t.Fatal(err)
	}
	t.Logf("200 synthetic pods in %v", time.Since(started).Round(time.Millisecond))
	pods, err := s.Client().CoreV1().Pods("bench").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, p := range pods.Items {
		if len(p.Spec.Containers) != 2 || len(p.OwnerReferences) != 1 {
			t.Fatalf("pod %s: %d containers, %d owners", p.Name, len(p.Spec.Containers), len(p.OwnerReferences))
		}
		counts[podState(&p)]++
	}
	want := map[string]int{"Running": 172, "NotReady": 8, "CrashLoopBackOff": 8, "ImagePullBackOff": 6, "Unschedulable": 6}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", counts, want)
	}
}

func podState(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
			return "Unschedulable"
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			return w.Reason
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			return "NotReady"
		}
	}
	return string(p.Status.Phase)
}

// TestRestartAPIServer runs last: it takes the API server away and back.
func TestRestartAPIServer(t *testing.T) {
	s := server(t)
	fixtures(t)
	ctx := timeout(t, 60*time.Second)
	c := s.Client()
	s.StopAPIServer()
	if _, err := c.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("listing pods worked with the API server stopped")
	}
	started := time.Now()
	if err := s.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v", time.Since(started).Round(time.Millisecond))
	if _, err := c.CoreV1().Pods(testNS).Get(ctx, "shell", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod from before the restart: %v", err)
	}
	// The kubelet watches again: a graceful delete on its node completes.
	if err := createPod(ctx, s, testNode, "short-lived", nil, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Pods(testNS).Delete(ctx, "short-lived", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Pods(testNS).Get(ctx, "short-lived", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("terminating pod not removed by the fake kubelet after the restart: %v", err)
	}
	out, _, err := execIn(ctx, t, s.RESTConfig(), "app", []string{"sh", "-c", "echo back"}, "")
	if out != "back\n" || err != nil {
		t.Errorf("exec after restart: %q %v", out, err)
	}
}

func TestMissingBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := kubetest.Start(context.Background(), kubetest.Options{BinDir: dir})
	want := fmt.Sprintf(`kube-apiserver binary not found in %s: run "make bin"`, dir)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Start without binaries: %v, want %q", err, want)
	}
}
