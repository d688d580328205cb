package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// FakeMetrics is metrics-server as its clients meet it: metrics.k8s.io/v1beta1
// (PodMetrics and NodeMetrics) served through the API server's aggregation
// layer. An APIService sends the group to an ExternalName Service that names
// localhost, the API server proxies each request with its front-proxy client
// certificate (which FakeMetrics insists on, as metrics-server does), and
// the user is passed in X-Remote-User. Its certificate names the Service
// (metrics-server.kube-system.svc), which is what the API server checks.
// What it reports is what tests set:
// there is no kubelet to scrape.
type FakeMetrics struct {
	admin dynamic.Interface
	srv   *http.Server
	port  int

	mu       sync.Mutex
	pods     map[types.NamespacedName]metricsv1beta1.PodMetrics
	nodes    map[string]metricsv1beta1.NodeMetrics
	requests int
	users    map[string]bool
}

// metricsAPIService is the APIService metrics-server's manifests register.
const metricsAPIService = "v1beta1.metrics.k8s.io"

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// MetricsWindow is the window FakeMetrics reports usage over, metrics-server's
// default --metric-resolution.
const MetricsWindow = 15 * time.Second

// ServeMetrics starts a FakeMetrics, registers it as metrics.k8s.io and waits
// until the API server reports the APIService available. It stops with the
// Server, or earlier with Stop.
func (s *Server) ServeMetrics(ctx context.Context) (*FakeMetrics, error) {
	ca, err := newAuthority("kdoctor-kubetest-metrics-ca")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.issue("metrics-server", x509.ExtKeyUsageServerAuth, []string{"metrics-server.kube-system.svc", "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	frontProxy := x509.NewCertPool()
	frontProxy.AppendCertsFromPEM(s.frontProxyCAPEM)
	cfg := s.RESTConfig()
	cfg.QPS, cfg.Burst = -1, 0
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &FakeMetrics{admin: dyn, port: ln.Addr().(*net.TCPAddr).Port,
		pods: map[types.NamespacedName]metricsv1beta1.PodMetrics{}, nodes: map[string]metricsv1beta1.NodeMetrics{}, users: map[string]bool{}}
	m.srv = quietServer(m)
	go func() {
		_ = m.srv.Serve(tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    frontProxy,
			NextProtos:   []string{"http/1.1"},
		}))
	}()
	s.mu.Lock()
	s.metrics = append(s.metrics, m)
	s.mu.Unlock()
	if err := m.register(ctx, s, ca.pem); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// quietServer is an HTTP server for the harness's fakes: TLS handshake
// resets and the like are not the test's business.
func quietServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
}

// register creates the Service and APIService metrics-server's manifests
// create (the Service an ExternalName, since nothing here routes cluster
// IPs), and waits for the API server's availability check to pass.
func (m *FakeMetrics) register(ctx context.Context, s *Server, caPEM []byte) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-server", Namespace: metav1.NamespaceSystem},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(m.port)}},
		},
	}
	if _, err := s.admin.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		old, err := s.admin.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("kubetest: metrics Service: %w", err)
		}
		old.Spec.Ports = svc.Spec.Ports
		if _, err := s.admin.CoreV1().Services(svc.Namespace).Update(ctx, old, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("kubetest: metrics Service: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("kubetest: metrics Service: %w", err)
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": metricsAPIService},
		"spec": map[string]any{
			"group": metricsv1beta1.SchemeGroupVersion.Group, "version": metricsv1beta1.SchemeGroupVersion.Version,
			"service":              map[string]any{"namespace": svc.Namespace, "name": svc.Name, "port": int64(m.port)},
			"caBundle":             base64.StdEncoding.EncodeToString(caPEM),
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
		},
	}}
	apis := m.admin.Resource(apiServiceGVR)
	_ = apis.Delete(ctx, metricsAPIService, metav1.DeleteOptions{})
	if _, err := apis.Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kubetest: metrics APIService: %w", err)
	}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := apis.Get(ctx, metricsAPIService, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			c, _ := c.(map[string]any)
			if c["type"] == "Available" {
				last = fmt.Sprintf("Available=%v %v: %v", c["status"], c["reason"], c["message"])
				if c["status"] == "True" {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("kubetest: metrics APIService did not become available (%s): %w", last, err)
	}
	return nil
}

// Stop stops serving, as a crashed metrics-server does: the APIService stays
// registered, and requests for the group fail with 503 from the API server.
func (m *FakeMetrics) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
	_ = m.srv.Close()
}

// SetPod records what the containers of a pod use, as metrics-server reports
// after a scrape (timestamp now, window MetricsWindow). The pod must exist:
// its labels go on the PodMetrics, which label selectors match.
func (m *FakeMetrics) SetPod(ctx context.Context, s *Server, namespace, name string, containers map[string]corev1.ResourceList) error {
	pod, err := s.admin.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kubetest: metrics for pod %s/%s: %w", namespace, name, err)
	}
	pm := metricsv1beta1.PodMetrics{
		TypeMeta:   metav1.TypeMeta{APIVersion: metricsv1beta1.SchemeGroupVersion.String(), Kind: "PodMetrics"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: pod.Labels, CreationTimestamp: metav1.Now()},
		Timestamp:  metav1.Now(),
		Window:     metav1.Duration{Duration: MetricsWindow},
	}
	for _, c := range slices.Sorted(maps.Keys(containers)) {
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c, Usage: containers[c]})
	}
	m.mu.Lock()
	m.pods[types.NamespacedName{Namespace: namespace, Name: name}] = pm
	m.mu.Unlock()
	return nil
}

// PutPodMetrics hands a scenario's PodMetrics, timed as ApplyScenario times
// its objects, to the metrics server (for a scenario applied before
// ServeMetrics).
func (s *Server) PutPodMetrics(sc *facts.Scenario) error {
	for _, o := range sc.ShiftedTo(time.Now()) {
		if pm, ok := o.(*metricsv1beta1.PodMetrics); ok {
			if err := s.ServePodMetrics(pm); err != nil {
				return err
			}
		}
	}
	return nil
}

// ServePodMetrics hands a PodMetrics to the newest FakeMetrics (labels and
// timestamps as they are).
func (s *Server) ServePodMetrics(pm *metricsv1beta1.PodMetrics) error {
	s.mu.Lock()
	var m *FakeMetrics
	if n := len(s.metrics); n > 0 {
		m = s.metrics[n-1]
	}
	s.mu.Unlock()
	if m == nil {
		return fmt.Errorf("PodMetrics %s/%s: nothing serves metrics.k8s.io (call ServeMetrics before ApplyScenario)", pm.Namespace, pm.Name)
	}
	pm = pm.DeepCopy()
	pm.APIVersion, pm.Kind = metricsv1beta1.SchemeGroupVersion.String(), "PodMetrics"
	m.mu.Lock()
	m.pods[types.NamespacedName{Namespace: pm.Namespace, Name: pm.Name}] = *pm
	m.mu.Unlock()
	return nil
}

// SetNode records what a node uses.
func (m *FakeMetrics) SetNode(name string, usage corev1.ResourceList) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[name] = metricsv1beta1.NodeMetrics{
		TypeMeta:   metav1.TypeMeta{APIVersion: metricsv1beta1.SchemeGroupVersion.String(), Kind: "NodeMetrics"},
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
		Timestamp:  metav1.Now(),
		Window:     metav1.Duration{Duration: MetricsWindow},
		Usage:      usage,
	}
}

// Requests is how many requests reached FakeMetrics through the API server,
// discovery and the availability checks included.
func (m *FakeMetrics) Requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

// Users are the users the API server passed (X-Remote-User), each once,
// sorted (a set: a long-running sandbox polled every 15s stays small).
func (m *FakeMetrics) Users() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.users))
}

const metricsPrefix = "/apis/metrics.k8s.io/v1beta1"

func (m *FakeMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get("X-Remote-User")
	if user == "" {
		writeStatus(w, apierrors.NewUnauthorized("no X-Remote-User from the front proxy"))
		return
	}
	m.mu.Lock()
	m.requests++
	m.users[user] = true
	m.mu.Unlock()
	if r.Method != http.MethodGet {
		writeStatus(w, apierrors.NewMethodNotSupported(metricsv1beta1.Resource("pods"), r.Method))
		return
	}
	gv := metav1.GroupVersionForDiscovery{GroupVersion: metricsv1beta1.SchemeGroupVersion.String(), Version: "v1beta1"}
	group := metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     metricsv1beta1.SchemeGroupVersion.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv,
	}
	switch r.URL.Path {
	case "/apis":
		writeJSON(w, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{group}})
		return
	case "/apis/metrics.k8s.io":
		writeJSON(w, group)
		return
	case metricsPrefix:
		verbs := metav1.Verbs{"get", "list"}
		writeJSON(w, metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv.GroupVersion,
			APIResources: []metav1.APIResource{
				{Name: "nodes", Kind: "NodeMetrics", Verbs: verbs},
				{Name: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: verbs},
			},
		})
		return
	}
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, metricsPrefix+"/"), "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case len(parts) == 1 && parts[0] == "pods":
		writeJSON(w, m.podList("", sel))
	case len(parts) == 3 && parts[0] == "namespaces" && parts[2] == "pods":
		writeJSON(w, m.podList(parts[1], sel))
	case len(parts) == 4 && parts[0] == "namespaces" && parts[2] == "pods":
		pm, ok := m.pods[types.NamespacedName{Namespace: parts[1], Name: parts[3]}]
		if !ok {
			writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: "metrics.k8s.io", Resource: "podmetrics"}, parts[1]+"/"+parts[3]))
			return
		}
		writeJSON(w, pm)
	case len(parts) == 1 && parts[0] == "nodes":
		list := metricsv1beta1.NodeMetricsList{TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: gv.GroupVersion}}
		for _, n := range slices.Sorted(maps.Keys(m.nodes)) {
			list.Items = append(list.Items, m.nodes[n])
		}
		writeJSON(w, list)
	case len(parts) == 2 && parts[0] == "nodes":
		nm, ok := m.nodes[parts[1]]
		if !ok {
			writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: "metrics.k8s.io", Resource: "nodemetrics"}, parts[1]))
			return
		}
		writeJSON(w, nm)
	default:
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
	}
}

func (m *FakeMetrics) podList(namespace string, sel labels.Selector) metricsv1beta1.PodMetricsList {
	list := metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsv1beta1.SchemeGroupVersion.String()}}
	keys := make([]types.NamespacedName, 0, len(m.pods))
	for k := range m.pods {
		if namespace == "" || k.Namespace == namespace {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b types.NamespacedName) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		if pm := m.pods[k]; sel.Matches(labels.Set(pm.Labels)) {
			list.Items = append(list.Items, pm)
		}
	}
	return list
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	status := st.Status()
	status.Kind, status.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(status)
}
