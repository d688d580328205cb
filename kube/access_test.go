package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// reviewingClientset answers SelfSubjectAccessReviews: allowed when allow
// says so, and counts the requests.
func reviewingClientset(allow func(authorizationv1.ResourceAttributes) bool, calls *int) *fake.Clientset {
	client := fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*calls++
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = allow(*r.Spec.ResourceAttributes)
		return true, r, nil
	})
	return client
}

func TestAccessReviewAsksOnceAndSaysWhy(t *testing.T) {
	ctx := context.Background()
	calls := 0
	client := reviewingClientset(func(a authorizationv1.ResourceAttributes) bool {
		return a.Namespace == "shop" && a.Verb == "list" && a.Resource == "pods"
	}, &calls)
	r := NewAccessReview(client, "prod", false)

	if a := r.Can(ctx, "shop", "list", "", "pods", ""); !a.Allowed || a.Reason != "" {
		t.Errorf("list pods in shop = %+v, want allowed", a)
	}
	if a := r.Can(ctx, "shop", "list", "", "pods", ""); !a.Allowed || calls != 1 {
		t.Errorf("second identical check: %+v after %d requests, want the cached answer", a, calls)
	}
	want := Access{Allowed: false, Reason: "you cannot create pods/exec in namespace shop"}
	if a := r.Can(ctx, "shop", "create", "", "pods", "exec"); a != want {
		t.Errorf("exec = %+v, want %+v", a, want)
	}
	if a := r.Can(ctx, "", "patch", "", "nodes", ""); a.Reason != "you cannot patch nodes" {
		t.Errorf("patch nodes = %+v", a)
	}
	if a := r.Can(ctx, "", "create", "policy", "poddisruptionbudgets", ""); a.Reason != "you cannot create poddisruptionbudgets.policy" {
		t.Errorf("create PDBs = %+v", a)
	}
	// Answers expire, so a new RoleBinding shows up without a restart.
	r.now = func() time.Time { return time.Now().Add(accessTTL + time.Second) }
	before := calls
	r.Can(ctx, "shop", "list", "", "pods", "")
	if calls != before+1 {
		t.Errorf("expired answer not asked again")
	}
	r.Forget()
	r.Can(ctx, "shop", "list", "", "pods", "")
	if calls != before+2 {
		t.Errorf("Forget did not drop the cache")
	}
}

func TestAccessReviewErrorsAreNotCached(t *testing.T) {
	client := fake.NewClientset()
	fail := true
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if fail {
			return true, nil, errors.New("connection refused")
		}
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = true
		return true, r, nil
	})
	r := NewAccessReview(client, "prod", false)
	a := r.Can(context.Background(), "shop", "get", "", "pods", "log")
	if a.Allowed || !strings.HasPrefix(a.Reason, "cannot check whether you may get pods/log in namespace shop: ") {
		t.Errorf("failed check = %+v", a)
	}
	fail = false
	if a := r.Can(context.Background(), "shop", "get", "", "pods", "log"); !a.Allowed {
		t.Errorf("after the server came back: %+v", a)
	}
}

func TestAccessReviewInReadOnlyModeAsksNothing(t *testing.T) {
	calls := 0
	client := reviewingClientset(func(authorizationv1.ResourceAttributes) bool { return true }, &calls)
	r := NewAccessReview(client, "prod", true)
	for _, c := range []struct{ verb, resource, sub string }{
		{"create", "pods", "exec"}, {"get", "pods", "exec"}, {"patch", "nodes", ""}, {"delete", "pods", ""},
		{"create", "pods", "eviction"}, {"get", "services", "proxy"}, {"deletecollection", "pods", ""},
	} {
		if a := r.Can(context.Background(), "shop", c.verb, "", c.resource, c.sub); a != (Access{Allowed: false, Reason: "read-only mode"}) {
			t.Errorf("%s %s/%s in read-only mode = %+v", c.verb, c.resource, c.sub, a)
		}
	}
	if calls != 0 {
		t.Errorf("read-only refusals made %d requests", calls)
	}
	if a := r.Can(context.Background(), "shop", "get", "", "pods", "log"); !a.Allowed || calls != 1 {
		t.Errorf("reads are still checked: %+v after %d requests", a, calls)
	}
}
