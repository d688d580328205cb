package diag_test

import (
	"strings"
	"testing"

	"github.com/kdoctor-dev/kdoctor/diag"
	"github.com/kdoctor-dev/kdoctor/kube/facts"
)

// pinnedPodYAML is an unscheduled DaemonSet-style pod pinned to node n2 by
// matchFields, in a cluster of n1 (healthy) and n2 (nodeYAML).
func pinnedPodYAML(n2, msg string) string {
	return readyNode + `---
apiVersion: v1
kind: Node
metadata: {name: n2, uid: node2-uid}
` + n2 + `---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop, uid: ds-uid}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: app, image: registry.example.com/agent:1.0}]
---
apiVersion: v1
kind: Pod
metadata:
  name: agent-x7k2p
  namespace: shop
  uid: pod-uid
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: ds-uid, controller: true}]
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchFields: [{key: metadata.name, operator: In, values: [n2]}]
  containers:
  - name: app
    image: registry.example.com/agent:1.0
    ports: [{containerPort: 9100, hostPort: 9100}]
    resources: {requests: {cpu: 200m}}
status:
  phase: Pending
  conditions:
  - type: PodScheduled
    status: "False"
    reason: Unschedulable
    message: '` + strings.ReplaceAll(msg, "'", "''") + `'
`
}

// TestPinnedPodSchedulerReasons: a pod pinned to one node is judged by the
// reason for that node only, whichever way the scheduler counted the rest.
func TestPinnedPodSchedulerReasons(t *testing.T) {
	healthy := "status:\n  allocatable: {cpu: 1930m}\n  conditions:\n  - {type: Ready, status: \"True\"}\n"
	tests := []struct{ name, n2, msg, want, notWant string }{
		{"old count: ports on the other node", healthy,
			"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't have free ports for the requested pod ports.", "sched.insufficient-resources", ""},
		{"affinity wording for the other node", healthy,
			"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector.", "sched.insufficient-resources", "sched.node-selector-mismatch"},
		{"plugin wording for the other node", healthy,
			"0/2 nodes are available: 1 Too many pods, 1 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.", "sched.insufficient-resources", "sched.node-selector-mismatch"},
		{"only its own node counted", healthy,
			"0/2 nodes are available: 1 Insufficient cpu. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod.", "sched.insufficient-resources", ""},
		{"every node holds the port, its own too", healthy,
			"0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.", "sched.host-port-conflict", ""},
		{"its node has no network", "spec:\n  taints: [{key: node.kubernetes.io/network-unavailable, effect: NoSchedule}]\nstatus:\n  conditions:\n  - {type: NetworkUnavailable, status: \"True\", reason: NoRouteCreated, message: RouteController failed to create a route}\n  - {type: Ready, status: \"True\"}\n",
			"0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/network-unavailable: }.", "node.network-unavailable", "sched.untolerated-taint"},
		{"its node is short of disk", "spec:\n  taints: [{key: node.kubernetes.io/disk-pressure, effect: NoSchedule}]\nstatus:\n  conditions:\n  - {type: DiskPressure, status: \"True\", reason: KubeletHasDiskPressure, message: kubelet has disk pressure}\n  - {type: Ready, status: \"True\"}\n",
			"0/2 nodes are available: 1 node(s) didn't satisfy plugin(s) [NodeAffinity], 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }.", "node.disk-pressure", "sched.untolerated-taint"},
		{"its node is cordoned", "spec:\n  unschedulable: true\nstatus:\n  conditions:\n  - {type: Ready, status: \"True\"}\n",
			"0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable.", "node.cordoned", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := diagnoseYAML(t, pinnedPodYAML(tt.n2, tt.msg), nil)
			if d.RootCause.Rule != tt.want {
				t.Fatalf("root cause %s, want %s; findings %v", d.RootCause.Rule, tt.want, ruleIDs(d))
			}
			if tt.notWant != "" && d.Has(tt.notWant) {
				t.Errorf("%s blamed for nodes the pod may never use; findings %v", tt.notWant, ruleIDs(d))
			}
			if !strings.Contains(d.Findings[0].Summary, "n2") {
				t.Errorf("the finding does not name the pod's node n2: %s", d.Findings[0].Summary)
			}
		})
	}
}

// TestMixedReasonsRankTheBlocker: nodes the pod's own constraints rule
// out are not the cause, whatever their count.
func TestMixedReasonsRankTheBlocker(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"selector out, memory blocks", "0/5 nodes are available: 2 Insufficient memory, 3 node(s) didn't match Pod's node affinity/selector.", "sched.insufficient-resources"},
		{"taint out, ports block", "0/4 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 3 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.", "sched.host-port-conflict"},
		{"volume affinity out, anti-affinity blocks", "0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 2 node(s) had volume node affinity conflict.", "sched.other"},
		{"only constraints: the largest is the cause", "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 node(s) didn't match Pod's node affinity/selector.", "sched.node-selector-mismatch"},
		{"a condition taint whose node is unknown stays a taint", "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }.", "sched.untolerated-taint"},
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

// TestQuotaMustSpecifyWordings: both wordings of quota admission's
// "must specify" are quota findings naming the containers.
func TestQuotaMustSpecifyWordings(t *testing.T) {
	tests := []struct{ name, msg, wantIn string }{
		{"per resource, since 1.29", `Error creating: pods "web-5d9-abcde" is forbidden: failed quota: compute: must specify limits.cpu for: app,istio-proxy; requests.memory for: app`, "container istio-proxy"},
		{"plain list", `Error creating: pods "web-5d9-abcde" is forbidden: failed quota: compute: must specify limits.cpu,requests.memory`, "container app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := `---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-5d9, namespace: shop, uid: rs-uid}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: registry.example.com/shop/web:1.0}]
---
apiVersion: v1
kind: Event
metadata: {name: ev-fc, namespace: shop}
involvedObject: {kind: ReplicaSet, name: web-5d9, namespace: shop, uid: rs-uid}
reason: FailedCreate
type: Warning
message: '` + strings.ReplaceAll(tt.msg, "'", "''") + `'
count: 5
lastTimestamp: "2026-11-20T09:59:00Z"
`
			d := diagnoseWorkloadYAML(t, y, "replicaset", "web-5d9")
			if d.RootCause.Rule != "create.quota-exceeded" {
				t.Fatalf("root cause %s, want create.quota-exceeded; findings %v", d.RootCause.Rule, ruleIDs(d))
			}
			if s := d.Findings[0].Summary; !strings.Contains(s, "compute") || !strings.Contains(s, tt.wantIn) {
				t.Errorf("summary does not name the quota and %s: %s", tt.wantIn, s)
			}
		})
	}
}

// diagnoseWorkloadYAML diagnoses a workload of a YAML stream of objects.
func diagnoseWorkloadYAML(t *testing.T, y, kind, name string) *diag.Diagnosis {
	t.Helper()
	objs, err := facts.DecodeObjects([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	set := facts.NewObjectSet(objs...)
	set.Complete, set.LogsComplete = true, true
	f, err := facts.BuildFacts(set, diag.Target{Kind: kind, Namespace: "shop", Name: name}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return diag.Diagnose(&f)
}

// TestOlderCauseOnlyBehindGenericEvents: an old explaining event counts
// only while the pod is still being created and nothing but generic
// retries followed it.
func TestOlderCauseOnlyBehindGenericEvents(t *testing.T) {
	creating := "    state: {waiting: {reason: ContainerCreating}}\n    restartCount: 1\n    lastState: {terminated: {exitCode: 255, reason: Unknown, finishedAt: \"2026-11-20T07:50:00Z\"}}\n"
	sandbox := "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create network namespace for sandbox \"e4\": failed to start noop process for unshare: fork/exec /proc/self/exe: no space left on device"
	tests := []struct {
		name, status, events string
		want                 bool
	}{
		{"old cause, then only SandboxChanged", creating,
			event("FailedCreatePodSandBox", "Warning", sandbox, "", "2026-11-20T07:55:00Z", 25) +
				event("SandboxChanged", "Normal", "Pod sandbox changed, it will be killed and re-created.", "", "2026-11-20T09:59:00Z", 40), true},
		{"old cause, then another failure", creating,
			event("FailedCreatePodSandBox", "Warning", sandbox, "", "2026-11-20T07:55:00Z", 25) +
				event("FailedMount", "Warning", "MountVolume.SetUp failed for volume \"data\" : rpc error: code = DeadlineExceeded desc = context deadline exceeded", "", "2026-11-20T09:59:00Z", 3), false},
		{"old cause, pod running again", "    state: {running: {startedAt: \"2026-11-20T08:30:00Z\"}}\n    ready: true\n    restartCount: 1\n",
			event("FailedCreatePodSandBox", "Warning", sandbox, "", "2026-11-20T07:55:00Z", 25) +
				event("Started", "Normal", "Started container app", "spec.containers{app}", "2026-11-20T08:30:00Z", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := diagnoseYAML(t, podYAML(tt.status)+tt.events, nil)
			if d.Has("sandbox.disk") != tt.want {
				t.Fatalf("sandbox.disk found %v, want %v; findings %v", d.Has("sandbox.disk"), tt.want, ruleIDs(d))
			}
			if tt.want && !strings.Contains(strings.Join(d.Findings[0].Evidence, "\n"), "is older: last seen 125m ago") {
				t.Errorf("the finding does not say how old the cause is: %v", d.Findings[0].Evidence)
			}
		})
	}
}

// TestHealthyPodWithRecentWarningsIsOK: warnings a Running, Ready pod got
// past are history, not `none`; the same warnings on a pod that is not
// ready still count.
func TestHealthyPodWithRecentWarningsIsOK(t *testing.T) {
	warn := event("FailedScheduling", "Warning", "0/3 nodes are available: 3 Insufficient cpu.", "", "2026-11-20T09:30:00Z", 4)
	ready := "    state: {running: {startedAt: \"2026-11-20T09:35:00Z\"}}\n    ready: true\n  conditions:\n  - {type: Ready, status: \"True\"}\n"
	y := strings.Replace(podYAML(ready), "phase: Pending", "phase: Running", 1) + warn
	d := diagnoseYAML(t, y, nil)
	if d.RootCause.Rule != "ok" {
		t.Fatalf("root cause %s, want ok; findings %v", d.RootCause.Rule, ruleIDs(d))
	}
	if !strings.Contains(strings.Join(d.Findings[0].Evidence, "\n"), "history (resolved") {
		t.Errorf("the ok finding does not show the history: %v", d.Findings[0].Evidence)
	}
	notReady := "    state: {running: {startedAt: \"2026-11-20T09:35:00Z\"}}\n    ready: false\n  conditions:\n  - {type: Ready, status: \"False\"}\n"
	y = strings.Replace(podYAML(notReady), "phase: Pending", "phase: Running", 1) + warn
	if d := diagnoseYAML(t, y, nil); d.RootCause.Rule == "ok" {
		t.Errorf("a pod that is not ready is ok; findings %v", ruleIDs(d))
	}
}
