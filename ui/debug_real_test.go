package ui

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdoctor-dev/kdoctor/kube/action"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/themes"
)

// TestDebugImageAgainstRealAPIServer: with a debug image configured
// (--debug-image, debug.image), s on a container without a shell offers a
// debug container of that image, and the session the offer starts adds an
// ephemeral container of that image through the real
// pods/ephemeralcontainers subresource, then attaches to it through the
// fake kubelet.
func TestDebugImageAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{})
	ctx := kubetest.Timeout(t, 60*time.Second)
	const ns, node, pod, image = "debug-ui", "debug-ui-node", "api", "registry.example.com/tools/netshoot:v0.13"
	kubetest.CreateNamespace(t, srv, ns)
	if _, err := srv.CreateNode(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	kubetest.StartPod(ctx, t, srv, ns, node, pod, nil, "app")
	srv.Kubelet().SetNoShell(ns, pod, "app")

	m := New(Options{Ctx: ctx, Source: kubetest.ConnectAs(t, srv, "", ""),
		Styles: themes.Build(themes.Palette{Name: "mono"}), ThemeFixed: true, DebugImage: image})
	s := podSubject(ns, pod, "app", node)
	// The shell the UI runs for s finds none; the offer follows, as
	// execDone makes it for the program.
	shell := m.env.actions.Exec(ctx, ns, pod, "app")
	err := shell.Run()
	if !errors.Is(err, action.ErrNoShell) {
		t.Fatalf("shell in a container without one: %v", err)
	}
	m.execDone(execDoneMsg{s: s, err: err, canDebug: m.env.actions.CanDebug(ctx, ns)})
	if b := strings.Join(m.dlg.body, "\n"); m.focus != focusDialog ||
		!strings.Contains(b, "kubectl debug -it -n "+ns+" "+pod+" --image="+image+" --target=app") {
		t.Fatalf("no offer of the configured image (focus %v, status %q):\n%s", m.focus, m.status, b)
	}

	d := m.debugCommand(s, "app")
	var out bytes.Buffer
	d.SetStdin(strings.NewReader("hostname\nexit\n"))
	d.SetStdout(&out)
	if err := d.Run(); err != nil || !strings.Contains(out.String(), "Adding a debug container ("+image+")") {
		t.Fatalf("debug session: %v; output %q", err, out.String())
	}
	p, err := srv.Client().CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.EphemeralContainers) != 1 {
		t.Fatalf("ephemeral containers stored: %+v", p.Spec.EphemeralContainers)
	}
	if ec := p.Spec.EphemeralContainers[0]; ec.Name != d.Container().Name || ec.Image != image || ec.TargetContainerName != "app" {
		t.Errorf("the API server stored %s (image %q, target %q), want %s of %s targeting app", ec.Name, ec.Image, ec.TargetContainerName, d.Container().Name, image)
	}
	if _, err := srv.WaitForAuditEvent(ctx, func(ev kubetest.AuditEvent) bool {
		return ev.Verb == "update" && ev.Subresource == "ephemeralcontainers" && ev.Namespace == ns && ev.Name == pod && ev.Code == 200
	}); err != nil {
		t.Errorf("no update of pods/ephemeralcontainers in the audit log: %v", err)
	}
}
