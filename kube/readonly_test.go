package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestCheckReadOnly(t *testing.T) {
	cases := []struct {
		method, path string
		allowed      bool
	}{
		{"GET", "/api/v1/namespaces/shop/pods", true},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/log", true},
		{"GET", "/api/v1/pods?watch=true", true},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/exec", false},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/attach", false},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/portforward", false},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/proxy/metrics", false},
		{"GET", "/api/v1/nodes/n1/proxy/stats", false},
		{"GET", "/api/v1/namespaces/shop/pods/exec", true}, // a pod named "exec"
		{"POST", "/api/v1/namespaces/shop/pods/web-1/exec", false},
		{"POST", "/api/v1/namespaces/shop/pods/web-1/eviction", false},
		{"PATCH", "/api/v1/nodes/n1", false},
		{"PUT", "/api/v1/nodes/n1", false},
		{"DELETE", "/api/v1/namespaces/shop/pods/web-1", false},
		{"POST", "/api/v1/namespaces/shop/pods", false},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", true},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", true},
		{"POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", false},
	}
	for _, c := range cases {
		err := CheckReadOnly(c.method, c.path)
		if (err == nil) != c.allowed {
			t.Errorf("%s %s: allowed=%v, want %v (err %v)", c.method, c.path, err == nil, c.allowed, err)
		}
	}
}

// TestCheckReadOnlyUnderAPathPrefix: behind a gateway that serves the API
// server under a path (Rancher's /k8s/clusters/c-xxxxx), paths are classified
// relative to that prefix, and whatever cannot be classified is refused. The
// old guard looked only at paths starting with /api, so every GET below let
// exec, attach, port-forward and proxies through.
func TestCheckReadOnlyUnderAPathPrefix(t *testing.T) {
	const pre = "/k8s/clusters/c-m-4x7k2"
	cases := []struct {
		method, path string
		allowed      bool
	}{
		{"GET", pre + "/api/v1/namespaces/shop/pods", true},
		{"GET", pre + "/api/v1/namespaces/shop/pods/web-1/log", true},
		{"GET", pre + "/apis/apps/v1/namespaces/shop/deployments", true},
		{"GET", pre + "/api", true},
		{"GET", pre + "/apis/apps/v1", true},
		{"GET", pre + "/version", true},
		{"GET", pre + "/openapi/v3/api/v1", true},
		{"POST", pre + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", true},
		{"GET", pre + "/api/v1/namespaces/shop/pods/web-1/exec", false},
		{"GET", pre + "/api/v1/namespaces/shop/pods/web-1/attach", false},
		{"GET", pre + "/api/v1/namespaces/shop/pods/web-1/portforward", false},
		{"GET", pre + "/api/v1/namespaces/shop/services/web:80/proxy/", false},
		{"GET", pre + "/api/v1/namespaces/shop/pods/web-1/proxy/metrics", false},
		{"GET", pre + "/api/v1/nodes/n1/proxy/stats", false},
		{"GET", pre + "/api/v1/proxy/nodes/n1/stats", false},
		{"POST", pre + "/api/v1/namespaces/shop/pods/web-1/eviction", false},
		{"PATCH", pre + "/api/v1/nodes/n1", false},
		{"DELETE", pre + "/api/v1/namespaces/shop/pods", false},
		// Outside the prefix, or not classifiable: fail closed.
		{"GET", "/api/v1/namespaces/shop/pods", false},
		{"GET", "/k8s/clusters/other/api/v1/namespaces/shop/pods/web-1/exec", false},
		{"GET", pre + "/../other/api/v1/pods", false},
		{"GET", pre + "//api/v1/namespaces/shop/pods/web-1/exec", false},
		{"GET", pre + "/metrics", false},
		{"GET", pre, false},
		{"OPTIONS", pre + "/api/v1/pods", false},
	}
	for _, c := range cases {
		err := CheckReadOnlyUnder(pre, c.method, c.path)
		if (err == nil) != c.allowed {
			t.Errorf("%s %s: allowed=%v, want %v (err %v)", c.method, c.path, err == nil, c.allowed, err)
		}
		if err != nil && !strings.Contains(err.Error(), c.method+" "+c.path) {
			t.Errorf("the refusal does not name the request %s %s: %v", c.method, c.path, err)
		}
	}
	if p := serverPathPrefix("https://rancher.example.com/k8s/clusters/c-m-4x7k2/"); p != pre {
		t.Errorf("prefix %q", p)
	}
	for _, host := range []string{"https://10.0.0.1:6443", "10.0.0.1:6443", "https://api.example.com/"} {
		if p := serverPathPrefix(host); p != "" {
			t.Errorf("prefix of %s: %q, want none", host, p)
		}
	}
}

// TestGuardReadOnlyStopsRequestsBeforeTheNetwork checks the guard where it
// matters: a real HTTP server behind a real clientset sees no mutating call.
func TestGuardReadOnlyStopsRequestsBeforeTheNetwork(t *testing.T) {
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
			_, _ = w.Write([]byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","status":{"allowed":false}}`))
		default:
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"PodList","items":[]}`))
		}
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	GuardReadOnly(cfg)
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()

	if _, err := client.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list must pass: %v", err)
	}
	if _, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("access review must pass: %v", err)
	}
	before := seen.Load()
	_, err := client.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
	var ro *ReadOnlyError
	if !errors.As(err, &ro) {
		t.Fatalf("patch: got %v, want ReadOnlyError", err)
	}
	if err := client.CoreV1().Pods("shop").Delete(ctx, "web", metav1.DeleteOptions{}); !errors.As(err, &ro) {
		t.Fatalf("delete: got %v, want ReadOnlyError", err)
	}
	if _, err := client.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !errors.As(err, &ro) {
		t.Fatalf("create: got %v, want ReadOnlyError", err)
	}
	if n := seen.Load() - before; n != 0 {
		t.Fatalf("server saw %d mutating requests in read-only mode", n)
	}
	if got := Explain(err); got == "" || got[:10] != "read-only " {
		t.Fatalf("Explain: %q", got)
	}
}

// TestCheckReadOnlyDebugContainers: a debug container is a change to the
// pod (pods/ephemeralcontainers, updated or patched as kubectl debug does)
// and then an attach; read-only mode refuses both, and still reads.
func TestCheckReadOnlyDebugContainers(t *testing.T) {
	cases := []struct {
		method, path string
		allowed      bool
	}{
		{"PUT", "/api/v1/namespaces/shop/pods/web-1/ephemeralcontainers", false},
		{"PATCH", "/api/v1/namespaces/shop/pods/web-1/ephemeralcontainers", false},
		{"POST", "/api/v1/namespaces/shop/pods/web-1/attach", false},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/attach", false},
		{"GET", "/api/v1/namespaces/shop/pods/web-1/ephemeralcontainers", true},
	}
	for _, c := range cases {
		for _, prefix := range []string{"", "/k8s/clusters/c-x"} {
			err := CheckReadOnlyUnder(prefix, c.method, prefix+c.path)
			if (err == nil) != c.allowed {
				t.Errorf("%s %s%s: allowed=%v, want %v (err %v)", c.method, prefix, c.path, err == nil, c.allowed, err)
			}
		}
	}
}
