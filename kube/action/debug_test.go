package action_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/action"
)

func debugPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop", ResourceVersion: "1"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app", Image: "gcr.io/distroless/static"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		}}},
	}
}

// sentDebugContainer captures the pod sent to pods/ephemeralcontainers,
// answering with reply (nil: store it, as the API server would).
func sentDebugContainer(c *fake.Clientset, reply error) *[]corev1.EphemeralContainer {
	var sent []corev1.EphemeralContainer
	c.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "ephemeralcontainers" {
			return false, nil, nil
		}
		sent = a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod).Spec.EphemeralContainers
		if reply != nil {
			return true, nil, reply
		}
		return false, nil, nil // the tracker stores it
	})
	return &sent
}

// TestDebugContainerSpec: the container kdoctor adds is kubectl debug's
// -it --target: the image asked for, stdin and a TTY, the target's process
// namespace, a unique kdoctor-debug-xxxxx name; and AddDebugContainer
// returns once the kubelet reports it running.
func TestDebugContainerSpec(t *testing.T) {
	c := fake.NewClientset(debugPod())
	sent := sentDebugContainer(c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The kubelet's part: report the new container running.
	go func() {
		for ctx.Err() == nil {
			p, err := c.CoreV1().Pods("shop").Get(ctx, "api", metav1.GetOptions{})
			if err == nil && len(p.Spec.EphemeralContainers) == 1 {
				p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{
					Name:  p.Spec.EphemeralContainers[0].Name,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
				}}
				if _, err := c.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	d, err := action.AddDebugContainer(ctx, c, "shop", "api", "app", "")
	if err != nil {
		t.Fatalf("AddDebugContainer: %v", err)
	}
	if len(*sent) != 1 {
		t.Fatalf("sent %d ephemeral containers, want 1", len(*sent))
	}
	ec := (*sent)[0]
	if !regexp.MustCompile(`^kdoctor-debug-[a-z0-9]{5}$`).MatchString(ec.Name) || ec.Name != d.Name {
		t.Errorf("name %q (returned %q), want kdoctor-debug-xxxxx", ec.Name, d.Name)
	}
	if ec.Image != "busybox:1.37" || d.Image != ec.Image {
		t.Errorf("image %q, want the default busybox:1.37", ec.Image)
	}
	if ec.TargetContainerName != "app" || !ec.Stdin || !ec.TTY || ec.StdinOnce || len(ec.Command) != 0 {
		t.Errorf("spec %+v, want target app, stdin and tty, the image's own command", ec.EphemeralContainerCommon)
	}

	// A second one gets another name, the first kept.
	go func() {
		for ctx.Err() == nil {
			p, err := c.CoreV1().Pods("shop").Get(ctx, "api", metav1.GetOptions{})
			if err == nil && len(p.Spec.EphemeralContainers) == 2 {
				p.Status.EphemeralContainerStatuses = append(p.Status.EphemeralContainerStatuses, corev1.ContainerStatus{
					Name:  p.Spec.EphemeralContainers[1].Name,
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				})
				if _, err := c.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	d2, err := action.AddDebugContainer(ctx, c, "shop", "api", "app", "nicolaka/netshoot")
	if err != nil {
		t.Fatal(err)
	}
	if len(*sent) != 2 || (*sent)[0].Name != d.Name || d2.Name == d.Name || (*sent)[1].Image != "nicolaka/netshoot" {
		t.Errorf("second debug container: sent %+v", *sent)
	}
}

// TestDebugContainerErrors: forbidden, unsupported and unpullable images
// each say so in one line.
func TestDebugContainerErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gr := schema.GroupResource{Resource: "pods"}

	c := fake.NewClientset(debugPod())
	sentDebugContainer(c, apierrors.NewForbidden(gr, "api", errors.New(`User "dev" cannot update resource "pods/ephemeralcontainers"`)))
	_, err := action.AddDebugContainer(ctx, c, "shop", "api", "app", "")
	if err == nil || !strings.HasPrefix(err.Error(), "not allowed to add a debug container to shop/api (needs update on pods/ephemeralcontainers in shop)") {
		t.Errorf("forbidden: %v", err)
	}

	// An API server without the subresource answers 404 for it while the pod exists.
	c = fake.NewClientset(debugPod())
	sentDebugContainer(c, apierrors.NewNotFound(schema.GroupResource{Resource: "pods/ephemeralcontainers"}, "api"))
	_, err = action.AddDebugContainer(ctx, c, "shop", "api", "app", "")
	if !errors.Is(err, action.ErrDebugUnsupported) || strings.Contains(err.Error(), "\n") {
		t.Errorf("unsupported: %v", err)
	}

	// The image cannot be pulled: the kubelet says so in the status.
	c = fake.NewClientset(debugPod())
	c.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "ephemeralcontainers" {
			return false, nil, nil
		}
		p := a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod).DeepCopy()
		p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{
			Name: p.Spec.EphemeralContainers[0].Name,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull",
				Message: `failed to pull and unpack image "docker.io/library/nosuch:1": failed to resolve reference "docker.io/library/nosuch:1": pull access denied, repository does not exist or may require authorization`}},
		}}
		if err := c.Tracker().Update(gr.WithVersion("v1"), p, "shop"); err != nil {
			return true, nil, err
		}
		return true, p, nil
	})
	d, err := action.AddDebugContainer(ctx, c, "shop", "api", "app", "nosuch:1")
	if err == nil || !strings.Contains(err.Error(), "debug container "+d.Name+" was added to shop/api but it cannot start: ErrImagePull: failed to pull") {
		t.Errorf("unpullable image: %v", err)
	}

	// Read-only: refused before any request.
	c = fake.NewClientset(debugPod())
	a := &action.Actions{Client: c, ReadOnly: true}
	_, err = a.AddDebugContainer(ctx, "shop", "api", "app", "")
	var ro *kube.ReadOnlyError
	if !errors.As(err, &ro) || len(c.Actions()) != 0 {
		t.Errorf("read-only: err %v, requests %v", err, c.Actions())
	}
	if err := a.Attach(ctx, "shop", "api", "kdoctor-debug-abcde").Run(); !errors.As(err, &ro) {
		t.Errorf("read-only attach: %v", err)
	}
}

func TestCheckDebugImage(t *testing.T) {
	for _, image := range []string{"busybox:1.37", "busybox", "nicolaka/netshoot", "registry.example.com:5000/tools/netshoot:v0.13",
		"ghcr.io/acme/debug@sha256:" + strings.Repeat("a", 64), "localhost/debug:latest"} {
		if err := action.CheckDebugImage(image); err != nil {
			t.Errorf("CheckDebugImage(%q): %v", image, err)
		}
	}
	for image, want := range map[string]string{
		"busy box:1.37":       `"busy box:1.37" is not an image reference: invalid reference format`,
		"Busybox:1.37":        `"Busybox:1.37" is not an image reference: invalid reference format: repository name (library/Busybox) must be lowercase`,
		"":                    `"" is not an image reference: invalid reference format`,
		"busybox:":            `"busybox:" is not an image reference: invalid reference format`,
		"registry/Tools/x:v1": `"registry/Tools/x:v1" is not an image reference: invalid reference format: repository name (registry/Tools/x) must be lowercase`,
	} {
		if err := action.CheckDebugImage(image); err == nil || err.Error() != want {
			t.Errorf("CheckDebugImage(%q) = %v, want %s", image, err, want)
		}
	}
}
