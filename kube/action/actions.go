package action

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// Actions are the one-key actions of the UI against one cluster: logs,
// shell, cordon, uncordon, drain. Each is a plain function of its inputs
// returning a typed result (long ones report progress through a callback
// and honour ctx); none touches UI state. Actions adds what every action
// needs: read-only mode refuses changes before any request, and every
// change (and every shell) is written to the session log.
type Actions struct {
	Client kubernetes.Interface
	// Config is needed by exec; nil (the demo) makes exec unavailable.
	Config *rest.Config
	// Source serves logs, so they work on the demo too.
	Source kube.Source
	// Log records changes; nil records nothing.
	Log *SessionLog
	// Context and User identify the cluster and identity in the session log.
	Context, User string
	// ReadOnly refuses every change and exec without a request.
	ReadOnly bool

	accessOnce sync.Once
	access     *kube.AccessReview
}

// NewActions builds the actions for a source; cfg is the source's REST
// config (nil for the demo).
func NewActions(src kube.Source, cfg *rest.Config, log *SessionLog) *Actions {
	info := src.Info()
	return &Actions{Client: src.Client(), Config: cfg, Source: src, Log: log, Context: info.Context, ReadOnly: info.ReadOnly}
}

// Access returns the permission cache for this cluster and identity.
func (a *Actions) Access() *kube.AccessReview {
	a.accessOnce.Do(func() { a.access = kube.NewAccessReview(a.Client, a.Context, a.ReadOnly) })
	return a.access
}

// CanExec says whether a shell into pods of namespace ns would be allowed.
func (a *Actions) CanExec(ctx context.Context, ns string) kube.Access {
	return a.Access().Can(ctx, ns, "create", "", "pods", "exec")
}

// CanDebug says whether a debug container may be added to pods of
// namespace ns (pods/ephemeralcontainers, then attached to: pods/attach).
func (a *Actions) CanDebug(ctx context.Context, ns string) kube.Access {
	if acc := a.Access().Can(ctx, ns, "update", "", "pods", "ephemeralcontainers"); !acc.Allowed {
		return acc
	}
	return a.Access().Can(ctx, ns, "create", "", "pods", "attach")
}

// CanCordon says whether nodes may be cordoned and uncordoned.
func (a *Actions) CanCordon(ctx context.Context) kube.Access {
	return a.Access().Can(ctx, "", "patch", "", "nodes", "")
}

// CanDrain says whether nodes may be drained: cordoned, and their pods evicted.
func (a *Actions) CanDrain(ctx context.Context) kube.Access {
	if acc := a.CanCordon(ctx); !acc.Allowed {
		return acc
	}
	return a.Access().Can(ctx, "", "create", "", "pods", "eviction")
}

// Logs opens a pod's logs (a read: neither refused nor recorded).
func (a *Actions) Logs(ctx context.Context, namespace, pod string, opts LogOptions) (*LogStream, error) {
	return OpenLogs(ctx, a.Source, namespace, pod, opts)
}

// WorkloadLogs opens the merged logs of a workload's pods (a read).
func (a *Actions) WorkloadLogs(ctx context.Context, kind, namespace, name string, opts WorkloadLogOptions) (*LogStream, error) {
	return OpenWorkloadLogs(ctx, a.Source, kind, namespace, name, opts)
}

// Cordon marks a node unschedulable.
func (a *Actions) Cordon(ctx context.Context, node string) (NodeResult, error) {
	return a.nodeAction(ctx, "cordon", node, Cordon)
}

// Uncordon makes a node schedulable again.
func (a *Actions) Uncordon(ctx context.Context, node string) (NodeResult, error) {
	return a.nodeAction(ctx, "uncordon", node, Uncordon)
}

func (a *Actions) nodeAction(ctx context.Context, action, node string, do func(context.Context, kubernetes.Interface, string) (NodeResult, error)) (NodeResult, error) {
	if err := a.refuse(http.MethodPatch, "/api/v1/nodes/"+node); err != nil {
		a.record(action, "node/"+node, "", err)
		return NodeResult{Node: node}, err
	}
	res, err := do(ctx, a.Client, node)
	a.record(action, "node/"+node, res.Message, err)
	return res, err
}

// PlanDrain says what draining node would do (reads only; allowed in
// read-only mode, so the user can still see the plan).
func (a *Actions) PlanDrain(ctx context.Context, node string, opts DrainOptions) (*DrainPlan, error) {
	return PlanDrain(ctx, a.Client, node, opts)
}

// Drain runs a drain planned by PlanDrain; see RunDrain.
func (a *Actions) Drain(ctx context.Context, plan *DrainPlan, opts DrainOptions, progress func(DrainProgress)) (DrainSummary, error) {
	if plan == nil {
		return RunDrain(ctx, a.Client, plan, opts, progress)
	}
	if err := a.refuse(http.MethodPatch, "/api/v1/nodes/"+plan.Node); err != nil {
		a.record("drain", "node/"+plan.Node, "", err)
		if progress != nil {
			progress(DrainProgress{Step: DrainFinished, Message: fmt.Sprintf("drain of node %s not started: %s", plan.Node, kube.Explain(err))})
		}
		return DrainSummary{Node: plan.Node}, err
	}
	sum, err := RunDrain(ctx, a.Client, plan, opts, progress)
	a.record("drain", "node/"+plan.Node, sum.String(), err)
	return sum, err
}

// Exec prepares a session in a container (a shell when command is empty),
// to be run with tea.Exec; it is recorded in the session log when it ends.
func (a *Actions) Exec(ctx context.Context, namespace, pod, container string, command ...string) *ExecCommand {
	e := NewExec(ctx, a.Config, namespace, pod, container, command...)
	e.refuse = a.refuse(http.MethodPost, fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/exec", namespace, pod))
	object := fmt.Sprintf("pod/%s/%s container %s", namespace, pod, container)
	e.onDone = func(res ExecResult, err error) {
		result := ""
		if err == nil {
			result = fmt.Sprintf("%s exited %d after %s", strings.Join(res.Command, " "), res.ExitCode, res.Duration.Round(time.Second))
		}
		a.record("exec", object, result, err)
	}
	return e
}

// AddDebugContainer adds an ephemeral debug container (image, or
// DefaultDebugImage) targeting container's process namespace (none when
// container is "") and waits
// until it runs; see the package function. Read-only mode refuses it
// before any request; it is recorded in the session log.
func (a *Actions) AddDebugContainer(ctx context.Context, namespace, pod, container, image string) (DebugContainer, error) {
	object := fmt.Sprintf("pod/%s/%s", namespace, pod)
	if container != "" {
		object += " target " + container
	}
	if err := a.refuse(http.MethodPut, fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/ephemeralcontainers", namespace, pod)); err != nil {
		a.record("debug", object, "", err)
		return DebugContainer{Namespace: namespace, Pod: pod, Target: container}, err
	}
	d, err := AddDebugContainer(ctx, a.Client, namespace, pod, container, image)
	result := ""
	if d.Name != "" {
		result = fmt.Sprintf("added ephemeral container %s (image %s)", d.Name, d.Image)
	}
	a.record("debug", object, result, err)
	return d, err
}

// Attach prepares an interactive session with a container's main process
// (a debug container's shell), to be run with tea.Exec; it is recorded in
// the session log when it ends.
func (a *Actions) Attach(ctx context.Context, namespace, pod, container string) *ExecCommand {
	e := NewAttach(ctx, a.Config, namespace, pod, container)
	e.refuse = a.refuse(http.MethodPost, fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/attach", namespace, pod))
	object := fmt.Sprintf("pod/%s/%s container %s", namespace, pod, container)
	e.onDone = func(res ExecResult, err error) {
		result := ""
		if err == nil {
			result = fmt.Sprintf("attach ended with code %d after %s", res.ExitCode, res.Duration.Round(time.Second))
		}
		a.record("attach", object, result, err)
	}
	return e
}

// refuse is the read-only check done before any request.
func (a *Actions) refuse(method, path string) error {
	if a.ReadOnly {
		return &kube.ReadOnlyError{Method: method, Path: path}
	}
	return nil
}

// record appends to the session log. A log that cannot be written does not
// fail the action: SessionLog.Err keeps the error for the view.
func (a *Actions) record(action, object, result string, err error) {
	e := SessionEntry{Context: a.Context, User: a.User, Action: action, Object: object, Result: result}
	if err != nil {
		e.Error = kube.Explain(err)
	}
	_ = a.Log.Append(e)
}
