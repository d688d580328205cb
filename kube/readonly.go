package kube

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"k8s.io/client-go/rest"
)

// ReadOnlyError is returned, without any network traffic, for a request that
// read-only mode refuses.
type ReadOnlyError struct {
	Method, Path string
	// Why names what the guard saw ("pods/exec reaches into a container",
	// "not an API path kdoctor can classify"); empty for a plain change.
	Why string
}

func (e *ReadOnlyError) Error() string {
	why := ""
	if e.Why != "" {
		why = " (" + e.Why + ")"
	}
	return fmt.Sprintf("read-only mode: refused %s %s%s before it left kdoctor (restart without --read-only to change the cluster)", e.Method, e.Path, why)
}

// GuardReadOnly wraps cfg's transport so that every request that could change
// the cluster or reach into a container is refused inside the process. The
// guard sits in the transport, below every client and the UI, so no code path
// can forget to check it: exec and port-forward upgrades are GETs, so the
// method alone is not enough and subresources are checked too.
//
// A server URL may carry a path (Rancher serves a cluster at
// https://rancher.example.com/k8s/clusters/c-xxxxx, and client-go puts that
// prefix before every request path), so paths are classified relative to
// cfg.Host's own path; a request outside that prefix, or one the guard cannot
// classify, is refused (fail closed).
func GuardReadOnly(cfg *rest.Config) {
	prefix := serverPathPrefix(cfg.Host)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return readOnlyTransport{next: rt, prefix: prefix} })
}

// serverPathPrefix is the path part of a server URL as client-go uses it
// (rest.DefaultServerURL): "" for a bare host or host:port.
func serverPathPrefix(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "" // host:port; client-go then allows no path either
	}
	return strings.TrimSuffix(u.Path, "/")
}

type readOnlyTransport struct {
	next   http.RoundTripper
	prefix string
}

func (t readOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	err := CheckReadOnlyUnder(t.prefix, req.Method, req.URL.Path)
	if err == nil && isUpgrade(req.Header) {
		// No read needs a connection upgrade; exec, attach and port-forward
		// do (SPDY or WebSocket), whatever path they are sent to.
		err = &ReadOnlyError{Method: req.Method, Path: req.URL.Path, Why: "a connection upgrade (" + req.Header.Get("Upgrade") + ") is how exec, attach and port-forward start"}
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

func isUpgrade(h http.Header) bool {
	if h.Get("Upgrade") != "" {
		return true
	}
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// CheckReadOnly reports whether a request with this method and path is allowed
// in read-only mode, for a server URL without a path prefix.
func CheckReadOnly(method, path string) error { return CheckReadOnlyUnder("", method, path) }

// CheckReadOnlyUnder reports whether a request is allowed in read-only mode
// when the server URL's path is prefix (as GuardReadOnly computes it).
func CheckReadOnlyUnder(prefix, method, reqPath string) error {
	refuse := func(why string) error { return &ReadOnlyError{Method: method, Path: reqPath, Why: why} }
	rel, ok := relativePath(prefix, reqPath)
	if !ok {
		if !isCleanPath(reqPath) {
			return refuse("not a clean absolute path: dot segments or doubled slashes")
		}
		return refuse("not under the server URL's path " + prefix)
	}
	kind, why := classify(rel)
	switch method {
	case http.MethodGet, http.MethodHead:
		switch kind {
		case pathRead:
			return nil
		case pathContainer:
			return refuse(why)
		}
		return refuse("not an API path read-only mode can classify")
	case http.MethodPost:
		// Access reviews create nothing persistent: they only ask "may I?", which
		// read-only mode needs to explain what is unavailable.
		if kind == pathRead && isAccessReview(rel) {
			return nil
		}
		if why != "" {
			return refuse(why)
		}
	}
	if why != "" {
		return refuse(why)
	}
	return refuse("")
}

// relativePath strips prefix from p; it refuses paths that are not clean
// (dot segments, doubled slashes), which a proxy or the server could resolve
// to something other than what the guard classified.
func relativePath(prefix, p string) (string, bool) {
	if !isCleanPath(p) {
		return "", false
	}
	trimmed := strings.TrimSuffix(p, "/")
	if trimmed == "" {
		trimmed = "/"
	}
	if prefix == "" {
		return trimmed, true
	}
	if trimmed == prefix {
		return "/", true
	}
	if !strings.HasPrefix(trimmed, prefix+"/") {
		return "", false
	}
	return trimmed[len(prefix):], true
}

func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	trimmed := strings.TrimSuffix(p, "/")
	if trimmed == "" {
		return true
	}
	return path.Clean(trimmed) == trimmed
}

type pathKind uint8

const (
	pathUnknown   pathKind = iota
	pathRead               // an API or discovery path: a GET there only reads
	pathContainer          // exec, attach, port-forward, eviction, proxy
)

// readOnlyNonResource are the non-resource paths client-go reads (version,
// discovery documents, health); everything else outside /api and /apis is
// unknown and refused.
var readOnlyNonResource = map[string]bool{"/version": true, "/healthz": true, "/livez": true, "/readyz": true}

// classify sorts a path relative to the server URL. why names a subresource
// that reaches into a container or through a proxy.
func classify(rel string) (pathKind, string) {
	if readOnlyNonResource[rel] || rel == "/openapi" || strings.HasPrefix(rel, "/openapi/") {
		return pathRead, ""
	}
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	switch {
	case parts[0] == "api" && len(parts) <= 2, parts[0] == "apis" && len(parts) <= 3:
		return pathRead, "" // discovery
	case parts[0] == "api":
		parts = parts[2:]
	case parts[0] == "apis":
		parts = parts[3:]
	default:
		return pathUnknown, ""
	}
	if parts[0] == "proxy" {
		return pathContainer, "the proxy path reaches through the API server" // legacy /api/v1/proxy/...
	}
	if len(parts) >= 3 && parts[0] == "namespaces" && parts[2] != "status" && parts[2] != "finalize" {
		parts = parts[2:]
	}
	if len(parts) < 3 {
		return pathRead, ""
	}
	switch parts[2] {
	case "exec", "attach", "portforward":
		return pathContainer, parts[0] + "/" + parts[2] + " reaches into a container"
	case "proxy":
		return pathContainer, parts[0] + "/proxy reaches through the API server to what is behind it"
	case "eviction":
		return pathContainer, parts[0] + "/eviction deletes a pod"
	}
	return pathRead, ""
}

func isAccessReview(rel string) bool {
	return rel == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" ||
		rel == "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews" ||
		rel == "/apis/authorization.k8s.io/v1beta1/selfsubjectaccessreviews" ||
		rel == "/apis/authorization.k8s.io/v1beta1/selfsubjectrulesreviews"
}
