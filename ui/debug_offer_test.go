package ui

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
)

func debugOfferPod(name string, st corev1.ContainerState) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", State: st, RestartCount: 5},
		}},
	}
}

// TestDebugOffer: when s finds no shell (distroless) or a container that
// is not running, a debug container is offered in a confirmation dialog —
// targeting the container's processes only when it has some — or, when
// RBAC forbids it, one status line says why both are unavailable.
func TestDebugOffer(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	crashing := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	base := send(newTestModel(120, 40), testBatch(debugOfferPod("api", running), debugOfferPod("worker", crashing)))
	allowed := kube.Access{Allowed: true}
	body := func(m Model) string { return strings.Join(m.dlg.body, "\n") }

	// No shell: offered, targeting the container.
	m := base
	m.execDone(execDoneMsg{s: podSubject("shop", "api", "app", "n1"), canDebug: allowed,
		err: &action.NoShellError{Namespace: "shop", Pod: "api", Container: "app"}})
	if m.focus != focusDialog || m.dlg.title != "Debug container in shop/api?" {
		t.Fatalf("no shell: focus %v, dialog %q, status %q", m.focus, m.dlg.title, m.status)
	}
	if b := body(m); !strings.Contains(b, "container app has no shell (distroless image?).") ||
		!strings.Contains(b, "kubectl debug -it -n shop api --image=busybox:1.37 --target=app") ||
		!strings.Contains(b, "cannot be removed") {
		t.Errorf("no-shell offer:\n%s", b)
	}
	if m.dlg.onConfirm == nil || m.dlg.onConfirm(&m) == nil {
		t.Error("confirming the offer starts nothing")
	}

	// Not running: offered at once, with no process namespace to target.
	m = base
	if cmd := m.startShell(podSubject("shop", "worker", "", "n1"), allowed); cmd != nil {
		t.Error("s on a crash-looping container started an exec")
	}
	if m.focus != focusDialog {
		t.Fatalf("not running: no dialog; status %q", m.status)
	}
	if b := body(m); !strings.Contains(b, "container app is not running (Waiting: CrashLoopBackOff)") ||
		!strings.Contains(b, "kubectl debug -it -n shop worker --image=busybox:1.37\n") || strings.Contains(b, "--target") {
		t.Errorf("not-running offer:\n%s", b)
	}

	// Forbidden: one line, no dialog.
	m = base
	m.execDone(execDoneMsg{s: podSubject("shop", "api", "app", "n1"),
		canDebug: kube.Access{Reason: "you cannot update pods/ephemeralcontainers in namespace shop"},
		err:      &action.NoShellError{Namespace: "shop", Pod: "api", Container: "app"}})
	if m.focus == focusDialog || m.status != "container app has no shell (distroless image?); a debug container is unavailable too: you cannot update pods/ephemeralcontainers in namespace shop" {
		t.Errorf("forbidden: focus %v, status %q", m.focus, m.status)
	}

	// A debug session's end is reported as such.
	m = base
	m.execDone(execDoneMsg{s: podSubject("shop", "api", "app", "n1"), debug: &action.DebugCommand{},
		err: action.ErrDebugUnsupported})
	if !strings.HasPrefix(m.status, "debug container in shop/api failed: ephemeral containers are not supported") {
		t.Errorf("debug failure status %q", m.status)
	}
}

// TestDebugOfferUsesTheConfiguredImage: with --debug-image or the config's
// debug.image, the offer names that image in its kubectl debug line and
// the session it starts adds a container of that image; without, busybox.
func TestDebugOfferUsesTheConfiguredImage(t *testing.T) {
	const image = "registry.example.com/tools/netshoot:v0.13"
	crashing := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	batch := testBatch(debugOfferPod("worker", crashing))
	s := podSubject("shop", "worker", "", "n1")
	allowed := kube.Access{Allowed: true}

	m := send(withDebugImage(newTestModel(120, 40), image), batch)
	m.startShell(s, allowed)
	if b := strings.Join(m.dlg.body, "\n"); !strings.Contains(b, "kubectl debug -it -n shop worker --image="+image+"\n") {
		t.Errorf("offer with a configured image:\n%s", b)
	}
	if m.dlg.onConfirm == nil || m.dlg.onConfirm(&m) == nil {
		t.Fatal("confirming the offer starts nothing")
	}
	if d := m.debugCommand(s, ""); d.Image != image || d.Pod != "worker" || d.Namespace != "shop" || d.Target != "" {
		t.Errorf("the debug session started is %+v, want image %s", d, image)
	}

	m = send(withDebugImage(newTestModel(120, 40), ""), batch)
	m.startShell(s, allowed)
	if b := strings.Join(m.dlg.body, "\n"); !strings.Contains(b, "--image=busybox:1.37\n") {
		t.Errorf("offer without a configured image:\n%s", b)
	}
	if d := m.debugCommand(s, "app"); d.Image != "busybox:1.37" || d.Target != "app" {
		t.Errorf("default debug session %+v", d)
	}
}

// withDebugImage is New with Options.DebugImage set, for a test model.
func withDebugImage(m Model, image string) Model {
	m.opts.DebugImage, m.env.debugImage = image, image
	return m
}
