package kube_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"

	"github.com/kdoctor-dev/kdoctor/kube"
	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// rancherPrefix is where a Rancher-style gateway serves one cluster's API.
const rancherPrefix = "/k8s/clusters/c-m-4x7k2"

// prefixProxy is a gateway like Rancher's: it serves the API server under a
// path prefix, strips the prefix and forwards everything (WebSocket and SPDY
// upgrades included, as httputil.ReverseProxy does). It records what passed.
type prefixProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func startPrefixProxy(t *testing.T, srv *kubetest.Server) *prefixProxy {
	t.Helper()
	target, err := url.Parse(srv.Host())
	if err != nil {
		t.Fatal(err)
	}
	// The gateway trusts the API server's CA but adds no identity of its own:
	// the client's bearer token passes through, as with Rancher's proxy mode.
	upstream := rest.CopyConfig(srv.RESTConfig())
	upstream.BearerToken = ""
	rt, err := rest.TransportFor(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &prefixProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, rancherPrefix)
			r.Out.URL.RawPath = ""
			r.Out.Host = target.Host
		},
		Transport: rt,
	}
	// TLS, as client-go sends credentials only over TLS.
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, rancherPrefix+"/") {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *prefixProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// connectThrough connects kdoctor (read-only or not) through a kubeconfig
// whose server URL is the gateway's prefixed URL.
func connectThrough(t *testing.T, srv *kubetest.Server, proxy *prefixProxy, server string, readOnly bool) *kube.Cluster {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := srv.WriteKubeconfig(path, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = server
		c.CertificateAuthorityData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	cl, err := kube.Connect(flags, kube.ConnectOptions{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestReadOnlyBehindAPathPrefixAgainstRealAPIServer tries every kind of
// request through the guarded transport of a read-only client whose server
// URL carries a path (a Rancher-style gateway in front of the real API
// server): reads and access reviews reach the server, everything else is
// refused inside the process, and the audit log confirms it.
func TestReadOnlyBehindAPathPrefixAgainstRealAPIServer(t *testing.T) {
	srv, _ := kubetest.StartForTest(t, kubetest.Options{}, "oom-killed")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := srv.Client()
	pods, err := admin.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("scenario pods: %v", err)
	}
	pod := pods.Items[0]
	ns, node, container := pod.Namespace, pod.Spec.NodeName, pod.Spec.Containers[0].Name
	svc, err := admin.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ro-probe"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	proxy := startPrefixProxy(t, srv)
	server := proxy.URL + rancherPrefix

	// Control: without read-only the gateway really reaches the API server,
	// so a refusal below is the guard's doing and not a broken proxy.
	rw := connectThrough(t, srv, proxy, server, false)
	if _, err := rw.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the gateway does not reach the API server: %v", err)
	}

	ro := connectThrough(t, srv, proxy, server, true)
	rt, err := rest.TransportFor(ro.Config)
	if err != nil {
		t.Fatal(err)
	}
	client := ro.Client()
	before, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}

	podPath := fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s", rancherPrefix, ns, pod.Name)
	type attempt struct {
		name    string
		allowed bool
		do      func() error
	}
	raw := func(method, path string, header http.Header) func() error {
		return func() error {
			req, err := http.NewRequestWithContext(ctx, method, proxy.URL+path, strings.NewReader("{}"))
			if err != nil {
				return err
			}
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
			}
			return nil
		}
	}
	wsUpgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"}}
	execURL := func(c *rest.Config) *url.URL {
		return client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod.Name).SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Container: container, Command: []string{"true"}, Stdout: true}, metav1.ParameterCodec).URL()
	}
	streamOpts := remotecommand.StreamOptions{Stdout: &strings.Builder{}}
	attempts := []attempt{
		{"GET list pods", true, func() error { _, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); return err }},
		{"GET pod", true, func() error { _, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); return err }},
		{"WATCH pods", true, func() error {
			w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{TimeoutSeconds: ptrTo(int64(1))})
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"GET nodes list", true, func() error { _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err }},
		{"GET pods/log", true, func() error {
			_, err := client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
			return err
		}},
		{"GET discovery", true, func() error { _, err := client.Discovery().ServerGroups(); return err }},
		{"GET /version", true, func() error { _, err := client.Discovery().ServerVersion(); return err }},
		{"POST selfsubjectaccessreviews", true, func() error {
			_, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authv1.ResourceAttributes{Verb: "patch", Resource: "nodes"}}}, metav1.CreateOptions{})
			return err
		}},
		{"POST selfsubjectrulesreviews", true, func() error {
			_, err := client.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authv1.SelfSubjectRulesReview{Spec: authv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
			return err
		}},
		{"GET pods/exec", false, raw("GET", podPath+"/exec?command=true&stdout=true&container="+container, nil)},
		{"POST pods/exec", false, raw("POST", podPath+"/exec?command=true&stdout=true&container="+container, nil)},
		{"GET pods/exec WebSocket upgrade", false, raw("GET", podPath+"/exec?command=true&stdout=true&container="+container, wsUpgrade)},
		{"exec through client-go's WebSocket executor", false, func() error {
			ex, err := remotecommand.NewWebSocketExecutor(ro.Config, "GET", execURL(ro.Config).String())
			if err != nil {
				return err
			}
			return ex.StreamWithContext(ctx, streamOpts)
		}},
		{"exec through client-go's SPDY executor", false, func() error {
			ex, err := remotecommand.NewSPDYExecutor(ro.Config, "POST", execURL(ro.Config))
			if err != nil {
				return err
			}
			return ex.StreamWithContext(ctx, streamOpts)
		}},
		{"GET pods/attach", false, raw("GET", podPath+"/attach?stdout=true&container="+container, nil)},
		{"POST pods/attach", false, raw("POST", podPath+"/attach?stdout=true&container="+container, nil)},
		{"GET pods/portforward", false, raw("GET", podPath+"/portforward?ports=8080", nil)},
		{"port-forward through client-go's SPDY dialer", false, func() error {
			tr, up, err := spdy.RoundTripperFor(ro.Config)
			if err != nil {
				return err
			}
			u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod.Name).SubResource("portforward").URL()
			conn, _, err := spdy.NewDialer(up, &http.Client{Transport: tr}, "POST", u).Dial(portforward.PortForwardProtocolV1Name)
			if err == nil {
				conn.Close()
			}
			return err
		}},
		{"GET pods/proxy", false, raw("GET", podPath+"/proxy/metrics", nil)},
		{"GET services/proxy", false, raw("GET", fmt.Sprintf("%s/api/v1/namespaces/%s/services/%s:80/proxy/", rancherPrefix, ns, svc.Name), nil)},
		{"GET nodes/proxy", false, raw("GET", fmt.Sprintf("%s/api/v1/nodes/%s/proxy/stats/summary", rancherPrefix, node), nil)},
		{"GET legacy /api/v1/proxy", false, raw("GET", fmt.Sprintf("%s/api/v1/proxy/nodes/%s/stats", rancherPrefix, node), nil)},
		{"POST pods/eviction", false, func() error {
			return client.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns}})
		}},
		{"POST create pod", false, func() error {
			_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ro-new"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
			return err
		}},
		{"PUT update node", false, func() error {
			n, err := admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Unschedulable = true
			_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		}},
		{"PUT pods/status", false, func() error {
			_, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, &pod, metav1.UpdateOptions{})
			return err
		}},
		{"PATCH node (cordon)", false, func() error {
			_, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
			return err
		}},
		{"DELETE pod", false, func() error { return client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}) }},
		{"DELETE collection of pods", false, func() error {
			return client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		}},
		{"POST subjectaccessreviews (not a self review)", false, raw("POST", rancherPrefix+"/apis/authorization.k8s.io/v1/subjectaccessreviews", nil)},
		{"GET outside the server's prefix", false, raw("GET", fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/exec", ns, pod.Name), nil)},
		{"GET with a dot segment", false, raw("GET", rancherPrefix+"/api/v1/../v1/namespaces/"+ns+"/pods/"+pod.Name+"/exec", nil)},
		{"GET an unclassified path", false, raw("GET", rancherPrefix+"/metrics", nil)},
	}
	for _, a := range attempts {
		n := proxy.count()
		err := a.do()
		// client-go's SPDY Negotiate flattens the error with %v, so the
		// refusal is recognised by its words there; the gateway's count is
		// the proof that nothing left the process.
		var roErr *kube.ReadOnlyError
		typed := errors.As(err, &roErr)
		switch {
		case a.allowed && err != nil:
			t.Errorf("%s: want it allowed, got %v", a.name, err)
		case !a.allowed && (err == nil || !strings.Contains(err.Error(), "read-only mode: refused ")):
			t.Errorf("%s: want a read-only refusal, got %v", a.name, err)
		case !a.allowed && proxy.count() != n:
			t.Errorf("%s: refused, but the request reached the gateway", a.name)
		case !a.allowed && typed && !strings.Contains(err.Error(), roErr.Method+" "+roErr.Path):
			t.Errorf("%s: the refusal does not name the request: %v", a.name, err)
		case !a.allowed && !strings.Contains(err.Error(), rancherPrefix) && !strings.Contains(err.Error(), "/api/v1/"):
			t.Errorf("%s: the refusal does not name the path: %v", a.name, err)
		default:
			outcome := "allowed"
			if !a.allowed {
				outcome = "refused: " + err.Error()
			}
			t.Logf("%-48s %s", a.name, outcome)
		}
	}

	time.Sleep(500 * time.Millisecond) // let the last events reach the audit log
	after, err := srv.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	reads, reviews := 0, 0
	for _, e := range after[len(before):] {
		if e.User != kubetest.AdminUser || !strings.HasPrefix(e.UserAgent, "kdoctor") {
			continue
		}
		switch {
		case e.Verb == "create" && (e.Resource == "selfsubjectaccessreviews" || e.Resource == "selfsubjectrulesreviews") && e.Subresource == "":
			reviews++
		case e.Subresource == "exec", e.Subresource == "attach", e.Subresource == "portforward", e.Subresource == "eviction", e.Subresource == "proxy":
			t.Errorf("read-only kdoctor reached %s: %s %s", e.Subresource, e.Verb, e.RequestURI)
		case e.Verb == "get", e.Verb == "list", e.Verb == "watch":
			reads++
		default:
			t.Errorf("read-only kdoctor sent %s %s", e.Verb, e.RequestURI)
		}
	}
	if reads == 0 || reviews == 0 {
		t.Fatalf("the audit log saw %d reads and %d access reviews from kdoctor: the gateway or the audit log is not working", reads, reviews)
	}
	t.Logf("audit log: %d reads, %d access reviews, nothing else", reads, reviews)
}

func ptrTo[T any](v T) *T { return &v }
