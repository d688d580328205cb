package demo

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube"
)

// TestDemoReadOnlyGuard: a read-only demo refuses what a read-only cluster
// refuses, with the same error, before the demo cluster sees it; reads,
// watches and access reviews work; and the demo's own churn goes on.
func TestDemoReadOnlyGuard(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	d, err := NewDemo(os.DirFS("../../testdata/scenarios"), ".", now)
	if err != nil {
		t.Fatal(err)
	}
	d.GuardReadOnly()
	if !d.Info().ReadOnly {
		t.Fatal("Info does not say read-only")
	}
	c := d.Client()
	pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("list: %v", err)
	}
	pod := pods.Items[0]
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	node := nodes.Items[0].Name
	w, err := c.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	if _, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("access review: %v", err)
	}
	if _, err := c.Discovery().ServerResourcesForGroupVersion("v1"); err != nil {
		t.Fatalf("discovery: %v", err)
	}

	refusals := map[string]error{}
	_, refusals["PATCH node"] = c.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
	n := nodes.Items[0].DeepCopy()
	n.Spec.Unschedulable = true
	_, refusals["PUT node"] = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	refusals["POST eviction"] = c.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}})
	refusals["DELETE pod"] = c.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	refusals["DELETE collection"] = c.CoreV1().Pods(pod.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	_, refusals["POST pod"] = c.CoreV1().Pods(pod.Namespace).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	_, refusals["PUT pods/status"] = c.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, &pod, metav1.UpdateOptions{})
	_, refusals["GET services/proxy"] = c.CoreV1().Services(pod.Namespace).ProxyGet("http", "web", "80", "/", nil).DoRaw(ctx)
	_, refusals["GET pods/proxy"] = c.CoreV1().Pods(pod.Namespace).ProxyGet("http", pod.Name, "8080", "/metrics", nil).DoRaw(ctx)
	for what, err := range refusals {
		var ro *kube.ReadOnlyError
		if !errors.As(err, &ro) {
			t.Errorf("%s: want a read-only refusal, got %v", what, err)
			continue
		}
		if !strings.HasPrefix(kube.Explain(err), "read-only mode: refused ") {
			t.Errorf("%s: %q is not the read-only sentence", what, kube.Explain(err))
		}
	}
	// Nothing reached the demo cluster.
	got, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil || got.Spec.Unschedulable {
		t.Fatalf("node %s changed through a read-only demo (err %v)", node, err)
	}
	if _, err := d.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("pod %s gone through a read-only demo: %v", pod.Name, err)
	}

	// The demo's own churn goes on and is seen through the guarded client.
	for i := 1; i <= 3; i++ {
		d.Step(ctx, now.Add(time.Duration(i)*2*time.Second))
	}
	extra, err := c.CoreV1().Pods("demo-rollout").List(ctx, metav1.ListOptions{})
	if err != nil || len(extra.Items) != 1 {
		t.Fatalf("the demo's new pod is not seen through the guarded client: %v %v", extra, err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Object == nil {
			t.Fatal("empty watch event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch through the guarded client saw none of the demo's churn")
	}
}
