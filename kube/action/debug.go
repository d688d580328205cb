package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// DefaultDebugImage is the image of debug containers: a shell and the
// usual tools in a few MB, as `kubectl debug --image=busybox` is used.
const DefaultDebugImage = "busybox:1.37"

// CheckDebugImage says whether image is a reference a node can pull, read
// by the parser kubectl debug checks its --image with ("busybox:1.37",
// "registry.example.com/tools/netshoot:v0.13", "…@sha256:…"); the error
// says what is wrong with it (a space, an upper-case repository name).
func CheckDebugImage(image string) error {
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return fmt.Errorf("%q is not an image reference: %v", image, err)
	}
	return nil
}

// debugPrefix names kdoctor's debug containers, so users and audits can
// tell them from kubectl's (debugger-xxxxx).
const debugPrefix = "kdoctor-debug-"

// ErrDebugUnsupported matches the error of a cluster that does not serve
// the pods/ephemeralcontainers subresource (Kubernetes before 1.23, or the
// EphemeralContainers feature off).
var ErrDebugUnsupported = errors.New("ephemeral containers are not supported by this cluster")

// DebugContainer is an ephemeral container added to a pod to debug it.
type DebugContainer struct {
	Namespace, Pod string
	// Name is the new container's (kdoctor-debug-xxxxx); Target the
	// container whose process namespace it shares.
	Name, Target, Image string
}

// DebugSpec is the ephemeral container kdoctor adds: what `kubectl debug
// -it POD --image=IMAGE --target=TARGET` adds — stdin and a TTY so it can
// be attached to, sharing the target's process namespace.
func DebugSpec(name, target, image string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name:                     name,
			Image:                    image,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			Stdin:                    true,
			TTY:                      true,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		},
		TargetContainerName: target,
	}
}

// AddDebugContainer adds an ephemeral debug container targeting container
// to a pod, through the pods/ephemeralcontainers subresource, and waits
// until it runs. The errors say in one line what went wrong: forbidden,
// unsupported, the pod gone, the image not pulled. An ephemeral container
// cannot be removed once added: when it was added but does not start, the
// error says so and names it.
func AddDebugContainer(ctx context.Context, client kubernetes.Interface, namespace, pod, target, image string) (DebugContainer, error) {
	if image == "" {
		image = DefaultDebugImage
	}
	d := DebugContainer{Namespace: namespace, Pod: pod, Target: target, Image: image}
	pods := client.CoreV1().Pods(namespace)
	p, err := pods.Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return d, fmt.Errorf("debug container for %s/%s: %w", namespace, pod, err)
	}
	d.Name = uniqueDebugName(p)
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, DebugSpec(d.Name, target, image))
	if _, err := pods.UpdateEphemeralContainers(ctx, pod, p, metav1.UpdateOptions{}); err != nil {
		return d, debugError(ctx, client, d, err)
	}
	return d, waitDebugRunning(ctx, client, d, p.ResourceVersion)
}

// uniqueDebugName picks kdoctor-debug-xxxxx not already used in the pod.
func uniqueDebugName(p *corev1.Pod) string {
	used := map[string]bool{}
	for _, c := range p.Spec.Containers {
		used[c.Name] = true
	}
	for _, c := range p.Spec.InitContainers {
		used[c.Name] = true
	}
	for _, c := range p.Spec.EphemeralContainers {
		used[c.Name] = true
	}
	for {
		if name := debugPrefix + utilrand.String(5); !used[name] {
			return name
		}
	}
}

// debugError turns the subresource's refusal into one line.
func debugError(ctx context.Context, client kubernetes.Interface, d DebugContainer, err error) error {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to add a debug container to %s/%s (needs update on pods/ephemeralcontainers in %s): %w", d.Namespace, d.Pod, d.Namespace, err)
	case apierrors.IsNotFound(err):
		// The pod was there a moment ago: a 404 now is the subresource
		// missing, unless the pod went away meanwhile.
		if _, gerr := client.CoreV1().Pods(d.Namespace).Get(ctx, d.Pod, metav1.GetOptions{}); apierrors.IsNotFound(gerr) {
			return fmt.Errorf("pod %s/%s is gone: %w", d.Namespace, d.Pod, err)
		}
		return fmt.Errorf("%w (pods/ephemeralcontainers not found: Kubernetes 1.23 or later is needed): %v", ErrDebugUnsupported, err)
	case apierrors.IsMethodNotSupported(err):
		return fmt.Errorf("%w: %v", ErrDebugUnsupported, err)
	case apierrors.IsConflict(err):
		return fmt.Errorf("pod %s/%s changed while adding the debug container; try again: %w", d.Namespace, d.Pod, err)
	}
	return fmt.Errorf("add debug container to %s/%s: %w", d.Namespace, d.Pod, err)
}

// waitDebugRunning watches the pod until the kubelet reports the debug
// container running, or it cannot start.
func waitDebugRunning(ctx context.Context, client kubernetes.Interface, d DebugContainer, since string) error {
	notStarted := func(why string) error {
		return fmt.Errorf("debug container %s was added to %s/%s but %s (an ephemeral container cannot be removed; it stays in the pod spec until the pod is replaced)", d.Name, d.Namespace, d.Pod, why)
	}
	check := func(p *corev1.Pod) (bool, error) {
		for _, st := range p.Status.EphemeralContainerStatuses {
			if st.Name != d.Name {
				continue
			}
			switch {
			case st.State.Running != nil:
				return true, nil
			case st.State.Terminated != nil:
				t := st.State.Terminated
				return false, notStarted(fmt.Sprintf("it ended at once (%s, exit code %d)", t.Reason, t.ExitCode))
			case st.State.Waiting != nil:
				switch st.State.Waiting.Reason {
				case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerError", "CreateContainerConfigError", "RunContainerError":
					return false, notStarted(fmt.Sprintf("it cannot start: %s: %s", st.State.Waiting.Reason, st.State.Waiting.Message))
				}
			}
		}
		return false, nil
	}
	pods := client.CoreV1().Pods(d.Namespace)
	sel := fields.OneTermEqualSelector("metadata.name", d.Pod).String()
	for {
		p, err := pods.Get(ctx, d.Pod, metav1.GetOptions{})
		if err != nil {
			return notStarted("its status cannot be read: " + err.Error())
		}
		if ok, err := check(p); ok || err != nil {
			return err
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: p.ResourceVersion})
		if err != nil {
			if ctx.Err() != nil {
				return notStarted("it did not start in time")
			}
			return notStarted("its status cannot be watched: " + err.Error())
		}
		ok, err := watchUntil(ctx, w, check)
		w.Stop()
		if errors.Is(err, errPodDeleted) {
			return notStarted("the pod was deleted")
		}
		if ok || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return notStarted("it did not start in time")
		}
		// The watch ended (timeout, server restart): read again and go on.
	}
}

var errPodDeleted = errors.New("pod deleted")

func watchUntil(ctx context.Context, w watch.Interface, check func(*corev1.Pod) (bool, error)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case ev, open := <-w.ResultChan():
			if !open {
				return false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return false, errPodDeleted
			case watch.Added, watch.Modified:
				if p, ok := ev.Object.(*corev1.Pod); ok {
					if ok, err := check(p); ok || err != nil {
						return ok, err
					}
				}
			}
		}
	}
}

// NewAttach prepares `kubectl attach -it`: the session talks to the
// container's main process (a debug container's shell) through pods/attach.
func NewAttach(ctx context.Context, cfg *rest.Config, namespace, pod, container string) *ExecCommand {
	e := NewExec(ctx, cfg, namespace, pod, container)
	e.attach = true
	return e
}

// debugStartTimeout bounds the wait for a debug container to run (an
// image pull on a slow node).
const debugStartTimeout = 2 * time.Minute

// DebugCommand adds a debug container and attaches to it, like `kubectl
// debug -it POD --image=IMAGE --target=CONTAINER`: the UI hands it the
// terminal with tea.Exec (it implements tea.ExecCommand), and the wait for
// the container is shown there, as kubectl shows it.
type DebugCommand struct {
	Namespace, Pod, Target, Image string

	ctx       context.Context
	acts      *Actions
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	container DebugContainer
	result    ExecResult
}

// Debug prepares a debug session into a pod, targeting container ("": the
// pod's own namespaces); image empty means DefaultDebugImage.
func (a *Actions) Debug(ctx context.Context, namespace, pod, container, image string) *DebugCommand {
	if image == "" {
		image = DefaultDebugImage
	}
	return &DebugCommand{Namespace: namespace, Pod: pod, Target: container, Image: image, ctx: ctx, acts: a}
}

// SetStdin sets the session's input (a terminal gets a TTY in raw mode).
func (d *DebugCommand) SetStdin(r io.Reader) { d.stdin = r }

// SetStdout sets where the output goes.
func (d *DebugCommand) SetStdout(w io.Writer) { d.stdout = w }

// SetStderr sets where the error output goes.
func (d *DebugCommand) SetStderr(w io.Writer) { d.stderr = w }

// Container is the debug container added (Name empty when none was).
func (d *DebugCommand) Container() DebugContainer { return d.container }

// Result is how the attach went.
func (d *DebugCommand) Result() ExecResult { return d.result }

// Run adds the container, waits until it runs, and attaches to it until
// its shell exits or the user detaches.
func (d *DebugCommand) Run() error {
	ctx := d.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if d.acts.Config == nil && !d.acts.ReadOnly {
		return errors.New("a debug container needs a real cluster: the demo has no containers")
	}
	out := writerOr(d.stdout)
	sharing := ""
	if d.Target != "" {
		sharing = ", sharing the processes of container " + d.Target
	}
	fmt.Fprintf(out, "Adding a debug container (%s) to pod %s/%s%s; waiting for it to start…\n", d.Image, d.Namespace, d.Pod, sharing)
	wctx, cancel := context.WithTimeout(ctx, debugStartTimeout)
	c, err := d.acts.AddDebugContainer(wctx, d.Namespace, d.Pod, d.Target, d.Image)
	cancel()
	d.container = c
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Debug container %s is running; exit its shell to come back (it cannot be removed: it stays in the pod until the pod is replaced).\n", c.Name)
	at := d.acts.Attach(ctx, d.Namespace, d.Pod, c.Name)
	at.SetStdin(d.stdin)
	at.SetStdout(d.stdout)
	at.SetStderr(d.stderr)
	err = at.Run()
	d.result = at.Result()
	return err
}
