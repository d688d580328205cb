package diag_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// diagnoseYAML diagnoses the first pod of a YAML stream of objects, the
// stream standing for the whole cluster.
func diagnoseYAML(t *testing.T, y string, logs map[facts.LogKey]string) *diag.Diagnosis {
	t.Helper()
	objs, err := facts.DecodeObjects([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	set := facts.NewObjectSet(objs...)
	set.Complete, set.LogsComplete = true, true
	for k, v := range logs {
		set.Logs[k] = []byte(v)
	}
	var target diag.Target
	for _, o := range objs {
		if facts.KindOf(o) == "Pod" {
			target = diag.Target{Kind: "pod", Namespace: o.GetNamespace(), Name: o.GetName()}
			break
		}
	}
	f, err := facts.BuildFacts(set, target, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return diag.Diagnose(&f)
}

// readyNode is node n1, healthy.
const readyNode = `---
apiVersion: v1
kind: Node
metadata: {name: n1, uid: node-uid}
status:
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady}
`

// podYAML is a one-container pod on the ready node n1 whose container
// status is given as YAML (indented for containerStatuses items).
func podYAML(status string) string {
	return readyNode + `---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9, namespace: shop, uid: pod-uid}
spec:
  nodeName: n1
  containers:
  - name: app
    image: registry.example.com/shop/web:1.0
status:
  phase: Pending
  containerStatuses:
  - name: app
    image: registry.example.com/shop/web:1.0
` + status
}

func event(reason, typ, msg, fieldPath, last string, count int) string {
	fp := ""
	if fieldPath != "" {
		fp = `, fieldPath: "` + fieldPath + `"`
	}
	return `---
apiVersion: v1
kind: Event
metadata: {name: ev-` + reason + "-" + last + `, namespace: shop}
involvedObject: {kind: Pod, name: web-5d9, namespace: shop, uid: pod-uid` + fp + `}
reason: ` + reason + `
type: ` + typ + `
message: '` + strings.ReplaceAll(msg, "'", "''") + `'
count: ` + itoa(count) + `
firstTimestamp: "` + last + `"
lastTimestamp: "` + last + `"
`
}

func ruleIDs(d *diag.Diagnosis) []string {
	var out []string
	for _, f := range d.Findings {
		out = append(out, f.Rule)
	}
	return out
}

// TestPullMessageVariants covers the runtimes' wordings of pull failures.
func TestPullMessageVariants(t *testing.T) {
	tests := []struct {
		name, reason, msg, want string
		ambiguous               bool
	}{
		{"docker manifest unknown", "ErrImagePull", `rpc error: code = Unknown desc = Error response from daemon: manifest for nginx:1.99 not found: manifest unknown: manifest unknown`, "image.not-found", false},
		{"containerd not found", "ErrImagePull", `failed to pull and unpack image "docker.io/library/nginx:1.27.99": failed to resolve reference "docker.io/library/nginx:1.27.99": docker.io/library/nginx:1.27.99: not found`, "image.not-found", false},
		{"seed 000 old docker", "ErrImagePull", `Error: image rosskukulinski/dne not found`, "image.not-found", false},
		{"docker hub private or missing", "ErrImagePull", `Error response from daemon: pull access denied for acme/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`, "image.unauthorized", true},
		{"containerd 401", "ErrImagePull", `failed to pull and unpack image "harbor.acme.io/x/y:1": failed to resolve reference "harbor.acme.io/x/y:1": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://harbor.acme.io/service/token: 401 Unauthorized`, "image.unauthorized", false},
		{"cri-o 403", "ErrImagePull", `reading manifest 1 in quay.io/acme/app: unauthorized: access to the requested resource is not authorized`, "image.unauthorized", false},
		{"no such host", "ErrImagePull", `failed to do request: Head "https://registry.internal/v2/app/manifests/1": dial tcp: lookup registry.internal on 10.96.0.10:53: no such host`, "image.registry-unreachable", false},
		{"i/o timeout", "ErrImagePull", `Get "https://registry-1.docker.io/v2/": dial tcp 54.1.2.3:443: i/o timeout`, "image.registry-unreachable", false},
		{"TLS handshake", "ErrImagePull", `Get "https://gcr.io/v2/": net/http: TLS handshake timeout`, "image.registry-unreachable", false},
		{"self-signed", "ErrImagePull", `tls: failed to verify certificate: x509: certificate signed by unknown authority`, "image.registry-unreachable", false},
		{"RegistryUnavailable", "RegistryUnavailable", ``, "image.registry-unreachable", false},
		{"deadline", "ErrImagePull", `rpc error: code = DeadlineExceeded desc = context deadline exceeded`, "image.pull-timeout", false},
		{"progress deadline", "ErrImagePull", `rpc error: code = Canceled desc = context canceled`, "image.pull-timeout", false},
		{"invalid name", "InvalidImageName", `Failed to apply default image tag "Nginx:latest": couldn't parse image name "Nginx:latest": invalid reference format: repository name must be lowercase`, "image.invalid-name", false},
		{"inspect error", "ImageInspectError", `Failed to inspect image "x": rpc error: code = Unknown desc = Error response from daemon: readlink /var/lib/docker/overlay2/l: invalid argument`, "image.invalid-name", false},
		{"never pull", "ErrImageNeverPull", `Container image "acme/batch:dev" is not present with pull policy of Never`, "image.never-pull", false},
		{"403 in a tag is not a refusal", "ErrImagePull", `failed to pull and unpack image "docker.io/acme/web:1.403": failed to resolve reference "docker.io/acme/web:1.403": docker.io/acme/web:1.403: not found`, "image.not-found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := podYAML(`    state:
      waiting: {reason: ` + tt.reason + `, message: '` + strings.ReplaceAll(tt.msg, "'", "''") + `'}
`)
			d := diagnoseYAML(t, y, nil)
			if d.RootCause.Rule != tt.want {
				t.Fatalf("root cause %s, want %s; findings %v", d.RootCause.Rule, tt.want, ruleIDs(d))
			}
			mentions := strings.Contains(d.Findings[0].Explanation, "answers the same way")
			if mentions != tt.ambiguous {
				t.Errorf("ambiguity noted: %t, want %t: %s", mentions, tt.ambiguous, d.Findings[0].Explanation)
			}
			if d.Findings[0].Container != "app" {
				t.Errorf("container %q, want app", d.Findings[0].Container)
			}
		})
	}
}

// TestPullErrorFromEvents: ImagePullBackOff says only "Back-off pulling
// image"; the cause is in the newest Failed event, not in the bare
// "Error: ImagePullBackOff" companion.
func TestPullErrorFromEvents(t *testing.T) {
	y := podYAML(`    state:
      waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image "registry.example.com/shop/web:1.0"'}
`) + event("Failed", "Warning", `Failed to pull image "registry.example.com/shop/web:1.0": rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/shop/web:1.0": failed to resolve reference "registry.example.com/shop/web:1.0": unexpected status from HEAD request: 403 Forbidden`, "spec.containers{app}", "2026-11-20T09:58:00Z", 5) +
		event("Failed", "Warning", "Error: ImagePullBackOff", "spec.containers{app}", "2026-11-20T09:59:30Z", 40)
	d := diagnoseYAML(t, y, nil)
	if d.RootCause.Rule != "image.unauthorized" {
		t.Fatalf("root cause %s, want image.unauthorized", d.RootCause.Rule)
	}
}

func TestStartErrorVariants(t *testing.T) {
	tests := []struct{ name, reason, msg, want string }{
		{"containerd PATH", "StartError", `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "gunicorn": executable file not found in $PATH: unknown`, "container.command-not-found"},
		{"docker PATH", "ContainerCannotRun", `OCI runtime create failed: container_linux.go:380: starting container process caused: exec: "/app/run": stat /app/run: no such file or directory: unknown`, "container.command-not-found"},
		{"windows hcs", "StartError", `failed to create containerd task: failed to create shim task: hcs::System::CreateProcess 4843fe61: The system cannot find the file specified.: unknown`, "container.command-not-found"},
		{"permission", "StartError", `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/docker-entrypoint.sh": permission denied: unknown`, "container.command-not-executable"},
		{"mount onto /proc", "StartError", `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error mounting "/var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/p" to rootfs at "/proc": "/proc" cannot be mounted because it is inside /proc: unknown`, "volume.invalid-mount"},
		{"other", "StartError", `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error setting cgroup config for procHooks process: unable to set memory limit to 1 (current usage: 2, peak usage: 3): unknown`, "container.create-error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := podYAML(`    restartCount: 3
    lastState:
      terminated: {reason: ` + tt.reason + `, exitCode: 128, message: '` + strings.ReplaceAll(tt.msg, "'", "''") + `', startedAt: "2026-11-20T09:59:00Z", finishedAt: "2026-11-20T09:59:00Z"}
    state:
      waiting: {reason: CrashLoopBackOff, message: 'back-off 40s restarting failed container=app pod=web-5d9_shop(pod-uid)'}
`)
			d := diagnoseYAML(t, y, nil)
			if got := ruleIDs(d); d.RootCause.Rule != tt.want || d.Has("crash.exit-error") {
				t.Fatalf("findings %v, want %s alone (the runtime never ran the app)", got, tt.want)
			}
		})
	}
	// CreateContainerError while waiting: "no command specified".
	d := diagnoseYAML(t, podYAML(`    state:
      waiting: {reason: CreateContainerError, message: 'Error: failed to create containerd container: no command specified'}
`), nil)
	if d.RootCause.Rule != "container.create-error" || !strings.Contains(d.Findings[0].Summary, "no command specified") {
		t.Errorf("no command specified: %s: %s", d.RootCause.Rule, d.Findings[0].Summary)
	}
}

// crashPod is a crash-looping one-container pod whose last run ended with
// the given terminated state.
func crashPod(reason string, exitCode int) string {
	return strings.Replace(podYAML(`    restartCount: 7
    lastState:
      terminated: {reason: `+reason+`, exitCode: `+itoa(exitCode)+`, startedAt: "2026-11-20T09:57:00Z", finishedAt: "2026-11-20T09:58:00Z"}
    state:
      waiting: {reason: CrashLoopBackOff, message: 'back-off 5m0s restarting failed container=app pod=web-5d9_shop(pod-uid)'}
`), "phase: Pending", "phase: Running", 1)
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		reason string
		code   int
		want   string
	}{
		{"Completed", 0, "crash.completed-restarting"},
		{"Error", 1, "crash.exit-error"},
		{"Error", 2, "crash.exit-error"},
		{"Error", 126, "container.command-not-executable"},
		{"Error", 127, "container.command-not-found"},
		{"Error", 134, "crash.exit-error"},
		{"OOMKilled", 137, "crash.oom-killed"},
		{"Error", 137, "crash.sigkill"},
		{"Error", 139, "crash.segfault"},
		{"Error", 143, "crash.sigterm"},
		{"Error", 255, "crash.exit-error"},
		{"Error", -1073741819, "crash.exit-error"},
	}
	for _, tt := range tests {
		t.Run(tt.reason+"/"+itoa(tt.code), func(t *testing.T) {
			d := diagnoseYAML(t, crashPod(tt.reason, tt.code), nil)
			if d.RootCause.Rule != tt.want {
				t.Fatalf("root cause %s, want %s; findings %v", d.RootCause.Rule, tt.want, ruleIDs(d))
			}
			if !strings.Contains(strings.Join(d.Findings[0].Evidence, "\n"), diag.ExitCodeMeaning(int32(tt.code))) {
				t.Errorf("evidence does not explain exit code %d:\n%s", tt.code, strings.Join(d.Findings[0].Evidence, "\n"))
			}
		})
	}
}

func TestExitCodeMeaning(t *testing.T) {
	for code, want := range map[int32]string{
		0: "success", 1: "general application error", 126: "not executable", 127: "command not found",
		130: "SIGINT", 134: "SIGABRT", 137: "SIGKILL", 139: "SIGSEGV", 143: "SIGTERM", 141: "SIGPIPE",
		160: "signal 32", 42: "application-defined", -1073741819: "0xC0000005 STATUS_ACCESS_VIOLATION",
	} {
		if got := diag.ExitCodeMeaning(code); !strings.Contains(got, want) {
			t.Errorf("ExitCodeMeaning(%d) = %q, want it to mention %q", code, got, want)
		}
	}
}

// TestBackOffWordings: the old and the new back-off message both reach the
// crash finding's evidence, attributed to the right container.
func TestBackOffWordings(t *testing.T) {
	for _, tt := range []struct{ name, msg, fieldPath string }{
		{"before 1.27, no fieldPath", "Back-off restarting failed container", ""},
		{"before 1.27", "Back-off restarting failed container", "spec.containers{app}"},
		{"1.27 and later", "Back-off restarting failed container app in pod web-5d9_shop(pod-uid)", "spec.containers{app}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := crashPod("Error", 1) + event("BackOff", "Warning", tt.msg, tt.fieldPath, "2026-11-20T09:59:50Z", 30)
			d := diagnoseYAML(t, y, nil)
			if !strings.Contains(strings.Join(d.Findings[0].Evidence, "\n"), tt.msg) {
				t.Errorf("back-off event missing from the crash evidence: %v", d.Findings[0].Evidence)
			}
		})
	}
}

func TestSchedulerMessageVariants(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"with preemption", "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.", "sched.insufficient-resources"},
		{"without preemption", "0/3 nodes are available: 3 Insufficient cpu.", "sched.insufficient-resources"},
		{"too many pods", "0/2 nodes are available: 2 Too many pods.", "sched.insufficient-resources"},
		{"control-plane taint is not the point", "0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 Insufficient memory. preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod.", "sched.insufficient-resources"},
		{"old taint wording", "0/3 nodes are available: 3 node(s) had taint {dedicated: gpu}, that the pod didn't tolerate.", "sched.untolerated-taint"},
		{"new taint wording", "0/3 nodes are available: 3 node(s) had untolerated taint {team: data}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.", "sched.untolerated-taint"},
		{"old selector wording", "0/3 nodes are available: 3 node(s) didn't match node selector.", "sched.node-selector-mismatch"},
		{"new selector wording", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.", "sched.node-selector-mismatch"},
		{"no nodes", "0/0 nodes are available", "sched.no-nodes"},
		{"no nodes, old", "no nodes available to schedule pods", "sched.no-nodes"},
		{"all cordoned", "0/2 nodes are available: 2 node(s) were unschedulable.", "sched.no-nodes"},
		{"cordoned plus control plane", "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable.", "sched.no-nodes"},
		{"all not ready", "0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.", "sched.no-nodes"},
		{"host port", "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.", "sched.host-port-conflict"},
		{"pvc", "0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.", "sched.pvc-unbound"},
		{"pvc, plugin wording", `running "VolumeBinding" filter plugin for pod "zk-0": pod has unbound immediate PersistentVolumeClaims`, "sched.pvc-unbound"},
		{"other", "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.", "sched.other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := strings.Replace(podYAML(""), "  nodeName: n1\n", "", 1)
			y = strings.Replace(y, "  containerStatuses:\n  - name: app\n    image: registry.example.com/shop/web:1.0\n", `  conditions:
  - type: PodScheduled
    status: "False"
    reason: Unschedulable
    message: '`+strings.ReplaceAll(tt.msg, "'", "''")+`'
`, 1)
			d := diagnoseYAML(t, y, nil)
			if d.RootCause.Rule != tt.want {
				t.Fatalf("root cause %s, want %s; findings %v", d.RootCause.Rule, tt.want, ruleIDs(d))
			}
		})
	}
}

// TestOldWarningDoesNotOutrankCurrentCause: a FailedScheduling from an hour
// ago on a pod that is now Running and crashing is history.
func TestOldWarningDoesNotOutrankCurrentCause(t *testing.T) {
	y := crashPod("Error", 1) +
		event("FailedScheduling", "Warning", "0/3 nodes are available: 3 Insufficient memory.", "", "2026-11-20T08:55:00Z", 12)
	d := diagnoseYAML(t, y, nil)
	if d.RootCause.Rule != "crash.exit-error" {
		t.Fatalf("root cause %s, want crash.exit-error; findings %v", d.RootCause.Rule, ruleIDs(d))
	}
	for _, f := range d.Findings {
		if strings.HasPrefix(f.Rule, "sched.") {
			t.Errorf("stale scheduling warning became a finding: %s", f.Rule)
		}
	}
}

// TestMultiContainerNamesTheFailingOne: only the app container fails; the
// finding and its commands name it.
func TestMultiContainerNamesTheFailingOne(t *testing.T) {
	y := readyNode + `---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9, namespace: shop, uid: pod-uid}
spec:
  nodeName: n1
  containers:
  - {name: proxy, image: envoyproxy/envoy:v1.31.0}
  - {name: app, image: registry.example.com/shop/web:1.0}
status:
  phase: Running
  containerStatuses:
  - name: proxy
    ready: true
    state: {running: {startedAt: "2026-11-20T08:00:00Z"}}
  - name: app
    restartCount: 5
    lastState: {terminated: {reason: Error, exitCode: 1, startedAt: "2026-11-20T09:58:00Z", finishedAt: "2026-11-20T09:58:01Z"}}
    state: {waiting: {reason: CrashLoopBackOff}}
`
	d := diagnoseYAML(t, y, map[facts.LogKey]string{
		{Namespace: "shop", Pod: "web-5d9", Container: "app", Previous: true}: "panic: dial tcp 10.0.0.7:5432: connect: connection refused\n",
	})
	f := d.Findings[0]
	if f.Rule != "crash.exit-error" || f.Container != "app" {
		t.Fatalf("first finding %s for %q, want crash.exit-error for app", f.Rule, f.Container)
	}
	if want := "kubectl logs -n shop web-5d9 -c app --previous"; !contains(f.Commands, want) {
		t.Errorf("commands %v lack %q", f.Commands, want)
	}
	if len(d.Findings) < 2 || d.Findings[1].Rule != "app.dependency-unreachable" || !strings.Contains(d.Findings[1].Summary, "10.0.0.7:5432") {
		t.Errorf("the log finding should follow the crash and name the address: %v", ruleIDs(d))
	}
}

// TestForbiddenIsNotMissing: a lookup that was denied must never read as
// a missing object; the same pod with the Secret really absent does.
func TestForbiddenIsNotMissing(t *testing.T) {
	y := strings.Replace(podYAML(`    state:
      waiting: {reason: ContainerCreating}
`), "    image: registry.example.com/shop/web:1.0\nstatus:", `    image: registry.example.com/shop/web:1.0
    envFrom:
    - secretRef: {name: db}
status:`, 1)
	objs, err := facts.DecodeObjects([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	target := diag.Target{Kind: "pod", Namespace: "shop", Name: "web-5d9"}
	for _, forbidden := range []bool{true, false} {
		set := facts.NewObjectSet(objs...)
		set.Complete = true
		if forbidden {
			set.MarkUnknown("Secret", "shop", `forbidden: User "dev" cannot get resource "secrets" in the namespace "shop"`)
		}
		f, err := facts.BuildFacts(set, target, testNow)
		if err != nil {
			t.Fatal(err)
		}
		d := diag.Diagnose(&f)
		if forbidden {
			if d.Has("config.secret-missing") {
				t.Errorf("forbidden lookup reported as missing: %v", ruleIDs(d))
			}
			if !strings.Contains(strings.Join(d.Steps[0].Evidence, "\n"), "secret/db (unknown: forbidden") {
				t.Errorf("the describe step should show the lookup as unknown with its reason: %v", d.Steps[0].Evidence)
			}
		} else if d.RootCause.Rule != "config.secret-missing" {
			t.Errorf("absent secret: root cause %s, want config.secret-missing", d.RootCause.Rule)
		}
	}
}

// TestLivenessKillWordings: the three generations of the kubelet's probe
// kill message all make the liveness probe the cause of the SIGKILLs.
func TestLivenessKillWordings(t *testing.T) {
	for _, msg := range []string{
		"Container app failed liveness probe, will be restarted",
		"Killing container with id docker://0fb5f1a56ea0:Container failed liveness probe.. Container will be killed and recreated.",
		`pod "web-5d9_shop(pod-uid)" container "app" is unhealthy, it will be killed and re-created.`,
	} {
		y := crashPod("Error", 137) + event("Killing", "Normal", msg, "", "2026-11-20T09:58:00Z", 7)
		d := diagnoseYAML(t, y, nil)
		if d.RootCause.Rule != "probe.liveness-failing" || d.Has("crash.sigkill") {
			t.Errorf("%q: findings %v, want probe.liveness-failing without crash.sigkill", msg, ruleIDs(d))
		}
	}
}

// TestNoMatchInventsNothing: an unknown waiting reason gives rule none with
// the raw evidence, and a healthy pod gives ok listing the checks passed.
func TestNoMatchInventsNothing(t *testing.T) {
	d := diagnoseYAML(t, podYAML(`    state:
      waiting: {reason: SomethingNew, message: "status 4711"}
`), nil)
	if d.RootCause.Rule != diag.RuleNone || len(d.Findings) != 1 {
		t.Fatalf("findings %v, want only none", ruleIDs(d))
	}
	if !strings.Contains(strings.Join(d.Findings[0].Evidence, "\n"), "SomethingNew") {
		t.Errorf("none should show the raw evidence: %v", d.Findings[0].Evidence)
	}
	healthy := strings.Replace(podYAML(`    ready: true
    state: {running: {startedAt: "2026-11-19T10:00:00Z"}}
`), "phase: Pending", "phase: Running", 1)
	d = diagnoseYAML(t, healthy, nil)
	if !d.Healthy() || len(d.Findings[0].Evidence) != 4 {
		t.Errorf("healthy pod: %v %v", ruleIDs(d), d.Findings[0].Evidence)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestEveryRuleHasShortText: the tree names each rule's cause in a few
// words; a rule without its own falls back to its id, which reads poorly.
func TestEveryRuleHasShortText(t *testing.T) {
	for _, id := range diag.Catalogue {
		if id == diag.RuleOK {
			continue
		}
		if !diag.HasShortText(id) {
			t.Errorf("rule %s has no short text in classify.go", id)
		}
	}
}
