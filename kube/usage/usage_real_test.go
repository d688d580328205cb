package usage_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
	"github.com/kdoctor-dev/kdoctor/kube/usage"
)

func use(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
}

// TestUsageThroughAggregation reads metrics.k8s.io the way kdoctor does,
// through the real API server's aggregation layer, in each state a cluster
// can be in: not served, served, its server down, and forbidden.
func TestUsageThroughAggregation(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{Users: []kubetest.User{{Name: "junior"}}})
	ctx := kubetest.Timeout(t, 2*time.Minute)
	kubetest.CreateNamespace(t, srv, "shop")
	kubetest.StartPod(ctx, t, srv, "shop", "node-a", "api", nil, "app", "proxy")
	kubetest.StartPod(ctx, t, srv, "shop", "node-a", "worker", nil, "app")
	admin := kubetest.ConnectAs(t, srv, "", "")

	// Before anything serves the group, the answer is one Absent, not a failure.
	_, err := usage.Pods(ctx, admin.Metrics(), "shop", "")
	var absent *usage.Absent
	if !errors.As(err, &absent) || absent.Reason != usage.NotServed {
		t.Fatalf("without metrics.k8s.io: got %v, want Absent(%q)", err, usage.NotServed)
	}

	if err := usage.Served(ctx, admin.Metrics(), "shop"); !errors.As(err, &absent) {
		t.Fatalf("Served without metrics.k8s.io: %v", err)
	}

	m, err := srv.ServeMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPod(ctx, srv, "shop", "api", map[string]corev1.ResourceList{"app": use("250m", "200Mi"), "proxy": use("5m", "12Mi")}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetPod(ctx, srv, "shop", "worker", map[string]corev1.ResourceList{"app": use("1", "1Gi")}); err != nil {
		t.Fatal(err)
	}
	if err := usage.Served(ctx, admin.Metrics(), "shop"); err != nil {
		t.Fatalf("Served: %v", err)
	}
	pods, err := usage.Pods(ctx, admin.Metrics(), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	api := pods[types.NamespacedName{Namespace: "shop", Name: "api"}]
	want := []usage.Container{{Name: "app", CPUMilli: 250, MemoryBytes: 200 << 20}, {Name: "proxy", CPUMilli: 5, MemoryBytes: 12 << 20}}
	if !slices.Equal(api.Containers, want) || api.Window != kubetest.MetricsWindow || len(pods) != 2 {
		t.Fatalf("pods: %+v", pods)
	}
	// The label selector reaches the server (PodMetrics carry the pod's labels).
	pods, err = usage.Pods(ctx, admin.Metrics(), "", "app=worker")
	if err != nil || len(pods) != 1 || pods[types.NamespacedName{Namespace: "shop", Name: "worker"}].Containers[0].CPUMilli != 1000 {
		t.Fatalf("selected: %+v, %v", pods, err)
	}
	// The request went through the front proxy as the user who made it.
	if users := m.Users(); !slices.Contains(users, kubetest.AdminUser) {
		t.Errorf("users seen by the metrics server: %v", users)
	}
	pm, err := usage.GetPod(ctx, admin.Metrics(), "shop", "api")
	if err != nil || pm.Kind != "PodMetrics" || len(pm.Containers) != 2 {
		t.Fatalf("GetPod: %+v, %v", pm, err)
	}
	// A pod without a sample is the pod's NotFound, not an absent API.
	_, err = usage.GetPod(ctx, admin.Metrics(), "shop", "new-pod")
	if !apierrors.IsNotFound(err) || errors.As(err, &absent) {
		t.Fatalf("pod without a sample: %v", err)
	}

	// A junior without RBAC for the group gets one Absent saying so.
	junior := kubetest.ConnectAs(t, srv, "junior", "")
	_, err = usage.Pods(ctx, junior.Metrics(), "shop", "")
	if !errors.As(err, &absent) || !strings.Contains(absent.Reason, "not allowed") {
		t.Fatalf("junior: %v", err)
	}
	bindView(t, srv, "junior")
	if _, err := usage.Pods(ctx, junior.Metrics(), "shop", ""); err != nil {
		t.Fatalf("junior with view: %v", err)
	}

	// metrics-server down: the APIService stays, requests get 503.
	m.Stop()
	_, err = usage.Pods(ctx, admin.Metrics(), "shop", "")
	if !errors.As(err, &absent) || !strings.Contains(absent.Reason, "not answering") {
		t.Fatalf("metrics server down: %v", err)
	}
	var _ kube.MetricsSource = admin
}

// bindView grants user what metrics-server's manifests grant the view
// role (system:aggregated-metrics-reader): get and list of pods and nodes
// in metrics.k8s.io.
func bindView(t *testing.T, srv *kubetest.Server, user string) {
	t.Helper()
	ctx := kubetest.Timeout(t, 10*time.Second)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list"}}},
	}
	if _, err := srv.Client().RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}
	if _, err := srv.Client().RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
