package diag_test

import (
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// The variants of the pod-level failure classes that the fixtures under
// testdata/rules do not cover, each from a published message.

// TestRateLimitWins: a 429 is a rate limit whatever else the message says;
// it must not read as a missing image or an unreachable registry.
func TestRateLimitWins(t *testing.T) {
	tests := []struct{ name, msg string }{
		// CRI-O, red-hat-storage/ocs-ci#4494.
		{"cri-o reading manifest", `rpc error: code = Unknown desc = Error reading manifest latest in docker.io/obsidiandynamics/kafdrop: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit`},
		// containerd against registry.k8s.io, kubernetes/kubernetes#126366.
		{"containerd HEAD 429", `failed to pull and unpack image "registry.k8s.io/sig-storage/csi-resizer:v1.2.0": failed to resolve reference "registry.k8s.io/sig-storage/csi-resizer:v1.2.0": unexpected status from HEAD request to https://registry.k8s.io/v2/sig-storage/csi-resizer/manifests/v1.2.0: 429 Too Many Requests`},
		// A 429 after a dial retry: the network words must not win.
		{"429 after i/o timeout retry", `failed to pull and unpack image "docker.io/library/redis:7": failed to copy: read tcp 10.0.0.5:51234->54.1.2.3:443: i/o timeout; retry: unexpected status code https://registry-1.docker.io/v2/library/redis/manifests/7: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := podYAML(`    state:
      waiting: {reason: ErrImagePull, message: '` + strings.ReplaceAll(tt.msg, "'", "''") + `'}
`)
			d := diagnoseYAML(t, y, nil)
			if d.RootCause.Rule != "image.rate-limited" {
				t.Fatalf("root cause %s, want image.rate-limited; findings %v", d.RootCause.Rule, ruleIDs(d))
			}
			if d.Has("image.registry-unreachable") || d.Has("image.not-found") {
				t.Errorf("a rate limit also reported as %v", ruleIDs(d))
			}
		})
	}
}

// TestRunAsNonRootVariants covers verifyRunAsNonRoot's other messages
// (pkg/kubelet/kuberuntime/security_context_others.go).
func TestRunAsNonRootVariants(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"non-numeric user", `container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root (pod: "web-5d9_shop(pod-uid)", container: app)`, `"nobody"`},
		{"runAsUser 0", `container's runAsUser breaks non-root policy (pod: "web-5d9_shop(pod-uid)", container: app)`, "runAsUser is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := podYAML(`    state:
      waiting: {reason: CreateContainerConfigError, message: '` + strings.ReplaceAll(tt.msg, "'", "''") + `'}
`)
			d := diagnoseYAML(t, y, nil)
			if d.RootCause.Rule != "config.run-as-non-root" || d.Has("container.create-error") {
				t.Fatalf("findings %v, want config.run-as-non-root alone", ruleIDs(d))
			}
			if !strings.Contains(d.RootCause.Summary, tt.want) {
				t.Errorf("summary %q does not say %s", d.RootCause.Summary, tt.want)
			}
		})
	}
}

// failedPod is pod web-5d9 on node n1, Failed with the given reason and
// message, never started.
func failedPod(reason, message string) string {
	return readyNode + `---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9, namespace: shop, uid: pod-uid}
spec:
  nodeName: n1
  nodeSelector: {disktype: ssd}
  containers:
  - name: app
    image: registry.example.com/shop/web:1.0
    resources: {requests: {cpu: "2"}}
status:
  phase: Failed
  reason: ` + reason + `
  message: '` + strings.ReplaceAll(message, "'", "''") + `'
`
}

// TestKubeletRejections: the kubelet's admission reasons
// (pkg/kubelet/lifecycle/predicate.go, kubelet.go rejectPod) and the node
// shutdown manager's (pkg/kubelet/nodeshutdown).
func TestKubeletRejections(t *testing.T) {
	tests := []struct{ name, reason, msg, want, says string }{
		{"OutOfcpu", "OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: 3500, capacity: 4000", "pod.admission-rejected", "not enough cpu (requested 2000, used 3500, capacity 4000)"},
		{"NodeAffinity", "NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector", "pod.admission-rejected", "Predicate NodeAffinity failed"},
		{"OutOfpods", "OutOfpods", "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110", "pod.admission-rejected", "not enough pods"},
		{"shutdown rejection", "NodeShutdown", "Pod was rejected as the node is shutting down.", "pod.node-shutdown", "was rejected because"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := diagnoseYAML(t, failedPod(tt.reason, tt.msg), nil)
			if d.RootCause.Rule != tt.want {
				t.Fatalf("root cause %s, want %s; findings %v", d.RootCause.Rule, tt.want, ruleIDs(d))
			}
			if !strings.Contains(d.RootCause.Summary, tt.says) {
				t.Errorf("summary %q does not say %q", d.RootCause.Summary, tt.says)
			}
			if d.Has("pod.evicted") || d.Has("crash.exit-error") {
				t.Errorf("findings %v", ruleIDs(d))
			}
		})
	}
}

// TestRuntimeHandlerCRIO: CRI-O words a missing handler differently
// (NVIDIA/NVSentinel#442); it is not a CNI failure.
func TestRuntimeHandlerCRIO(t *testing.T) {
	y := podYAML(`    state:
      waiting: {reason: ContainerCreating}
`) + event("FailedCreatePodSandBox", "Warning", `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to find runtime handler nvidia from runtime list map[crun:0xc00047e300 runc:0xc00047ef00]`, "", "2026-11-20T09:59:00Z", 12)
	d := diagnoseYAML(t, y, nil)
	if d.RootCause.Rule != "sandbox.runtime-handler-missing" || d.Has("sandbox.cni-failed") {
		t.Fatalf("findings %v, want sandbox.runtime-handler-missing", ruleIDs(d))
	}
	if !strings.Contains(d.RootCause.Summary, `"nvidia"`) {
		t.Errorf("summary %q does not name the handler", d.RootCause.Summary)
	}
}

// TestPlatformMismatchOldRunc: runc before 1.1 wrote
// "standard_init_linux.go:228: exec user process caused: exec format error"
// (combor/k8s-mongo-labeler-sidecar#14).
func TestPlatformMismatchOldRunc(t *testing.T) {
	y := podYAML(`    restartCount: 4
    lastState:
      terminated: {reason: Error, exitCode: 1, startedAt: "2026-11-20T09:59:00Z", finishedAt: "2026-11-20T09:59:00Z"}
    state:
      waiting: {reason: CrashLoopBackOff, message: 'back-off 1m20s restarting failed container=app pod=web-5d9_shop(pod-uid)'}
`)
	logs := map[facts.LogKey]string{{Namespace: "shop", Pod: "web-5d9", Container: "app", Previous: true}: "standard_init_linux.go:228: exec user process caused: exec format error\n"}
	d := diagnoseYAML(t, y, logs)
	if d.RootCause.Rule != "image.platform-mismatch" || d.Has("crash.exit-error") {
		t.Fatalf("findings %v, want image.platform-mismatch alone", ruleIDs(d))
	}
}

// TestInitRunningBriefly: an init container that has run for a minute is
// still doing its work, not stuck.
func TestInitRunningBriefly(t *testing.T) {
	y := readyNode + `---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9, namespace: shop, uid: pod-uid}
spec:
  nodeName: n1
  initContainers:
  - name: wait
    image: busybox:1.36
    command: [sh, -c, "until nc -z db 5432; do sleep 2; done"]
  containers:
  - name: app
    image: registry.example.com/shop/web:1.0
status:
  phase: Pending
  conditions:
  - {type: Initialized, status: "False", reason: ContainersNotInitialized}
  initContainerStatuses:
  - name: wait
    image: busybox:1.36
    restartCount: 0
    state:
      running: {startedAt: "%s"}
  containerStatuses:
  - name: app
    image: registry.example.com/shop/web:1.0
    state:
      waiting: {reason: PodInitializing}
`
	short := diagnoseYAML(t, strings.Replace(y, "%s", "2026-11-20T09:59:00Z", 1), nil)
	if short.Has("init.never-finishes") {
		t.Errorf("a one-minute init container reported stuck: %v", ruleIDs(short))
	}
	long := diagnoseYAML(t, strings.Replace(y, "%s", "2026-11-20T09:30:00Z", 1), nil)
	if long.RootCause.Rule != "init.never-finishes" || long.Has("init.failed") {
		t.Fatalf("findings %v, want init.never-finishes", ruleIDs(long))
	}
	if !strings.Contains(long.RootCause.Summary, "waiting for db") {
		t.Errorf("summary %q does not name what the loop waits for", long.RootCause.Summary)
	}
}

// TestPlatformMismatchInit: an init container built for another
// architecture is a platform mismatch, not an init container that fails.
func TestPlatformMismatchInit(t *testing.T) {
	y := readyNode + `---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9, namespace: shop, uid: pod-uid}
spec:
  nodeName: n1
  initContainers:
  - name: migrate
    image: registry.example.com/shop/migrate:1.0
  containers:
  - name: app
    image: registry.example.com/shop/web:1.0
status:
  phase: Pending
  initContainerStatuses:
  - name: migrate
    image: registry.example.com/shop/migrate:1.0
    restartCount: 3
    lastState:
      terminated: {reason: Error, exitCode: 1, startedAt: "2026-11-20T09:59:00Z", finishedAt: "2026-11-20T09:59:00Z"}
    state:
      waiting: {reason: CrashLoopBackOff}
  containerStatuses:
  - name: app
    image: registry.example.com/shop/web:1.0
    state:
      waiting: {reason: PodInitializing}
`
	logs := map[facts.LogKey]string{{Namespace: "shop", Pod: "web-5d9", Container: "migrate", Previous: true}: "exec /usr/local/bin/migrate: exec format error\n"}
	d := diagnoseYAML(t, y, logs)
	if d.RootCause.Rule != "image.platform-mismatch" || d.Has("init.failed") {
		t.Fatalf("findings %v, want image.platform-mismatch alone", ruleIDs(d))
	}
	if !strings.Contains(d.RootCause.Summary, "Init container migrate") {
		t.Errorf("summary %q", d.RootCause.Summary)
	}
}

// TestWaitingFirstConsumerNodeName: a pod bound with spec.nodeName skips
// the scheduler, so its WaitForFirstConsumer claim never binds.
func TestWaitingFirstConsumerNodeName(t *testing.T) {
	y := readyNode + `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop, uid: claim-uid}
spec: {storageClassName: local-path, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
status: {phase: Pending}
---
apiVersion: v1
kind: Event
metadata: {name: data.1, namespace: shop}
involvedObject: {kind: PersistentVolumeClaim, name: data, namespace: shop, uid: claim-uid}
reason: WaitForFirstConsumer
type: Normal
message: waiting for first consumer to be created before binding
count: 12
firstTimestamp: "2026-11-20T09:40:00Z"
lastTimestamp: "2026-11-20T09:59:00Z"
---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9, namespace: shop, uid: pod-uid}
spec:
  nodeName: n1
  containers:
  - name: app
    image: registry.example.com/shop/web:1.0
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
status:
  phase: Pending
  containerStatuses:
  - name: app
    image: registry.example.com/shop/web:1.0
    state:
      waiting: {reason: ContainerCreating}
`
	d := diagnoseYAML(t, y, nil)
	if d.RootCause.Rule != "volume.waiting-first-consumer" {
		t.Fatalf("root cause %s, want volume.waiting-first-consumer; findings %v", d.RootCause.Rule, ruleIDs(d))
	}
	if !strings.Contains(d.RootCause.Summary, "spec.nodeName") {
		t.Errorf("summary %q does not name spec.nodeName", d.RootCause.Summary)
	}
}
