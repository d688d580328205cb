package kube

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/client-go/rest"
)

// ReadOnlyError is returned, without any network traffic, for a request that
// read-only mode refuses.
type ReadOnlyError struct {
	Method, Path string
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("read-only mode: refused %s %s before it left kdoctor (restart without --read-only to change the cluster)", e.Method, e.Path)
}

// GuardReadOnly wraps cfg's transport so that every request that could change
// the cluster or reach into a container is refused inside the process. The
// guard sits in the transport, below every client and the UI, so no code path
// can forget to check it: exec and port-forward upgrades are GETs, so the
// method alone is not enough and subresources are checked too.
func GuardReadOnly(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return readOnlyTransport{next: rt} })
}

type readOnlyTransport struct{ next http.RoundTripper }

func (t readOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := CheckReadOnly(req.Method, req.URL.Path); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// CheckReadOnly reports whether a request with this method and path is allowed
// in read-only mode.
func CheckReadOnly(method, path string) error {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		if isContainerAccess(path) {
			return &ReadOnlyError{Method: method, Path: path}
		}
		return nil
	case http.MethodPost:
		// Access reviews create nothing persistent: they only ask "may I?", which
		// read-only mode needs to explain what is unavailable.
		if strings.HasPrefix(path, "/apis/authorization.k8s.io/") &&
			(strings.HasSuffix(path, "/selfsubjectaccessreviews") || strings.HasSuffix(path, "/selfsubjectrulesreviews")) {
			return nil
		}
	}
	return &ReadOnlyError{Method: method, Path: path}
}

// isContainerAccess matches pods/exec, pods/attach, pods/portforward,
// pods/eviction and every proxy subresource (a GET through a proxy can still
// change things behind it).
func isContainerAccess(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return false
	}
	if len(parts) > 0 && parts[0] == "proxy" {
		return true // legacy /api/v1/proxy/...
	}
	if len(parts) >= 3 && parts[0] == "namespaces" && parts[2] != "status" && parts[2] != "finalize" {
		parts = parts[2:]
	}
	if len(parts) < 3 {
		return false
	}
	switch parts[2] {
	case "exec", "attach", "portforward", "proxy", "eviction":
		return true
	}
	return false
}
