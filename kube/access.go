package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Access answers "may I?" for one action, before the user tries it.
type Access struct {
	Allowed bool
	// Reason says why not, for the view: "you cannot create pods/exec in
	// namespace shop", "read-only mode". Empty when allowed.
	Reason string
}

// AccessReview asks the API server what the current user may do
// (SelfSubjectAccessReview, which read-only mode lets through) and caches
// the answers, so the view can grey out the keys of actions that would be
// refused instead of letting the user find out by failing.
type AccessReview struct {
	client   kubernetes.Interface
	context  string
	readOnly bool
	ttl      time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[accessKey]cachedAccess
}

type accessKey struct {
	context, namespace, verb, group, resource, subresource string
}

type cachedAccess struct {
	access  Access
	expires time.Time
}

// accessTTL bounds how long an answer is trusted: RBAC rarely changes
// during a session, but a freshly granted role should show up without a
// restart.
const accessTTL = 2 * time.Minute

// NewAccessReview returns a review cache for one kubeconfig context. In
// read-only mode every mutating or container-access check is answered
// "read-only mode" without a request.
func NewAccessReview(client kubernetes.Interface, context string, readOnly bool) *AccessReview {
	return &AccessReview{
		client: client, context: context, readOnly: readOnly,
		ttl: accessTTL, now: time.Now,
		cache: map[accessKey]cachedAccess{},
	}
}

// Can reports whether the user may verb group/resource/subresource in
// namespace ns ("" for cluster-scoped resources or all namespaces). An
// answer that could not be obtained is not allowed, says why, and is not
// cached.
func (r *AccessReview) Can(ctx context.Context, ns, verb, group, resource, subresource string) Access {
	if r.readOnly && refusedInReadOnly(verb, subresource) {
		return Access{Allowed: false, Reason: "read-only mode"}
	}
	key := accessKey{r.context, ns, verb, group, resource, subresource}
	r.mu.Lock()
	if c, ok := r.cache[key]; ok && r.now().Before(c.expires) {
		r.mu.Unlock()
		return c.access
	}
	r.mu.Unlock()

	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: group, Resource: resource, Subresource: subresource,
		},
	}}
	res, err := r.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return Access{Reason: fmt.Sprintf("cannot check whether you may %s: %s", describeAccess(ns, verb, group, resource, subresource), Explain(err))}
	}
	a := Access{Allowed: res.Status.Allowed}
	if !a.Allowed {
		a.Reason = "you cannot " + describeAccess(ns, verb, group, resource, subresource)
		switch {
		case res.Status.Reason != "":
			a.Reason += " (" + res.Status.Reason + ")"
		case res.Status.EvaluationError != "":
			a.Reason += " (" + res.Status.EvaluationError + ")"
		}
	}
	r.mu.Lock()
	r.cache[key] = cachedAccess{access: a, expires: r.now().Add(r.ttl)}
	r.mu.Unlock()
	return a
}

// Forget drops every cached answer, for when the user says their access changed.
func (r *AccessReview) Forget() {
	r.mu.Lock()
	clear(r.cache)
	r.mu.Unlock()
}

// refusedInReadOnly mirrors the read-only transport guard: only reads pass,
// and no read reaches into a container or through a proxy.
func refusedInReadOnly(verb, subresource string) bool {
	switch subresource {
	case "exec", "attach", "portforward", "proxy", "eviction":
		return true
	}
	switch verb {
	case "get", "list", "watch":
		return false
	}
	return true
}

// describeAccess phrases a check the way `kubectl auth can-i` spells it:
// "create pods/exec in namespace shop", "patch nodes".
func describeAccess(ns, verb, group, resource, subresource string) string {
	what := resource
	if group != "" {
		what += "." + group
	}
	if subresource != "" {
		what += "/" + subresource
	}
	if ns == "" {
		return verb + " " + what
	}
	return verb + " " + what + " in namespace " + ns
}
