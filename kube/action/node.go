package action

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"
)

// NodeResult says what a cordon or uncordon did.
type NodeResult struct {
	Node string
	// Changed is false when the node already was as asked.
	Changed bool
	// Unschedulable is the node's state afterwards.
	Unschedulable bool
	// Message is one sentence for the view: "node n1 cordoned".
	Message string
}

// Cordon marks a node unschedulable, so no new pod lands there; pods
// already running stay.
func Cordon(ctx context.Context, client kubernetes.Interface, node string) (NodeResult, error) {
	return setUnschedulable(ctx, client, node, true)
}

// Uncordon lets the scheduler place pods on a node again.
func Uncordon(ctx context.Context, client kubernetes.Interface, node string) (NodeResult, error) {
	return setUnschedulable(ctx, client, node, false)
}

// setUnschedulable patches spec.unschedulable with kubectl's own cordon
// code (a strategic merge patch of that one field).
func setUnschedulable(ctx context.Context, client kubernetes.Interface, name string, unschedulable bool) (NodeResult, error) {
	verb, done, already := "cordon", "cordoned", "already cordoned"
	if !unschedulable {
		verb, done, already = "uncordon", "uncordoned", "not cordoned: nothing to do"
	}
	res := NodeResult{Node: name}
	node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return res, nodeError(name, verb, err)
	}
	res.Unschedulable = node.Spec.Unschedulable
	if node.Spec.Unschedulable == unschedulable {
		res.Message = fmt.Sprintf("node %s was %s", name, already)
		return res, nil
	}
	h := &drain.Helper{Ctx: ctx, Client: client}
	if err := drain.RunCordonOrUncordon(h, node, unschedulable); err != nil {
		return res, nodeError(name, verb, err)
	}
	res.Changed, res.Unschedulable = true, unschedulable
	res.Message = fmt.Sprintf("node %s %s", name, done)
	return res, nil
}

// nodeError words a failed node action; a node deleted while the user was
// looking at it gets a NotFound error that says so, and stays a NotFound
// for apierrors.IsNotFound and kube.Explain.
func nodeError(node, verb string, err error) error {
	var st apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &st) {
		status := st.Status()
		status.Message = fmt.Sprintf("cannot %s node %s: it no longer exists (deleted meanwhile?)", verb, node)
		return &apierrors.StatusError{ErrStatus: status}
	}
	return fmt.Errorf("%s node %s: %w", verb, node, err)
}
