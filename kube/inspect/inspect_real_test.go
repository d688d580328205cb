package inspect

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kdoctor-dev/kdoctor/kube/kubetest"
)

// realViewer is a token user with no RBAC binding: every read is forbidden.
const realViewer = "inspect-nobody"

// startReal starts a real kube-apiserver and creates the fixture in it, as
// the controllers would have left it: objects, then their statuses, owner
// references and events naming the UIDs the server gave.
func startReal(t *testing.T) *kubetest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the real API server (not in -short mode)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := kubetest.Start(ctx, kubetest.Options{Users: []kubetest.User{{Name: realViewer}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := createFixture(ctx, srv); err != nil {
		t.Fatal(err)
	}
	return srv
}

func createFixture(ctx context.Context, srv *kubetest.Server) error {
	c := srv.Client()
	uids := map[types.UID]types.UID{} // fixture UID → server UID
	for _, o := range fixture() {
		o = o.DeepCopyObject()
		m, err := meta.Accessor(o)
		if err != nil {
			return err
		}
		old := m.GetUID()
		m.SetUID("")
		m.SetCreationTimestamp(metav1.Time{})
		m.SetManagedFields(nil)
		owners := m.GetOwnerReferences()
		for i := range owners {
			owners[i].UID = uids[owners[i].UID]
		}
		m.SetOwnerReferences(owners)
		created, err := create(ctx, srv, c, o)
		if err != nil {
			return err
		}
		if cm, err := meta.Accessor(created); err == nil {
			uids[old] = cm.GetUID()
		}
	}
	return nil
}

// create makes one fixture object on the server, with its status.
func create(ctx context.Context, srv *kubetest.Server, c kubernetes.Interface, o runtime.Object) (runtime.Object, error) {
	opts := metav1.CreateOptions{}
	up := metav1.UpdateOptions{}
	switch o := o.(type) {
	case *corev1.Namespace:
		return c.CoreV1().Namespaces().Create(ctx, o, opts)
	case *corev1.Node:
		return srv.CreateNode(ctx, o)
	case *appsv1.Deployment:
		created, err := c.AppsV1().Deployments(o.Namespace).Create(ctx, o, opts)
		if err != nil {
			return nil, err
		}
		created.Status = o.Status
		return c.AppsV1().Deployments(o.Namespace).UpdateStatus(ctx, created, up)
	case *appsv1.ReplicaSet:
		created, err := c.AppsV1().ReplicaSets(o.Namespace).Create(ctx, o, opts)
		if err != nil {
			return nil, err
		}
		created.Status = o.Status
		return c.AppsV1().ReplicaSets(o.Namespace).UpdateStatus(ctx, created, up)
	case *appsv1.StatefulSet:
		return c.AppsV1().StatefulSets(o.Namespace).Create(ctx, o, opts)
	case *appsv1.DaemonSet:
		created, err := c.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, opts)
		if err != nil {
			return nil, err
		}
		created.Status = o.Status
		return c.AppsV1().DaemonSets(o.Namespace).UpdateStatus(ctx, created, up)
	case *corev1.Pod:
		created, err := c.CoreV1().Pods(o.Namespace).Create(ctx, o, opts)
		if err != nil {
			return nil, err
		}
		created.Status = o.Status
		return c.CoreV1().Pods(o.Namespace).UpdateStatus(ctx, created, up)
	case *batchv1.CronJob:
		return c.BatchV1().CronJobs(o.Namespace).Create(ctx, o, opts)
	case *batchv1.Job:
		created, err := c.BatchV1().Jobs(o.Namespace).Create(ctx, o, opts)
		if err != nil {
			return nil, err
		}
		created.Status = o.Status
		return c.BatchV1().Jobs(o.Namespace).UpdateStatus(ctx, created, up)
	case *corev1.Service:
		return c.CoreV1().Services(o.Namespace).Create(ctx, o, opts)
	case *corev1.PersistentVolumeClaim:
		return c.CoreV1().PersistentVolumeClaims(o.Namespace).Create(ctx, o, opts)
	case *corev1.ConfigMap:
		return c.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, opts)
	case *corev1.Secret:
		return c.CoreV1().Secrets(o.Namespace).Create(ctx, o, opts)
	case *corev1.Event:
		return nil, nil // after every object: see createEvents
	}
	return nil, nil
}

// createEvents records the fixture's events about the objects as created.
func createEvents(ctx context.Context, c kubernetes.Interface) error {
	for _, o := range fixture() {
		e, ok := o.(*corev1.Event)
		if !ok {
			continue
		}
		e = e.DeepCopy()
		e.UID, e.CreationTimestamp = "", metav1.Time{}
		if serverUID, err := serverUIDOf(ctx, c, e.InvolvedObject); err != nil {
			return err
		} else if e.InvolvedObject.UID == uid(e.InvolvedObject.Name) {
			// The fixture's UID stands for the object: use the server's. A
			// node's name-as-UID and the earlier pod's UID stay as recorded.
			e.InvolvedObject.UID = serverUID
		}
		if _, err := c.CoreV1().Events(e.Namespace).Create(ctx, e, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func serverUIDOf(ctx context.Context, c kubernetes.Interface, r corev1.ObjectReference) (types.UID, error) {
	k, err := ParseKind(r.Kind)
	if err != nil {
		return "", err
	}
	obj, err := k.get(ctx, c, r.Namespace, r.Name)
	if err != nil {
		return "", err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", err
	}
	return m.GetUID(), nil
}

// TestRealAPIServer: every kind is described (through the clientset and
// through kubectl's own DescriberFor), printed as YAML and has its events
// found, against a real kube-apiserver.
func TestRealAPIServer(t *testing.T) {
	srv := startReal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Events reach the server after the objects (they name server UIDs).
	// The "default" namespace, where node events live, is created by the
	// API server itself shortly after it starts.
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = createEvents(ctx, srv.Client()); err == nil || !apierrors.IsNotFound(err) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()

	for _, tc := range kindCases() {
		t.Run(tc.kind, func(t *testing.T) {
			want := append([]string{`(?m)^Name:\s+` + regexp.QuoteMeta(tc.name) + `$`}, tc.describe...)
			for i, re := range want {
				// The harness points the node at its fake kubelet.
				want[i] = strings.ReplaceAll(re, `10\.0\.0\.11`, `127\.0\.0\.1`)
			}
			var texts []string
			for via, describe := range map[string]func() (string, error){
				"clientset": func() (string, error) { return Describe(client, tc.kind, tc.namespace, tc.name) },
				"DescriberFor": func() (string, error) {
					return DescribeWithConfig(srv.RESTConfig(), tc.kind, tc.namespace, tc.name)
				},
			} {
				text, err := describe()
				if err != nil {
					t.Fatalf("describe via %s: %v", via, err)
				}
				checkDescribeText(t, text)
				for _, re := range want {
					if !regexp.MustCompile(re).MatchString(text) {
						t.Errorf("describe via %s does not match %s:\n%s", via, re, text)
					}
				}
				for _, bad := range []string{fxOtherPod + "_", "FailedMount", fxPassword, fxToken} {
					if strings.Contains(text, bad) {
						t.Errorf("describe via %s shows %q:\n%s", via, bad, text)
					}
				}
				texts = append(texts, text)
			}
			// Both ways read the same describer: the same text, but for an
			// age that may have ticked between the two calls.
			if ages(texts[0]) != ages(texts[1]) {
				t.Errorf("the clientset and DescriberFor describe differently:\n%s\n---\n%s", texts[0], texts[1])
			}

			out, err := YAML(ctx, client, tc.kind, tc.namespace, tc.name, YAMLOptions{})
			if err != nil {
				t.Fatal(err)
			}
			k, _ := ParseKind(tc.kind)
			text := string(out)
			if !strings.HasPrefix(text, "apiVersion: "+k.GroupVersion.String()+"\n") || !strings.Contains(text, "\nkind: "+k.Name+"\n") {
				t.Errorf("YAML lacks apiVersion/kind:\n%s", text)
			}
			if strings.Contains(text, "managedFields") {
				t.Errorf("YAML shows managedFields:\n%s", text)
			}
			if !strings.Contains(text, "\n  resourceVersion: ") || !strings.Contains(text, "\n  uid: ") {
				t.Errorf("YAML lacks the server's metadata:\n%s", text)
			}

			evs, err := Events(ctx, client, tc.kind, tc.namespace, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, e.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.events, ",") {
				t.Errorf("events = %q, want %q", got, tc.events)
			}
		})
	}

	t.Run("SecretRedaction", func(t *testing.T) {
		stored, err := client.CoreV1().Secrets(fxNS).Get(ctx, fxSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored.ManagedFields) == 0 || !strings.Contains(stored.Annotations[corev1.LastAppliedConfigAnnotation], fxPassword) {
			t.Fatal("the stored Secret should carry managedFields and a plain-text last-applied configuration")
		}
		out, err := YAML(ctx, client, "secret", fxNS, fxSecret, YAMLOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{fxPassword, fxToken, "czNjcjN0", corev1.LastAppliedConfigAnnotation} {
			if strings.Contains(string(out), leak) {
				t.Errorf("redacted YAML shows %q:\n%s", leak, out)
			}
		}
		if !strings.Contains(string(out), "password: '<redacted: 21 bytes>'") {
			t.Errorf("redacted YAML:\n%s", out)
		}
		out, err = YAML(ctx, client, "secret", fxNS, fxSecret, YAMLOptions{RevealSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "czNjcjN0LVBAc3N3MHJkLXZhbHVl") { // base64 of fxPassword
			t.Errorf("revealed YAML lacks the value:\n%s", out)
		}
	})

	// Events are read in pages: with a page of 2, the pod's three events
	// take two requests, the second with the server's continue token.
	t.Run("EventsPaged", func(t *testing.T) {
		defer func(n int64) { pageSize = n }(pageSize)
		pageSize = 2
		var continued atomic.Int32
		cfg := rest.CopyConfig(srv.RESTConfig())
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if strings.HasSuffix(r.URL.Path, "/events") && r.URL.Query().Get("continue") != "" {
					continued.Add(1)
				}
				return rt.RoundTrip(r)
			})
		})
		paged, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := Events(ctx, paged, "pod", fxNS, fxPod)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3 || continued.Load() == 0 {
			t.Errorf("%d events with %d continued requests; want 3 events over pages", len(evs), continued.Load())
		}
		text, err := Describe(paged, "pod", fxNS, fxPod)
		if err != nil || !strings.Contains(text, "Liveness probe failed") || !strings.Contains(text, "already present on machine") {
			t.Errorf("paged describe lost events (%v):\n%s", err, text)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		if _, err := Describe(client, "deploy", fxNS, "gone"); !apierrors.IsNotFound(err) {
			t.Errorf("describe of a missing deployment: %v", err)
		}
		if _, err := YAML(ctx, client, "node", "", "gone", YAMLOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("YAML of a missing node: %v", err)
		}
		cfg := srv.RESTConfigFor(realViewer)
		cfg.QPS, cfg.Burst = -1, 0 // 39 refusals in a row: no client-side throttling
		nobody, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range Kinds() {
			name := map[bool]string{true: fxPod, false: fxNode}[k.Namespaced]
			if _, err := Describe(nobody, k.Name, fxNS, name); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "access denied") {
				t.Errorf("describe %s as nobody: %v", k.Name, err)
			}
			if _, err := YAML(ctx, nobody, k.Name, fxNS, name, YAMLOptions{}); !apierrors.IsForbidden(err) {
				t.Errorf("YAML %s as nobody: %v", k.Name, err)
			}
			if _, err := Events(ctx, nobody, k.Name, fxNS, name); !apierrors.IsForbidden(err) {
				t.Errorf("events of %s as nobody: %v", k.Name, err)
			}
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// ages blanks the relative ages describe prints ("4m1s", "47h", "x15 over
// 11m"), which move with the clock.
func ages(s string) string {
	return regexp.MustCompile(`\b\d+[smhd](\d+[smh])?\b`).ReplaceAllString(s, "AGE")
}
