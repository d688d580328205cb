package inspect

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// target is a parsed request: which object, of which kind.
type target struct {
	kind      Kind
	namespace string // "" for cluster-scoped kinds
	name      string
}

// String names the object as kubectl's arguments would: "deployment
// payments/api", "node worker-1".
func (t target) String() string {
	if t.kind.Namespaced {
		return t.kind.String() + " " + t.namespace + "/" + t.name
	}
	return t.kind.String() + " " + t.name
}

// resolve checks a request before any API call: a known kind, a name, and a
// namespace for namespaced kinds (cluster-scoped kinds ignore it).
func resolve(kind, namespace, name string) (target, error) {
	k, err := ParseKind(kind)
	if err != nil {
		return target{}, err
	}
	if name == "" {
		return target{}, fmt.Errorf("%s: no name given", k)
	}
	if !k.Namespaced {
		namespace = ""
	} else if namespace == "" {
		return target{}, fmt.Errorf("%s %s: no namespace given (a %s lives in a namespace)", k, name, k)
	}
	return target{kind: k, namespace: namespace, name: name}, nil
}

// wrap says what was being read and why it failed, keeping the API error
// reachable (apierrors.IsNotFound and IsForbidden see through %w). The API
// server's own message says "not found" plainly; its forbidden message is
// long, so "access denied" comes first.
func wrap(what string, t target, err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s %s: access denied: %w", what, t, err)
	}
	return fmt.Errorf("%s %s: %w", what, t, err)
}
