package action_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// testDebugContainer adds a debug container to the distroless container
// through the real pods/ephemeralcontainers subresource, attaches to it
// through pods/attach and the fake kubelet, and checks the refusals:
// read-only (nothing sent) and RBAC (a viewer who may read pods only).
func (e *realEnv) testDebugContainer(t *testing.T) {
	ctx := kubetest.Timeout(t, 60*time.Second)
	a := e.actions(t, rwUser, false)
	if acc := a.CanDebug(ctx, realNS); !acc.Allowed {
		t.Fatalf("CanDebug for an admin = %+v", acc)
	}
	d, err := a.AddDebugContainer(ctx, realNS, "shell", "distroless", "")
	if err != nil {
		t.Fatalf("AddDebugContainer: %v", err)
	}
	p, err := e.srv.Client().CoreV1().Pods(realNS).Get(ctx, "shell", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stored *corev1.EphemeralContainer
	for i := range p.Spec.EphemeralContainers {
		if p.Spec.EphemeralContainers[i].Name == d.Name {
			stored = &p.Spec.EphemeralContainers[i]
		}
	}
	if stored == nil || stored.Image != "busybox:1.37" || stored.TargetContainerName != "distroless" || !stored.Stdin || !stored.TTY {
		t.Fatalf("the API server stored %+v for %s", stored, d.Name)
	}
	if st := ephemeralStatus(p, d.Name); st.State.Running == nil {
		t.Errorf("AddDebugContainer returned before %s ran: %+v", d.Name, st.State)
	}
	if _, err := e.srv.WaitForAuditEvent(ctx, func(ev kubetest.AuditEvent) bool {
		return ev.User == rwUser && ev.Verb == "update" && ev.Subresource == "ephemeralcontainers" && ev.Name == "shell" && ev.Code == 200
	}); err != nil {
		t.Errorf("no update of pods/ephemeralcontainers in the audit log: %v", err)
	}

	// Attach to its shell, as kubectl attach -i does (no terminal here).
	cmd := a.Attach(ctx, realNS, "shell", d.Name)
	var out bytes.Buffer
	cmd.SetStdin(strings.NewReader("hostname\nexit 4\n"))
	cmd.SetStdout(&out)
	if err := cmd.Run(); err != nil || out.String() != "shell\n" {
		t.Errorf("attach: stdout %q, err %v", out.String(), err)
	}
	if _, err := e.srv.WaitForAuditEvent(ctx, func(ev kubetest.AuditEvent) bool {
		return ev.User == rwUser && ev.Subresource == "attach" && ev.Name == "shell" && strings.Contains(ev.RequestURI, "container="+d.Name)
	}); err != nil {
		t.Errorf("no pods/attach in the audit log: %v", err)
	}
	// Its shell exited: the kubelet reports the container terminated.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.srv.Client().CoreV1().Pods(realNS).Get(ctx, "shell", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		t := ephemeralStatus(p, d.Name).State.Terminated
		return t != nil && t.ExitCode == 4, nil
	})
	if err != nil {
		t.Errorf("%s not terminated with code 4 after its shell exited: %v", d.Name, err)
	}
	var logged []string
	for _, en := range readSessionEntries(t, a.Log) {
		if en.Action == "debug" || en.Action == "attach" {
			logged = append(logged, en.Action+": "+en.Result+en.Error)
		}
	}
	if len(logged) != 2 || logged[0] != "debug: added ephemeral container "+d.Name+" (image busybox:1.37)" || !strings.HasPrefix(logged[1], "attach: attach ended with code 0 after ") {
		t.Errorf("session log = %q", logged)
	}

	// The whole session as the UI runs it: add, wait, attach.
	dc := a.Debug(ctx, realNS, "shell", "distroless", "")
	out.Reset()
	dc.SetStdin(strings.NewReader("echo from the debug shell\nexit\n"))
	dc.SetStdout(&out)
	if err := dc.Run(); err != nil || dc.Container().Name == "" || dc.Container().Name == d.Name ||
		!strings.Contains(out.String(), "Debug container "+dc.Container().Name+" is running") ||
		!strings.HasSuffix(out.String(), "\nfrom the debug shell\n") {
		t.Errorf("debug session: output %q, container %+v, err %v", out.String(), dc.Container(), err)
	}

	t.Run("terminal", e.testDebugTTY)

	// Read-only, with the up-front check and with the transport guard
	// alone: refused, and nothing reaches the server.
	p, err = e.srv.Client().CoreV1().Pods(realNS).Get(ctx, "shell", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	added := len(p.Spec.EphemeralContainers)
	since := time.Now()
	ro := e.actions(t, roUser, true)
	guardOnly := e.actions(t, roUser, true)
	guardOnly.ReadOnly = false
	for name, ra := range map[string]*action.Actions{"read-only": ro, "transport guard only": guardOnly} {
		var roErr *kube.ReadOnlyError
		if _, err := ra.AddDebugContainer(ctx, realNS, "shell", "distroless", ""); !errors.As(err, &roErr) {
			t.Errorf("%s: debug container: %v, want a read-only refusal", name, err)
		}
		if err := ra.Attach(ctx, realNS, "shell", d.Name).Run(); !strings.HasPrefix(kube.Explain(err), "read-only mode: refused") {
			t.Errorf("%s: attach: %v, want a read-only refusal", name, err)
		}
	}
	// A request after the read-only ones marks the end of what to look at.
	if _, err := e.srv.Client().CoreV1().Pods(realNS).Get(ctx, "shell", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // audit batches are written by the server asynchronously
	events, err := e.srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.User == roUser && !ev.Time.Before(since) && (ev.Subresource == "ephemeralcontainers" || ev.Subresource == "attach") {
			t.Errorf("read-only session reached the server: %s %s", ev.Verb, ev.RequestURI)
		}
	}

	// RBAC: the viewer may read pods, not add containers to them.
	c := e.srv.Client()
	if _, err := c.RbacV1().Roles(realNS).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "debug-viewer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings(realNS).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "debug-viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "debug-viewer"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: viewerUser}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	viewer := e.actions(t, viewerUser, false)
	// RBAC reaches the authorizer through an informer: allow it a moment.
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		viewer.Access().Forget()
		return viewer.Access().Can(ctx, realNS, "get", "", "pods", "").Allowed, nil
	}); err != nil {
		t.Fatalf("the viewer never got to read pods: %v", err)
	}
	if acc := viewer.CanDebug(ctx, realNS); acc.Allowed || acc.Reason != "you cannot update pods/ephemeralcontainers in namespace actions" {
		t.Errorf("viewer CanDebug = %+v", acc)
	}
	_, err = viewer.AddDebugContainer(ctx, realNS, "shell", "distroless", "")
	if err == nil || !strings.HasPrefix(err.Error(), "not allowed to add a debug container to actions/shell (needs update on pods/ephemeralcontainers in actions)") {
		t.Errorf("viewer debug container: %v", err)
	}
	p, err = e.srv.Client().CoreV1().Pods(realNS).Get(ctx, "shell", metav1.GetOptions{})
	if err != nil || len(p.Spec.EphemeralContainers) != added {
		t.Errorf("after the refusals the pod has %d ephemeral containers, want %d (err %v)", len(p.Spec.EphemeralContainers), added, err)
	}
}

func ephemeralStatus(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, st := range p.Status.EphemeralContainerStatuses {
		if st.Name == name {
			return st
		}
	}
	return corev1.ContainerStatus{}
}
