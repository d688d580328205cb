package inspect

import (
	"encoding/base64"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// kindCase is what inspecting one fixture object must show.
type kindCase struct {
	kind, namespace, name string
	// describe holds regular expressions describe's text must match: the
	// kind's key fields as kubectl prints them.
	describe []string
	// events are the names of the object's events, in order.
	events []string
}

func kindCases() []kindCase {
	return []kindCase{
		{"Pod", fxNS, fxPod, []string{
			`(?m)^Node:\s+` + fxNode + `/`, `(?m)^Controlled By:\s+ReplicaSet/` + fxRS + `$`,
			`(?m)^\s+Image:\s+` + regexp.QuoteMeta(fxImage) + `$`, `(?m)^\s+Reason:\s+CrashLoopBackOff$`,
			`(?m)^\s+Restart Count:\s+5$`,
			`(?m)^\s+Warning\s+BackOff\s+.*Back-off restarting failed container api in pod ` + fxPod,
			`(?m)^\s+Warning\s+Unhealthy\s+.*Liveness probe failed`,
		}, []string{"api-backoff", "api-unhealthy", "api-pulled"}},
		{"Deployment", fxNS, fxDeploy, []string{
			`(?m)^Replicas:\s+3 desired \| 3 updated \| 3 total \| 1 available \| 2 unavailable$`,
			`(?m)^StrategyType:\s+RollingUpdate$`, `(?m)^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$`,
			`(?m)^NewReplicaSet:\s+` + fxRS + ` \(3/3 replicas created\)$`,
			`(?m)^\s+Normal\s+ScalingReplicaSet\s+.*Scaled up replica set ` + fxRS + ` from 0 to 3$`,
		}, []string{"api-scaled"}},
		{"StatefulSet", fxNS, fxSTS, []string{
			`(?m)^Replicas:\s+1 desired \| 0 total$`, `(?m)^Update Strategy:`, `(?m)^Volume Claims:$`, `(?m)^\s+Name:\s+data$`,
			`(?m)^\s+Warning\s+FailedCreate\s+.*create Pod ledger-0 in StatefulSet ledger failed error`,
		}, []string{"ledger-failed"}},
		{"DaemonSet", fxNS, fxDS, []string{
			`(?m)^Desired Number of Nodes Scheduled:\s+1$`, `(?m)^Number of Nodes Scheduled with Available Pods:\s+1$`,
			`(?m)^\s+Normal\s+SuccessfulCreate\s+.*Created pod: log-agent-7xk2p$`,
		}, []string{"agent-created"}},
		{"ReplicaSet", fxNS, fxRS, []string{
			`(?m)^Controlled By:\s+Deployment/` + fxDeploy + `$`, `(?m)^Replicas:\s+3 current / 3 desired$`,
			`(?m)^Pods Status:\s+2 Running / 0 Waiting / 0 Succeeded / 0 Failed$`,
			`(?m)^\s+Normal\s+SuccessfulCreate\s+.*Created pod: ` + fxPod + `$`,
		}, []string{"rs-created"}},
		{"Job", fxNS, fxJob, []string{
			`(?m)^Controlled By:\s+CronJob/` + fxCronJob + `$`, `(?m)^Completions:\s+1$`, `(?m)^Parallelism:\s+1$`,
			`(?m)^\s+Normal\s+SuccessfulCreate\s+.*Created pod: ` + fxJob + `-abcde$`,
		}, []string{"job-created"}},
		{"CronJob", fxNS, fxCronJob, []string{
			`(?m)^Schedule:\s+` + regexp.QuoteMeta(fxSchedule) + `$`, `(?m)^Concurrency Policy:\s+Forbid$`,
			`(?m)^\s+Normal\s+SuccessfulCreate\s+.*Created job ` + fxJob + `$`,
		}, []string{"cj-created"}},
		{"Node", "", fxNode, []string{
			`(?m)^Name:\s+` + fxNode + `$`, `(?m)^\s+InternalIP:\s+10\.0\.0\.11$`,
			`(?m)^Non-terminated Pods:\s+\(2 in total\)$`, `(?m)^\s+` + fxNS + `\s+` + fxPod + `\s`,
			`(?m)^\s+Warning\s+InvalidDiskCapacity\s+.*invalid capacity 0 on image filesystem$`,
			`(?m)^\s+Normal\s+NodeNotReady\s+.*Node ` + fxNode + ` status is now: NodeNotReady$`,
		}, []string{"node-disk", "node-notready", "node-memory"}},
		{"Namespace", "", fxNS, []string{`(?m)^Status:\s+Active$`, `(?m)^Labels:\s+kubernetes\.io/metadata\.name=` + fxNS + `$`}, nil},
		{"Service", fxNS, fxService, []string{
			`(?m)^Selector:\s+app=api$`, `(?m)^Type:\s+LoadBalancer$`, `(?m)^Port:\s+http\s+80/TCP$`, `(?m)^TargetPort:\s+8080/TCP$`,
			`(?m)^\s+Normal\s+EnsuringLoadBalancer\s+.*Ensuring load balancer$`,
		}, []string{"svc-lb"}},
		{"PersistentVolumeClaim", fxNS, fxPVC, []string{
			`(?m)^StorageClass:\s+standard$`, `(?m)^Status:\s+Pending$`,
			`(?m)^\s+Normal\s+WaitForFirstConsumer\s+.*waiting for first consumer to be created before binding$`,
		}, []string{"pvc-wait"}},
		{"ConfigMap", fxNS, fxConfigMap, []string{`(?m)^LOG_LEVEL:$`, `(?m)^info$`}, nil},
		{"Secret", fxNS, fxSecret, []string{`(?m)^password:\s+21 bytes$`, `(?m)^token:\s+16 bytes$`, `(?m)^Type:\s+Opaque$`}, nil},
	}
}

func fakeClient() *fake.Clientset { return fake.NewClientset(fixture()...) }

// checkDescribeText holds for every describe text: kubectl's own lines, one
// per "\n", with nothing a terminal pane would turn into extra rows. Some
// describers print an empty line between sections on purpose (ConfigMap and
// Secret before "Data", Namespace before its quota); none prints a line of
// only spaces, a carriage return or a tab (the tabwriter turns tabs into
// spaces).
func checkDescribeText(t *testing.T, text string) {
	t.Helper()
	if strings.Contains(text, "\r") {
		t.Errorf("describe text has a carriage return: %q", text)
	}
	if !strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") {
		t.Errorf("describe text should end in exactly one newline: %q", text[max(0, len(text)-40):])
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line != "" && strings.TrimSpace(line) == "" {
			t.Errorf("line %d is only whitespace: %q", i+1, line)
		}
		if strings.ContainsAny(line, "\t\v\f\x1b") {
			t.Errorf("line %d holds a tab or control character: %q", i+1, line)
		}
	}
}

func TestDescribeEveryKind(t *testing.T) {
	c := fakeClient()
	for _, tc := range kindCases() {
		t.Run(tc.kind, func(t *testing.T) {
			text, err := Describe(c, tc.kind, tc.namespace, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			checkDescribeText(t, text)
			want := append([]string{`(?m)^Name:\s+` + regexp.QuoteMeta(tc.name) + `$`}, tc.describe...)
			if tc.namespace != "" {
				want = append(want, `(?m)^Namespace:\s+`+tc.namespace+`$`)
			}
			for _, re := range want {
				if !regexp.MustCompile(re).MatchString(text) {
					t.Errorf("describe does not match %s:\n%s", re, text)
				}
			}
			// Other objects' events stay out: the other pod's back-off and
			// the earlier pod of the same name.
			for _, bad := range []string{fxOtherPod + "_", "FailedMount", fxPassword, fxToken} {
				if strings.Contains(text, bad) {
					t.Errorf("describe shows %q, which is not about this %s:\n%s", bad, tc.kind, text)
				}
			}
			if len(tc.events) == 0 && !regexp.MustCompile(`(?m)^Events:\s+<none>$`).MatchString(text) && strings.Contains(text, "\nEvents:\n") {
				t.Errorf("describe lists events for an object that has none:\n%s", text)
			}
		})
	}
}

// The describe output of the pod, kept whole: what the pane must show
// unchanged (the TUI showed each line followed by empty ones).
func TestDescribeTextIsKubectls(t *testing.T) {
	text, err := Describe(fakeClient(), "pod", fxNS, fxPod)
	if err != nil {
		t.Fatal(err)
	}
	checkDescribeText(t, text)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, l := range lines {
		if l == "" {
			t.Errorf("line %d of a pod's describe is empty; kubectl prints none:\n%s", i+1, text)
		}
	}
	if lines[0] != "Name:         "+fxPod {
		t.Errorf("first line = %q", lines[0])
	}
	// kubectl pads every label to one column with spaces (its tabwriter)
	// and keeps the padding on lines whose value is empty: that trailing
	// space is kubectl's, and short, not a blank line.
	width := 0
	for _, l := range lines {
		width = max(width, len(l))
	}
	if width > 200 {
		t.Errorf("widest line is %d columns", width)
	}
}

func TestParseKind(t *testing.T) {
	for want, names := range map[string][]string{
		"Pod":                   {"pod", "pods", "po", "Pod", "PODS"},
		"Deployment":            {"deploy", "deployment", "deployments", "Deployment", "deployments.apps", "deploy.v1.apps"},
		"StatefulSet":           {"sts", "statefulset", "statefulsets", "StatefulSet.apps"},
		"DaemonSet":             {"ds", "daemonset", "daemonsets"},
		"ReplicaSet":            {"rs", "replicaset", "replicasets"},
		"Job":                   {"job", "jobs", "jobs.batch", "Job"},
		"CronJob":               {"cj", "cronjob", "cronjobs", "cronjobs.v1.batch"},
		"Node":                  {"no", "node", "nodes", " Node "},
		"Namespace":             {"ns", "namespace", "namespaces"},
		"Service":               {"svc", "service", "services"},
		"PersistentVolumeClaim": {"pvc", "persistentvolumeclaim", "persistentvolumeclaims"},
		"ConfigMap":             {"cm", "configmap", "configmaps"},
		"Secret":                {"secret", "secrets"},
	} {
		for _, n := range names {
			k, err := ParseKind(n)
			if err != nil || k.Name != want {
				t.Errorf("ParseKind(%q) = %q, %v; want %s", n, k.Name, err, want)
			}
		}
	}
	for _, bad := range []string{"", "ingress", "deployments.batch", "deploy.v2.apps", "pvcs", "po.apps", "x"} {
		_, err := ParseKind(bad)
		if !errors.Is(err, ErrUnsupportedKind) {
			t.Errorf("ParseKind(%q) error = %v, want ErrUnsupportedKind", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "deployment (deploy)") {
			t.Errorf("ParseKind(%q) error does not list what is supported: %v", bad, err)
		}
	}
}

// The kind table agrees with client-go's scheme: the YAML's apiVersion and
// kind are what the API server would send.
func TestKindsMatchScheme(t *testing.T) {
	for _, k := range Kinds() {
		obj, err := scheme.Scheme.New(k.GroupVersionKind())
		if err != nil {
			t.Errorf("%s: %v", k.Name, err)
			continue
		}
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil || gvks[0] != k.GroupVersionKind() {
			t.Errorf("%s: scheme says %v, %v", k.Name, gvks, err)
		}
	}
}

func TestYAMLEveryKind(t *testing.T) {
	c := fakeClient()
	for _, tc := range kindCases() {
		t.Run(tc.kind, func(t *testing.T) {
			out, err := YAML(t.Context(), c, tc.kind, tc.namespace, tc.name, YAMLOptions{RevealSecrets: true})
			if err != nil {
				t.Fatal(err)
			}
			k, _ := ParseKind(tc.kind)
			text := string(out)
			if !strings.HasPrefix(text, "apiVersion: "+k.GroupVersion.String()+"\n") {
				t.Errorf("YAML does not start with apiVersion %s:\n%s", k.GroupVersion, text)
			}
			if !regexp.MustCompile(`(?m)^kind: ` + k.Name + `$`).MatchString(text) {
				t.Errorf("YAML has no kind %s:\n%s", k.Name, text)
			}
			if strings.Contains(text, "managedFields") || strings.Contains(text, "kubectl-client-side-apply") {
				t.Errorf("YAML shows managedFields:\n%s", text)
			}
			// Round trip: the YAML decodes to the stored object.
			obj, err := runtime.Decode(scheme.Codecs.UniversalDeserializer(), out)
			if err != nil {
				t.Fatalf("YAML does not decode: %v\n%s", err, text)
			}
			stored, err := k.get(t.Context(), c, tc.namespace, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			clearManaged(stored)
			obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
			if !reflect.DeepEqual(obj, stored) {
				t.Errorf("YAML round trip differs:\n got %#v\nwant %#v", obj, stored)
			}
		})
	}
}

func clearManaged(obj runtime.Object) {
	if o, err := meta.Accessor(obj); err == nil {
		o.SetManagedFields(nil)
	}
}

const minute = time.Minute

func mt(t time.Time) metav1.Time       { return metav1.NewTime(t) }
func mmt(t time.Time) metav1.MicroTime { return metav1.NewMicroTime(t) }

func TestYAMLRedactsSecrets(t *testing.T) {
	c := fakeClient()
	out, err := YAML(t.Context(), c, "secret", fxNS, fxSecret, YAMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{fxPassword, fxToken} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(text, form) {
				t.Errorf("redacted YAML shows %q:\n%s", form, text)
			}
		}
	}
	for _, want := range []string{"  password: '<redacted: 21 bytes>'\n", "  token: '<redacted: 16 bytes>'\n", "    owner: payments-team\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("redacted YAML lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, corev1.LastAppliedConfigAnnotation) {
		t.Errorf("redacted YAML keeps the last-applied configuration:\n%s", text)
	}

	// stringData (write-only on a server, but a client may hold it) too.
	s := &corev1.Secret{}
	s.Name, s.Namespace = "staged", fxNS
	s.StringData = map[string]string{"api-key": fxPassword}
	c2 := fake.NewClientset(s)
	out, err = YAML(t.Context(), c2, "secrets", fxNS, "staged", YAMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), fxPassword) || !strings.Contains(string(out), "api-key: '<redacted: 21 bytes>'") {
		t.Errorf("stringData not redacted:\n%s", out)
	}

	out, err = YAML(t.Context(), c, "secret", fxNS, fxSecret, YAMLOptions{RevealSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	var back corev1.Secret
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if string(back.Data["password"]) != fxPassword || string(back.Data["token"]) != fxToken {
		t.Errorf("revealed YAML does not hold the values: %q", back.Data)
	}
	if !strings.Contains(back.Annotations[corev1.LastAppliedConfigAnnotation], fxPassword) {
		t.Errorf("revealed YAML should keep the object as stored")
	}
}

func TestEventsEveryKind(t *testing.T) {
	c := fakeClient()
	for _, tc := range kindCases() {
		t.Run(tc.kind, func(t *testing.T) {
			evs, err := Events(t.Context(), c, tc.kind, tc.namespace, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, e.Name)
			}
			if !reflect.DeepEqual(got, tc.events) {
				t.Errorf("events = %q, want %q", got, tc.events)
			}
		})
	}
}

// Without the object (deleted, or not readable) events are found by kind
// and name, as `kubectl events --for` finds them: the earlier pod's too.
func TestEventsWithoutObject(t *testing.T) {
	var objs []runtime.Object
	for _, o := range fixture() {
		if p, ok := o.(*corev1.Pod); ok && p.Name == fxPod {
			continue
		}
		objs = append(objs, o)
	}
	evs, err := Events(t.Context(), fake.NewClientset(objs...), "po", fxNS, fxPod)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Name)
	}
	want := []string{"api-backoff", "api-unhealthy", "api-old-mount", "api-pulled"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestSortEvents(t *testing.T) {
	at := func(name, typ string, set func(e *corev1.Event)) corev1.Event {
		e := corev1.Event{Type: typ}
		e.Name = name
		set(&e)
		return e
	}
	base := fxNow.Add(-time.Hour)
	evs := []corev1.Event{
		at("normal-new", "Normal", func(e *corev1.Event) { e.LastTimestamp = mt(base.Add(50 * minute)) }),
		at("warn-old", "Warning", func(e *corev1.Event) { e.LastTimestamp = mt(base.Add(10 * minute)) }),
		// events.k8s.io recorders: eventTime, and a series when repeated.
		at("warn-series", "Warning", func(e *corev1.Event) {
			e.EventTime = mmt(base)
			e.Series = &corev1.EventSeries{Count: 4, LastObservedTime: mmt(base.Add(40 * minute))}
		}),
		at("warn-eventtime", "Warning", func(e *corev1.Event) { e.EventTime = mmt(base.Add(20 * minute)) }),
		at("normal-first-only", "Normal", func(e *corev1.Event) { e.FirstTimestamp = mt(base.Add(5 * minute)) }),
		at("normal-created", "Normal", func(e *corev1.Event) { e.CreationTimestamp = mt(base.Add(30 * minute)) }),
	}
	SortEvents(evs)
	var got []string
	for _, e := range evs {
		got = append(got, e.Name)
	}
	want := []string{"warn-series", "warn-eventtime", "warn-old", "normal-new", "normal-created", "normal-first-only"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestErrors(t *testing.T) {
	c := fakeClient()
	forbidden := fakeClient()
	forbidden.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		gr := schema.GroupResource{Group: a.GetResource().Group, Resource: a.GetResource().Resource}
		return true, nil, apierrors.NewForbidden(gr, "", errors.New(`User "viewer" cannot get resource`))
	})
	type call func(kubernetes.Interface, string, string, string) error
	calls := map[string]call{
		"describe": func(c kubernetes.Interface, k, ns, n string) error { _, err := Describe(c, k, ns, n); return err },
		"yaml": func(c kubernetes.Interface, k, ns, n string) error {
			_, err := YAML(t.Context(), c, k, ns, n, YAMLOptions{})
			return err
		},
	}
	for what, f := range calls {
		for _, k := range Kinds() {
			ns := fxNS
			err := f(c, k.Name, ns, "gone")
			if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "not found") {
				t.Errorf("%s %s gone: %v, want a not-found error", what, k.Name, err)
			}
			err = f(forbidden, k.Name, ns, "x")
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "access denied") {
				t.Errorf("%s %s forbidden: %v, want a forbidden error", what, k.Name, err)
			}
			if k.Namespaced {
				if err := f(c, k.Name, "", "x"); err == nil || !strings.Contains(err.Error(), "no namespace given") {
					t.Errorf("%s %s without namespace: %v", what, k.Name, err)
				}
			}
		}
		if err := f(c, "ingress", fxNS, "x"); !errors.Is(err, ErrUnsupportedKind) {
			t.Errorf("%s ingress: %v", what, err)
		}
		if err := f(c, "pod", fxNS, ""); err == nil {
			t.Errorf("%s with no name: no error", what)
		}
	}
	if _, err := Events(t.Context(), forbidden, "pod", fxNS, fxPod); !apierrors.IsForbidden(err) {
		t.Errorf("events forbidden: %v", err)
	}
	if _, err := Events(t.Context(), c, "ingress", fxNS, "x"); !errors.Is(err, ErrUnsupportedKind) {
		t.Errorf("events of ingress: %v", err)
	}
}
